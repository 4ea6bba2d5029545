"""The fake provider server itself, driven by the real SDK clients.

Its chat endpoints serve the LLM backends; these tests pin down that the real
ChatOpenAI and ChatOllama accept what it sends, streaming and not.
"""

from __future__ import annotations

import openai
import pytest
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI

from tests.fake_providers import fake_vector


def test_openai_chat_replies_in_order_and_streams(fake_provider):
    fake_provider.chat_replies.extend(["Twenty days of leave.", "Ask HR for the form."])
    chat = ChatOpenAI(model="gpt-test", base_url=fake_provider.openai_url, api_key="sk-test", max_retries=0)

    assert chat.invoke("How much leave?").content == "Twenty days of leave."
    pieces = [chunk.content for chunk in chat.stream("How do I apply?")]
    assert "".join(pieces) == "Ask HR for the form."
    assert len([p for p in pieces if p]) > 1  # really streamed, word by word
    assert chat.invoke("Again?").content == fake_provider.chat_reply  # script used up

    bodies = [r.json for r in fake_provider.requests_to("/v1/chat/completions")]
    assert bodies[0]["messages"] == [{"role": "user", "content": "How much leave?"}]
    assert bodies[1]["stream"] is True


def test_ollama_chat_streams_ndjson(fake_provider):
    fake_provider.chat_replies.extend(["Twenty days.", "Ask HR."])
    chat = ChatOllama(model="llama-test", base_url=fake_provider.url)

    assert chat.invoke("How much leave?").content == "Twenty days."
    assert "".join(chunk.content for chunk in chat.stream("How?")) == "Ask HR."
    assert fake_provider.requests_to("/api/chat")[0].json["messages"][0]["content"] == "How much leave?"


def test_openai_embeddings_accept_token_arrays(fake_provider):
    # What OpenAIEmbeddings sends when it tokenizes with tiktoken (check_embedding_ctx_length).
    client = openai.OpenAI(base_url=fake_provider.openai_url, api_key="sk-test", max_retries=0)
    reply = client.embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3], [4]], dimensions=8)
    assert [d.embedding for d in reply.data] == [fake_vector("tokens:1,2,3", 8), fake_vector("tokens:4", 8)]


def test_faults_apply_to_the_next_matching_requests_only(fake_provider):
    fake_provider.fail("status", status=503, times=2, path="/v1/embeddings")
    client = openai.OpenAI(base_url=fake_provider.openai_url, api_key="sk-test", max_retries=0)
    chat = ChatOpenAI(model="gpt-test", base_url=fake_provider.openai_url, api_key="sk-test", max_retries=0)
    assert chat.invoke("hi").content  # another path: not affected
    for _ in range(2):
        with pytest.raises(openai.APIStatusError) as info:
            client.embeddings.create(model="m", input=["x"])
        assert info.value.status_code == 503
    assert client.embeddings.create(model="m", input=["x"]).data
