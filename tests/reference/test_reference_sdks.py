"""The official clients work against the reference deployment (the interop the suite promises)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.ai.inference import ChatCompletionsClient, EmbeddingsClient, ImageEmbeddingsClient
from azure.ai.inference.models import ImageEmbeddingInput, SystemMessage, UserMessage
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError
from openai import AzureOpenAI, BadRequestError

from conformance.reference import ReferenceServer, running_reference

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


@pytest.fixture(scope="module")
def ref() -> Iterator[ReferenceServer]:
    with running_reference() as server:
        yield server


@pytest.fixture(scope="module")
def inference_kwargs(ref: ReferenceServer) -> dict:
    return {"endpoint": ref.endpoint("model-inference"), "credential": AzureKeyCredential(ref.api_key)}


def test_azure_ai_inference_chat(inference_kwargs):
    with ChatCompletionsClient(**inference_kwargs) as client:
        messages = [SystemMessage("You are terse."), UserMessage("name the largest planet")]
        result = client.complete(messages=messages, max_tokens=50)
        text = result.choices[0].message.content
        assert (
            "planet" in text
            and result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens
        )
        updates = list(client.complete(messages=messages, max_tokens=50, stream=True))
        streamed = "".join(u.choices[0].delta.content or "" for u in updates if u.choices)
        assert streamed == text
        assert updates[-1].choices[0].finish_reason == "stop"
        info = client.get_model_info()
        assert info.model_name == "reference-chat" and info.model_type == "chat-completion"


def test_azure_ai_inference_errors(ref, inference_kwargs):
    with ChatCompletionsClient(
        endpoint=inference_kwargs["endpoint"], credential=AzureKeyCredential("wrong")
    ) as c:
        with pytest.raises(HttpResponseError) as caught:
            c.complete(messages=[UserMessage("hi")])
        assert caught.value.status_code == 401 and caught.value.error.code == "Unauthorized"
    with ChatCompletionsClient(**inference_kwargs) as client:
        with pytest.raises(HttpResponseError) as caught:
            client.complete(messages=[UserMessage(ref.settings.content_filter_trigger)])
        assert caught.value.status_code == 400 and caught.value.error.code == "content_filter"
        # model_extras are sent with `extra-parameters: pass-through`
        result = client.complete(messages=[UserMessage("hi")], model_extras={"safe_prompt": True})
        assert result.choices[0].finish_reason == "stop"


def test_azure_ai_inference_embeddings(inference_kwargs):
    with EmbeddingsClient(**inference_kwargs) as client:
        result = client.embed(input=["first", "second text"], dimensions=64)
        assert [len(d.embedding) for d in result.data] == [64, 64]
        assert result.usage.prompt_tokens == 3
    with ImageEmbeddingsClient(**inference_kwargs) as client:
        result = client.embed(
            input=[ImageEmbeddingInput(image=f"data:image/png;base64,{PNG_B64}", text="dot")]
        )
        assert len(result.data) == 1 and len(result.data[0].embedding) == 256


@pytest.fixture(scope="module")
def openai_client(ref: ReferenceServer) -> Iterator[AzureOpenAI]:
    client = AzureOpenAI(
        azure_endpoint=ref.base_url,
        api_key=ref.api_key,
        api_version="2024-04-01-preview",
        max_retries=0,
        timeout=10,
    )
    yield client
    client.close()


def test_openai_chat(openai_client):
    messages = [{"role": "user", "content": "describe the sea"}]
    result = openai_client.chat.completions.create(model="reference-chat", messages=messages)
    text = result.choices[0].message.content
    assert "sea" in text and result.choices[0].finish_reason == "stop"
    stream = openai_client.chat.completions.create(model="reference-chat", messages=messages, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == text


def test_openai_tools(openai_client):
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
    }
    result = openai_client.chat.completions.create(
        model="reference-chat", messages=[{"role": "user", "content": "please lookup this"}], tools=[tool]
    )
    call = result.choices[0].message.tool_calls[0]
    assert call.function.name == "lookup" and call.function.arguments == '{"q":"value"}'


def test_openai_completions_and_embeddings(openai_client):
    result = openai_client.completions.create(
        model="reference-instruct", prompt="once upon a time", max_tokens=5
    )
    assert result.choices[0].finish_reason == "length" and result.usage.completion_tokens == 5
    emb = openai_client.embeddings.create(model="reference-embed", input=["a", "b c"])
    assert [d.index for d in emb.data] == [0, 1] and len(emb.data[0].embedding) == 256
    with pytest.raises(BadRequestError) as caught:
        openai_client.chat.completions.create(model="reference-chat", messages=[])
    assert caught.value.status_code == 400
