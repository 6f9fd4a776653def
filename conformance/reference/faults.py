"""The single table of deviations the reference deployment can be started with.

Each fault is one named switch, checked where it applies (`ctx.faulted("name")`), and names the
rule ids expected to catch it: the suite proves every rule by running against the reference with
the rule's faults on (it must fail) and off (it must pass). `conformance serve --fault NAME`
validates names against this table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

EXPECT_LEVELS = ("violation", "warning")


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    #: Rule ids expected to catch this fault.
    rules: tuple[str, ...]
    #: Which API shows it: "model-inference", "azure-openai" or "any".
    api: str = "any"
    #: The level at which its rules must fire: "violation", or "warning" when the deviation is only
    #: distinguishable from conformant behaviour as a warning (then a warning or a violation kills it).
    expect: str = "violation"

    def __post_init__(self) -> None:
        if self.expect not in EXPECT_LEVELS:
            raise ValueError(f"fault {self.name}: expect must be one of {EXPECT_LEVELS}, got {self.expect!r}")


_MI = "model-inference"
_AOAI = "azure-openai"

_TABLE: tuple[Fault, ...] = (
    # schema / content types
    Fault("chat-missing-id", "200 chat completions body has no `id`", ("SCHEMA-RESPONSE",)),
    Fault("chat-finish-reason-int", "finish_reason is the integer 1", ("SCHEMA-RESPONSE",)),
    Fault("embeddings-missing-usage", "embeddings body has no `usage`", ("SCHEMA-RESPONSE",)),
    Fault("info-missing-model-name", "/info body has no `model_name`", ("SCHEMA-RESPONSE", "CLIENT-FIELDS"), _MI),
    Fault("truncated-body", "/info declares a longer Content-Length than it sends, then closes", ("TRANSPORT-ANSWER",), _MI),
    Fault("image-embeddings-not-served",
          "/images/embeddings is not served (404 Not Found), like servers without image embeddings",
          ("OPERATION-SERVED",), _MI),
    Fault("aoai-filter-severity-invalid",
          "content_filter_results severity is the number 3 (an open string enum: any string would be valid)",
          ("SCHEMA-RESPONSE",), _AOAI),
    Fault("body-invalid-json", "200 chat answers labelled application/json are cut mid-document", ("BODY-JSON",)),
    Fault("json-content-type-text", "200 JSON bodies sent as text/plain", ("CONTENT-TYPE-JSON",)),
    Fault("stream-content-type-json", "SSE streams sent as application/json", ("STREAM-CONTENT-TYPE",)),
    # streaming
    Fault("stream-no-done", "stream ends without `data: [DONE]`", ("STREAM-DONE",)),
    Fault("stream-data-after-done", "a chunk is sent after `data: [DONE]`", ("STREAM-DONE",)),
    Fault("stream-invalid-json-chunk", "one data event is not JSON", ("STREAM-FRAMING",)),
    Fault("stream-single-newline", "events separated by one newline, so data lines merge", ("STREAM-FRAMING",)),
    Fault("stream-chunk-missing-choices", "a content chunk has no `choices`", ("STREAM-CHUNK-SCHEMA",)),
    Fault(
        "stream-object-chunk",
        'chunks say object "chat.completion.chunk" (the real-service habit; an erratum in profile azure)',
        ("STREAM-CHUNK-SCHEMA",),
        _MI,
    ),
    Fault("stream-id-changes", "chunk `id` changes during the stream", ("STREAM-SAME-ID",)),
    Fault("stream-role-user", 'first delta has role "user"', ("STREAM-FIRST-ROLE",)),
    Fault("stream-finish-reason-twice", "two chunks carry a non-null finish_reason", ("STREAM-FINISH-REASON",)),
    Fault("stream-no-finish-reason", "no chunk carries a finish_reason", ("STREAM-FINISH-REASON", "CLIENT-STREAM")),
    Fault("stream-usage-mismatch", "final chunk usage does not add up", ("STREAM-USAGE-SUM",)),
    Fault("stream-content-number", "the first non-empty delta content is the number 42", ("STREAM-CONTENT-STRING",)),
    # Comment lines are valid SSE and the openai client skips them; only azure-ai-inference's reader
    # rejects them, so the deviation exists for Model Inference clients only.
    Fault("stream-sse-comments", '": keep-alive" comments and `event: message` lines',
          ("STREAM-SDK-INTEROP", "CLIENT-CALL"), api="model-inference"),
    Fault("stream-tool-name-repeated", "every tool-call delta repeats the function name (the arguments come in two pieces)",
          ("CHAT-TOOL-NAME", "CLIENT-STREAM")),
    Fault("stream-finish-no-delta", "the chunk that carries finish_reason has no `delta`",
          ("STREAM-CHUNK-SCHEMA", "CLIENT-CALL")),
    Fault("stream-endless", "the stream never ends (chunks keep coming)", ("STREAM-COMPLETE",)),
    Fault("stream-differs", "streamed content differs from the non-streamed answer", ("STREAM-CONSISTENCY",)),
    # errors
    Fault("error-shape-detail", 'errors as FastAPI `{"detail": "..."}` (erratum in azure)', ("ERROR-SHAPE",)),
    Fault("error-shape-bare", 'errors as `{"message": "..."}` only', ("ERROR-SHAPE",)),
    Fault("error-code-int", "error.code is an integer", ("ERROR-SHAPE",)),
    Fault("error-text-plain", "error bodies sent as text/plain", ("ERROR-CONTENT-TYPE",)),
    Fault("error-header-mismatch", "x-ms-error-code differs from error.code", ("ERROR-HEADER-CODE",), _MI),
    Fault("invalid-request-500", "schema-invalid requests get 500", ("NO-SERVER-ERROR", "NEGATIVE-REJECTED")),
    Fault("accept-invalid", "schema-invalid requests get 200", ("NEGATIVE-REJECTED",)),
    Fault("reject-valid", "valid requests with temperature > 0.5, top_p or a non-zero penalty get 400",
          ("POSITIVE-ACCEPTED",)),
    Fault("not-found-plain", "unknown routes get a text/plain 404", ("ROUTE-NOT-FOUND",)),
    Fault("wrong-method-404", "a wrong method gets 404 instead of 405", ("METHOD-NOT-ALLOWED",)),
    Fault("rate-limit-no-retry-after", "every 5th request gets 429 without Retry-After", ("RETRY-AFTER",)),
    # auth
    Fault("auth-none", "requests without a credential are accepted", ("AUTH-MISSING",)),
    Fault("auth-any-key", "any key is accepted", ("AUTH-WRONG",)),
    # 403 for a missing credential is accepted as a warning (AUTH-MISSING: 401 expected, 403 tolerated).
    Fault("auth-403", "a missing credential gets 403 instead of 401", ("AUTH-MISSING",), expect="warning"),
    Fault("auth-no-bearer", "Authorization: Bearer is rejected", ("AUTH-SCHEMES",)),
    Fault("echo-credential", "the presented key appears in a header, error messages and `model`", ("AUTH-NO-ECHO",)),
    # api-version
    Fault("api-version-optional", "a missing api-version is accepted", ("APIVERSION-MISSING",)),
    Fault("api-version-any", "an unknown api-version is accepted", ("APIVERSION-UNKNOWN",)),
    Fault(
        "api-version-404",
        'a missing api-version gets 404 {"error":{"code":"404","message":"Resource not found"}} (AOAI habit)',
        ("APIVERSION-MISSING",),
    ),
    Fault("api-version-reject-old", "2024-05-01-preview is rejected although claimed", ("APIVERSION-SUPPORTED",), _MI),
    # extra-parameters
    Fault("extra-params-ignored", "error mode accepts unknown parameters", ("EXTRA-PARAMS-ERROR",), _MI),
    Fault("extra-params-drop-fails", "drop mode answers 400", ("EXTRA-PARAMS-DROP",), _MI),
    Fault(
        "extra-params-pass-through-silent",
        "pass-through accepts any unknown parameter silently",
        ("EXTRA-PARAMS-PASS-THROUGH",),
        _MI,
    ),
    Fault("extra-params-invalid-accepted", "an invalid extra-parameters value is accepted", ("EXTRA-PARAMS-INVALID",), _MI),
    # 422 (the Model Inference contract; Azure OpenAI refuses with any 4xx error)
    Fault("unsupported-200", "unsupported capabilities are ignored (200)", ("UNSUPPORTED-422",), _MI),
    Fault("unsupported-400", "unsupported capabilities get 400 instead of 422", ("UNSUPPORTED-422",), _MI),
    Fault("unsupported-wrong-code", '422 with code "invalid_input" and no parameter named', ("UNSUPPORTED-422",),
          _MI),
    Fault("supported-422", "tools get 422 although claimed", ("SUPPORTED-NOT-422",)),
    # content filter
    Fault("content-filter-500", "the content filter trigger gets 500", ("CONTENT-FILTER",)),
    Fault("content-filter-silent", "the content filter trigger gets a normal 200", ("CONTENT-FILTER",)),
    Fault("content-filter-wrong-code", 'the content filter answers 400 code "bad_request"', ("CONTENT-FILTER",)),
    # chat semantics
    Fault("usage-sum-wrong", "usage.total_tokens != prompt + completion", ("CHAT-USAGE-SUM",)),
    Fault("max-tokens-ignored", "answers longer than max_tokens", ("CHAT-MAX-TOKENS",)),
    # A cut answer saying "stop" cannot be told from a natural stop at the limit: a warning
    # (docs/behaviours.md #6).
    Fault("length-not-reported", 'cut answers say finish_reason "stop"', ("CHAT-MAX-TOKENS",), expect="warning"),
    Fault("stop-sequence-included", "content contains the stop sequence", ("CHAT-STOP",)),
    Fault("created-milliseconds", "`created` in milliseconds", ("CHAT-CREATED", "CLIENT-FIELDS")),
    Fault("choices-index-gap", "the only choice has index 1", ("CHAT-CHOICES-INDEX",)),
    Fault("tool-choice-ignored", 'tool_choice "required"/named answered with plain text', ("CHAT-TOOL-CALLS",)),
    Fault("tool-call-unknown-function", "tool calls name a function that was not offered", ("CHAT-TOOL-NAME",)),
    Fault("tool-args-invalid-json", "function.arguments is not JSON", ("CHAT-TOOL-ARGS-JSON",)),
    Fault("tool-choice-none-ignored", 'tool_choice "none" still calls a tool', ("CHAT-TOOL-NONE",)),
    Fault("tool-followup-rejected", "a turn with a tool message gets 400", ("CHAT-TOOL-FOLLOWUP",)),
    Fault("json-mode-invalid", "json_object answers are not JSON", ("CHAT-JSON-MODE",)),
    Fault("json-schema-ignored", "json_schema answers do not match the schema", ("CHAT-JSON-SCHEMA",), _MI),
    # request parameters (Azure OpenAI: the spec with n, logprobs, echo, best_of, ...)
    Fault("n-ignored", "`n` is ignored: one choice per prompt", ("CHAT-CHOICES-INDEX",), _AOAI),
    Fault("best-of-returns-all", "completions return all best_of candidates instead of n", ("CHAT-CHOICES-INDEX",),
          _AOAI),
    Fault("logprobs-dropped", "logprobs requested, `logprobs: null` answered", ("CHAT-LOGPROBS", "COMPLETIONS-LOGPROBS"),
          _AOAI),
    Fault("echo-ignored", "completions with echo do not repeat the prompt", ("COMPLETIONS-ECHO",), _AOAI),
    Fault("parallel-tool-calls-ignored", "two tool calls although parallel_tool_calls is false",
          ("CHAT-PARALLEL-TOOLS",), _AOAI),
    Fault("stream-usage-dropped", "streams never carry usage, even with stream_options.include_usage",
          ("STREAM-INCLUDE-USAGE",), _AOAI),
    Fault("completions-stream-text-number", "the first text piece of a completions stream is the number 42",
          ("STREAM-CONTENT-STRING",), _AOAI),
    Fault("param-refused", 'a valid request with `user` gets 400 "The request could not be processed."',
          ("PARAM-ACCEPTED",), _AOAI),
    # deployment routes
    Fault("deployment-any", "an unknown deployment is served like an existing one", ("DEPLOYMENT-UNKNOWN",), _AOAI),
    Fault("deployment-kind-500", "a request to a deployment of another kind gets 500", ("DEPLOYMENT-WRONG-KIND",),
          _AOAI),
    Fault("long-input-500", "an over-long embeddings input gets 500", ("INPUT-TOO-LONG",), _AOAI),
    # Azure OpenAI content filter annotations
    Fault("filter-annotation-malformed", 'choices annotate ungrounded_material with detected: "no" (not a boolean)',
          ("AOAI-FILTER-ANNOTATIONS",), _AOAI),
    Fault("content-filter-inner-unfiltered", "the content_filter error's inner results say nothing was filtered",
          ("AOAI-CONTENT-FILTER-INNER",), _AOAI),
    # embeddings
    Fault("emb-count-short", "one item fewer than inputs", ("EMB-COUNT",)),
    Fault("emb-index-duplicate", "two items share an index", ("EMB-INDEX",)),
    Fault("emb-dimensions-ignored", "`dimensions` is ignored", ("EMB-DIMENSIONS",)),
    Fault("emb-ragged", "vectors of different lengths", ("EMB-VECTOR-LENGTH",)),
    Fault("emb-base64-float64", "base64 of float64 bytes", ("EMB-BASE64",)),
    Fault("emb-base64-mismatch", "the base64 vector differs from the float one", ("EMB-BASE64-AGREES",)),
    Fault("emb-usage-wrong", "total_tokens < prompt_tokens", ("EMB-USAGE",)),
    Fault("emb-infinite", "a vector value written as 1e999", ("EMB-FINITE",)),
)

FAULTS: dict[str, Fault] = {f.name: f for f in _TABLE}


def check_names(kind: str, names: Iterable[str], table: Mapping[str, object]) -> frozenset[str]:
    """Validate names against a table (faults, personas); raises ValueError naming the unknown ones."""
    chosen = frozenset(names)
    unknown = sorted(chosen - table.keys())
    if unknown:
        raise ValueError(f"unknown {kind}(s): {', '.join(unknown)}; known: {', '.join(sorted(table))}")
    return chosen


def check_fault_names(names: Iterable[str]) -> frozenset[str]:
    """Validate fault names against the table; raises ValueError naming the unknown ones."""
    return check_names("fault", names, FAULTS)


def faults_for_rule(rule_id: str) -> list[Fault]:
    """The faults a rule is expected to catch (for the rule self-test matrix)."""
    return [f for f in FAULTS.values() if rule_id in f.rules]
