"""The per-test judge against a real local server: what the suite spoiled is a suite note, never a finding."""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from conformance.config import Limits, TargetConfig
from conformance.results.collect import ResultCollector
from conformance.runner.session import DroppedCase, Outgoing, SuiteSession, TestJudge
from conformance.spec import load_spec
from conformance.transport.budget import RequestBudget
from conformance.transport.client import TargetClient
from tests.servers import RawRequest, json_response, reset, serve_raw

ANSWER = {"id": "c", "object": "chat.completion", "created": 1735689600, "model": "m",
          "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
MESSAGES = [{"role": "user", "content": "hi"}]


def _slow_unless_bounded(sock: socket.socket, req: RawRequest) -> None:
    """A model that writes until its context is full when nothing bounds the answer."""
    if "max_tokens" in (req.json() or {}):
        json_response(sock, 200, ANSWER)
    else:
        req.stopping.wait(3)


@contextmanager
def _judge(handler, api: str = "model-inference", *, max_in_flight: int = 4, budget: int = 50) -> Iterator[TestJudge]:
    with serve_raw(handler) as server:
        config = TargetConfig(endpoint=server.url + "/models", api=api, api_key="k-" + secrets.token_hex(8),
                              limits=Limits(connect_timeout=1, read_timeout=0.5, total_timeout=1, max_retries=0,
                                            max_in_flight=max_in_flight))
        spec = load_spec(api)
        budget = RequestBudget(budget)
        with TargetClient(config, budget=budget) as client:
            session = SuiteSession(config=config, spec=spec, client=client, budget=budget, collector=ResultCollector())
            yield TestJudge(session, "tests/x.py::t", "getChatCompletions" if api == "model-inference"
                            else "ChatCompletions_Create")


def test_a_timeout_on_a_request_left_without_token_limit_is_a_suite_note() -> None:
    with _judge(_slow_unless_bounded) as judge:
        with pytest.raises(DroppedCase, match="no token limit"):
            judge.send("POST", "/chat/completions", json={"messages": MESSAGES}, purpose="negative: x", droppable=True)
        assert judge.findings == [] and judge.exchanges == []
        [note] = judge.session.collector.notes
        assert note.startswith("getChatCompletions: read timeout") and "negative: x" in note
        ok = judge.send("POST", "/chat/completions", json={"messages": MESSAGES, "max_tokens": 4})
        assert ok.response.status == 200 and judge.session.transport_failures == 0


def test_a_timeout_on_a_bounded_request_is_the_targets() -> None:
    def stall(sock: socket.socket, req: RawRequest) -> None:
        req.stopping.wait(3)

    with _judge(stall) as judge:
        judge.send("POST", "/chat/completions", json={"messages": MESSAGES, "max_tokens": 4})
        assert [f.rule_id for f in judge.findings] == ["TRANSPORT-ANSWER"]
        assert judge.session.collector.notes == []


def test_a_reset_is_the_targets_even_without_a_token_limit() -> None:
    with _judge(lambda sock, req: reset(sock)) as judge:
        judge.send("POST", "/chat/completions", json={"messages": MESSAGES}, droppable=True)
        assert [f.rule_id for f in judge.findings] == ["TRANSPORT-ANSWER"] and judge.session.collector.notes == []


def test_a_request_the_suite_cannot_send_is_dropped_or_skips_the_test() -> None:
    with _judge(_slow_unless_bounded) as judge:
        body = {"messages": MESSAGES, "max_tokens": 4}
        with pytest.raises(DroppedCase, match="refused to send"):
            judge.send("POST", "/chat/completions", json=body, headers={"transfer-encoding": "]?5E"}, droppable=True)
        judge.plan("NEGATIVE-REJECTED")
        with pytest.raises(pytest.skip.Exception, match="not judged"):
            judge.send("POST", "/chat/completions", json=body, headers={"x-bad": " lead"})
        assert judge.findings == [] and len(judge.session.collector.notes) == 2
        assert judge.session.collector.not_judged[("NEGATIVE-REJECTED", "getChatCompletions")].startswith("not judged")
        assert judge.session.transport_failures == 0  # never counted against the target


def test_a_rule_of_the_other_api_is_never_judged() -> None:
    from conformance.rules.behaviour import unsupported_422

    with _judge(_slow_unless_bounded, api="azure-openai") as judge:
        ex = judge.send("POST", "/deployments/d/chat/completions", json={"messages": MESSAGES, "max_tokens": 4})
        assert judge.judge("UNSUPPORTED-422", unsupported_422(ex, param="encoding_format")) == []
        collector = judge.session.collector
        assert ("UNSUPPORTED-422", "ChatCompletions_Create") in collector.not_applicable
        assert ("UNSUPPORTED-422", "ChatCompletions_Create") not in collector.evaluated


def _batch(n: int) -> list[Outgoing]:
    return [Outgoing.of("POST", "/chat/completions", json={"messages": MESSAGES, "max_tokens": 4}, purpose=f"case {i}")
            for i in range(n)]


def test_independent_requests_are_in_flight_together_and_judged_in_order() -> None:
    arrived = threading.Barrier(4)

    def answer_when_four_wait(sock: socket.socket, req: RawRequest) -> None:
        arrived.wait(timeout=10)  # passes only when four requests are on their way at once
        json_response(sock, 200, dict(ANSWER, id=req.json()["messages"][0]["content"]))

    with _judge(answer_when_four_wait) as judge:
        batch = _batch(8)
        for i, out in enumerate(batch):
            out.kwargs["json"] = {"messages": [{"role": "user", "content": f"c{i}"}], "max_tokens": 4}
        with judge.sending([(out, i) for i, out in enumerate(batch)]) as answers:
            got = [(i, ex.response.json["id"]) for i, ex in answers]
        assert got == [(i, f"c{i}") for i in range(8)]
        assert [ex.purpose for ex in judge.exchanges] == [f"case {i}" for i in range(8)]
        assert judge.findings == [] and judge.session.client.stats.requests == 8


def test_a_breaker_tripped_by_one_answer_holds_every_request_not_yet_sent() -> None:
    with _judge(lambda sock, req: reset(sock), max_in_flight=4) as judge:
        judge.plan("POSITIVE-ACCEPTED")
        with (pytest.raises(pytest.skip.Exception, match="not sent: getChatCompletions gave no usable answer"),
              judge.sending([(out, None) for out in _batch(12)]) as answers):
            list(answers)
        # Three failures trip the operation's breaker; of the requests handed to a sender before that, at
        # most three (max_in_flight - 1) were on their way, and those are judged all the same.
        sent = judge.session.client.stats.requests
        assert 3 <= sent <= 3 + (4 - 1)
        assert [f.rule_id for f in judge.findings] == ["TRANSPORT-ANSWER"] * sent


def test_the_budget_is_never_exceeded_by_requests_in_flight() -> None:
    with _judge(lambda sock, req: json_response(sock, 200, ANSWER), budget=5) as judge:
        judge.plan("POSITIVE-ACCEPTED")
        with (pytest.raises(pytest.skip.Exception, match="budget exhausted"),
              judge.sending([(out, None) for out in _batch(9)]) as answers):
            list(answers)
        # Sending threads take the budget in the order they run: when the last unit went to a later
        # request, the batch stops at the earlier one and the later answer is not judged.
        assert judge.session.budget.used == 5 and judge.session.client.stats.requests == 5
        assert 5 - (4 - 1) <= len(judge.exchanges) <= 5


def test_one_in_flight_sends_one_after_another_from_the_tests_thread() -> None:
    senders: list[list[str]] = []

    def record(sock: socket.socket, req: RawRequest) -> None:
        senders.append([t.name for t in threading.enumerate() if t.name.startswith("conformance-send")])
        json_response(sock, 200, ANSWER)

    with _judge(record, max_in_flight=1) as judge:
        with judge.sending([(out, None) for out in _batch(3)]) as answers:
            assert len(list(answers)) == 3
        assert senders == [[], [], []] and judge.session.client.in_flight is None
