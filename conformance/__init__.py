"""Conformance test suite for the Azure AI Model Inference and Azure OpenAI inference REST APIs.

Data flows one way: spec -> operations -> requests -> exchanges -> rules -> results -> report.
"""

__version__ = "0.1.0"
