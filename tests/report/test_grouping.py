"""Findings grouped for reading: the grouping key, the example chosen, the failing-rules rows."""

from __future__ import annotations

from conformance.report.grouping import failing_rules, group_findings, message_shape, path_shape
from conformance.results import RuleResult


def _finding(message: str, ex: str | None, path: str = "$.usage.total_tokens", level: str = "violation") -> dict:
    return {"rule": "CHAT-USAGE-SUM", "level": level, "message": message, "path": path, "exchange": ex}


def _exchange(purpose: str, body: str) -> dict:
    return {
        "purpose": purpose,
        "request": {"method": "POST", "url": "https://h/models/chat/completions", "body": body},
        "response": {"status": 200, "body": '{"usage": {}}'},
    }


def test_message_shape_ignores_numbers_and_quoted_strings_but_keeps_field_names() -> None:
    a = message_shape("usage.total_tokens is 25 but prompt_tokens + completion_tokens = 15 + 3 = 18")
    b = message_shape("usage.total_tokens is 7 but prompt_tokens + completion_tokens = 1.5e3 + 0 = -2")
    assert a == b and "usage.total_tokens" in a
    assert message_shape("'exploded' is not one of ['stop']") == message_shape("'x' is not one of ['length']")
    assert message_shape("`id` is missing") != message_shape("`model` is missing")


def test_path_shape_generalises_array_indices() -> None:
    assert path_shape("$.data[3].embedding[17]") == "$.data[*].embedding[*]" == path_shape("$.data[0].embedding[1]")
    assert path_shape("stream:event[2]") == "stream:event[*]"


def test_identical_findings_group_and_the_example_is_the_smallest_hand_written_one() -> None:
    exchanges = {
        "g1": _exchange("positive (generated)", '{"messages": [{"role": "user", "content": "x"}]}'),
        "h-big": _exchange("semantics: stop sequence", '{"messages": [{"role": "user", "content": "' + "y" * 400 + '"}]}'),
        "h-small": _exchange("semantics: max_tokens 3", '{"messages": [{"role": "user", "content": "hi"}]}'),
    }
    findings = [
        _finding("total is 25 but 15 + 3 = 18", "g1"),
        _finding("total is 9 but 1 + 3 = 4", "h-big"),
        _finding("total is 5 but 1 + 1 = 2", "h-small"),
        _finding("`usage` is missing", "h-small", path="$"),
    ]
    groups = group_findings(findings, exchanges)
    assert [g.count for g in groups] == [3, 1]
    assert groups[0].example["exchange"] == "h-small"  # hand-written beats generated, smaller beats bigger
    assert [f["exchange"] for f in groups[0].others] == ["g1", "h-big"]


def test_a_generated_request_is_the_example_only_when_nothing_hand_written_shows_the_fault() -> None:
    exchanges = {"g1": _exchange("negative (generated): x", "{}"), "g2": _exchange("positive (generated)", "{" * 10)}
    groups = group_findings([_finding("a 1", "g2"), _finding("a 2", "g1"), _finding("a 3", None)], exchanges)
    assert groups[0].example["exchange"] == "g1"


def test_failing_rules_lists_every_failing_rule_worst_first_with_its_operations() -> None:
    ex = {"x1": _exchange("info", "")}
    results = [
        RuleResult("ERROR-SHAPE", "getEmbeddings", "warning", "errors", "warning", findings=[_finding("m", "x1", level="warning")]),
        RuleResult("CHAT-USAGE-SUM", "getChatCompletions", "violation", "semantics", "violation",
                   findings=[_finding("a 1", "x1"), _finding("a 2", "x1"), {"level": "note", "message": "n"}]),
        RuleResult("CHAT-USAGE-SUM", "getCompletions", "violation", "semantics", "violation", findings=[_finding("a 3", "x1")]),
        RuleResult("SCHEMA-RESPONSE", "getChatCompletions", "violation", "schema", "violation", findings=[]),
        RuleResult("AUTH-WRONG", "getChatCompletions", "pass", "auth", "violation"),
        RuleResult("EXTRA-PARAMS-ERROR", "getChatCompletions", "waived", "extra-parameters", "violation"),
        RuleResult("X-NEW", "getChatCompletions", "brand-new-outcome", "other", ""),
    ]
    rows = failing_rules(results, ex, lambda r: r.family, ["schema", "errors", "semantics"])
    assert [r.rule_id for r in rows] == ["X-NEW", "SCHEMA-RESPONSE", "CHAT-USAGE-SUM", "ERROR-SHAPE"]
    usage = rows[2]
    assert usage.operations == ["getChatCompletions", "getCompletions"]
    assert usage.occurrences == 3  # notes never count
    assert usage.example is not None and usage.example["message"] == "a 1"
    assert rows[1].example is None and rows[1].occurrences == 0
