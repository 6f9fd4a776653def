"""The embedded reference deployment: a conformant server of the Azure AI Model Inference API
(under `/models`) and the Azure OpenAI inference API (under `/openai`), with named faults.

It is the suite's default target (a full run without any Azure endpoint) and the server every
rule is proven against: each rule passes on it, and the faults that name the rule make it fail.
"""

from conformance.reference.app import create_app
from conformance.reference.faults import FAULTS, Fault
from conformance.reference.server import ReferenceServer, reference_target, running_reference, serve
from conformance.reference.settings import ReferenceSettings, Unsupported

__all__ = [
    "FAULTS",
    "Fault",
    "ReferenceServer",
    "ReferenceSettings",
    "Unsupported",
    "create_app",
    "reference_target",
    "running_reference",
    "serve",
]
