"""Conformance test suite for the Azure AI Model Inference and Azure OpenAI inference REST APIs.

Data flows one way: spec -> operations -> requests -> exchanges -> rules -> results -> report.
"""

from pathlib import Path

__version__ = "0.1.0"

#: The vendored upstream specs live at the top of the repository (the suite is installed editable).
SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"
