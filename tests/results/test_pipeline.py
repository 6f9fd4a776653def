"""The one results pipeline: which rows a run's results hold, decided once from the collector."""

from __future__ import annotations

from conformance.results import Summary, Target
from conformance.results.collect import ResultCollector
from conformance.results.pipeline import conclude

OP = "getChatCompletions"


def _conclude(collector: ResultCollector, api: str = "model-inference") -> dict[tuple[str, str], str]:
    summary = Summary(verdict="incomplete", counts={}, target=Target("h", api, "v", "azure", "smoke"),
                      spec_file="", spec_sha256="", suite_version="0", started="", duration_s=0.0)
    return {(r.rule_id, r.operation_id): r.outcome for r in conclude(collector, summary).results}


def test_a_placeholder_row_of_no_operation_goes_when_the_rule_has_real_rows() -> None:
    c = ResultCollector()
    c.mark_evaluated("CHAT-MAX-TOKENS", OP, "t1")
    c.mark_not_applicable("CHAT-MAX-TOKENS", "(none)", "the spec has no operation of this kind")
    c.mark_not_applicable("CHAT-STOP", "(none)", "the spec has no operation of this kind")
    rows = _conclude(c)
    assert rows[("CHAT-MAX-TOKENS", OP)] == "pass"
    assert ("CHAT-MAX-TOKENS", "(none)") not in rows
    assert rows[("CHAT-STOP", "(none)")] == "not_applicable"  # its only row: kept, so every rule appears


def test_rules_of_the_other_api_leave_the_results() -> None:
    c = ResultCollector()
    c.mark_not_applicable("DEPLOYMENT-UNKNOWN", OP, "no deployments")  # an Azure OpenAI rule
    c.mark_evaluated("SCHEMA-RESPONSE", OP, "t1")
    rows = _conclude(c)
    assert ("DEPLOYMENT-UNKNOWN", OP) not in rows and rows[("SCHEMA-RESPONSE", OP)] == "pass"
    assert ("DEPLOYMENT-UNKNOWN", OP) in _conclude(c, api="azure-openai")


def test_a_run_level_test_is_judged_on_the_operations_it_called() -> None:
    c = ResultCollector()
    c.plan_test("test_official_client", "(run)", ["CLIENT-CALL"])
    c.ran.add("test_official_client")
    c.mark_evaluated("CLIENT-CALL", OP, "test_official_client")
    rows = _conclude(c)
    assert rows == {("CLIENT-CALL", OP): "pass"}
