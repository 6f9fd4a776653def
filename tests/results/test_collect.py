"""The collector: each finding points at the exchange it was judged on, and no other."""

from __future__ import annotations

from conformance.results.collect import ResultCollector
from conformance.rules._model import Finding
from conformance.transport.exchange import Exchange, RecordedRequest


def test_each_finding_points_at_its_own_exchange_even_when_ids_are_reused() -> None:
    """Exchanges are freed between tests and CPython reuses their id(): a finding judged on a later
    exchange must never be reported with an earlier one's request."""
    collector = ResultCollector()
    for i in range(200):
        exchange = Exchange(RecordedRequest("GET", f"https://h/models/info?n={i}"), operation_id="getModelInfo")
        collector.add_findings([Finding(f"finding {i}", rule_id="X-RULE", operation_id="getModelInfo", exchange=exchange)])
        del exchange
    for f in collector.findings:
        n = f["message"].split()[-1]
        assert collector.exchanges[f["exchange"]]["request"]["url"].endswith(f"?n={n}"), f


def test_one_exchange_judged_twice_is_recorded_once() -> None:
    collector = ResultCollector()
    exchange = Exchange(RecordedRequest("GET", "https://h/models/info"), operation_id="getModelInfo")
    collector.add_findings([Finding("a", rule_id="A", operation_id="op", exchange=exchange)])
    collector.add_findings([Finding("b", rule_id="B", operation_id="op", exchange=exchange)])
    assert len(collector.exchanges) == 1
    assert collector.findings[0]["exchange"] == collector.findings[1]["exchange"]
