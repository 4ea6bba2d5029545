"""The Ollama LLM with the real langchain-ollama client against tests/fake_providers.py."""

from __future__ import annotations

import asyncio

import pytest

from django_rag.checks import check_llms
from django_rag.exceptions import (
    LLMBadResponse,
    LLMError,
    LLMTimeout,
    LLMUnavailable,
    RAGImproperlyConfigured,
)
from django_rag.llms.ollama import LLM

from tests.providers_helpers import API_KEY, assert_no_secret

from .conftest import COMMON_FAULTS, MESSAGES, astream_pieces, generate_through, provider_failure

BACKEND = "django_rag.llms.ollama.LLM"
PROMPT_WORDS = 6 + 9


def make(fake, **options):
    return LLM(alias="default", base_url=fake.url, **options)


def test_generates_through_the_real_client(fake_provider):
    llm = make(fake_provider)
    completion, request = generate_through(llm, fake_provider, "Twenty days [1].")
    # Ollama's prompt_eval_count and eval_count, read from LangChain's usage_metadata.
    assert completion.usage == {"input_tokens": PROMPT_WORDS, "output_tokens": 3}
    assert completion.model == "llama3.2"
    assert request.path == "/api/chat"
    assert request.json["model"] == "llama3.2"
    assert [(m["role"], m["content"]) for m in request.json["messages"]] == [
        ("system", MESSAGES[0]["content"]),
        ("user", MESSAGES[1]["content"]),
    ]
    assert request.json["options"]["temperature"] == 0
    assert "authorization" not in request.headers
    assert llm.identity == "ollama:llama3.2"


def test_max_tokens_is_sent_as_num_predict_per_call_and_by_default(fake_provider):
    llm = make(fake_provider, max_tokens=200, keep_alive="10m")
    llm.generate(MESSAGES, max_tokens=20, temperature=0.4)
    llm.generate(MESSAGES)
    first, second = (r.json for r in fake_provider.requests)
    assert first["options"] == {"num_predict": 20, "temperature": 0.4}
    assert second["options"] == {"num_predict": 200, "temperature": 0}
    assert second["keep_alive"] == "10m"  # other options go to ChatOllama


def test_streams_word_by_word_with_usage_at_the_end(fake_provider):
    fake_provider.chat_replies.append("Twenty days [1].")
    llm = make(fake_provider)
    stream = llm.stream(MESSAGES)
    assert list(stream) == ["Twenty ", "days ", "[1]."]
    assert stream.completion.usage == {"input_tokens": PROMPT_WORDS, "output_tokens": 3}
    assert stream.completion.model == "llama3.2"
    assert llm.last_usage == stream.completion.usage


def test_async_twins_in_successive_event_loops(fake_provider):
    fake_provider.chat_replies.extend(["One.", "Two words.", "Three."])
    llm = make(fake_provider)

    async def collect():
        stream = llm.astream(MESSAGES)
        return [piece async for piece in stream], stream.completion.usage

    assert asyncio.run(llm.agenerate(MESSAGES)).text == "One."
    assert asyncio.run(collect()) == (["Two ", "words."], {"input_tokens": PROMPT_WORDS, "output_tokens": 2})
    assert asyncio.run(llm.agenerate(MESSAGES)).text == "Three."


def test_base_url_defaults_to_ollama_host_read_at_construction(fake_provider, monkeypatch):
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert LLM(alias="default").base_url == "http://127.0.0.1:11434"
    monkeypatch.setenv("OLLAMA_HOST", fake_provider.url)
    LLM(alias="default").generate(MESSAGES)
    assert fake_provider.requests[-1].path == "/api/chat"


def test_check_reports_options_the_client_rejects_without_sending_a_request(fake_provider):
    llm = make(fake_provider, num_ctx="large")
    [error] = llm.check()
    assert error.id == "django_rag.E015" and "num_ctx" in error.msg
    assert fake_provider.requests == []
    assert make(fake_provider).check() == []


def test_invalid_options_name_the_setting():
    with pytest.raises(RAGImproperlyConfigured, match=r'\["OPTIONS"\]\["client_kwargs"\]'):
        LLM(alias="default", client_kwargs=["timeout", 3])
    with pytest.raises(RAGImproperlyConfigured, match=r'\["OPTIONS"\]\["max_retries"\]'):
        LLM(alias="default", max_retries=-1)


@pytest.fixture(scope="module")
def quick_llm(shared_provider):
    """One LLM for the failure matrix: a failed request leaves nothing behind in it."""
    return make(shared_provider, timeout=0.3, api_key=API_KEY)


FAULTS = [
    *COMMON_FAULTS,
    pytest.param({"kind": "status", "status": 500}, LLMUnavailable, "HTTP 500: scripted HTTP 500", id="server-error"),
    pytest.param(
        {"kind": "status", "status": 404, "message": 'model "llama3.2" not found, try pulling it first'},
        LLMError,
        "Run `ollama pull llama3.2`",
        id="model-not-pulled",
    ),
]


@pytest.mark.parametrize(("fault", "exception", "message"), FAULTS)
def test_provider_failures_raise_the_documented_exception_quickly(
    fake_provider, quick_llm, fault, exception, message, streaming
):
    error = provider_failure(quick_llm, fake_provider, fault, exception, message, streaming=streaming)
    assert error.startswith(f"LLM 'default' (ollama llama3.2 at {fake_provider.url})")


def test_async_failures_raise_the_same_exceptions(fake_provider):
    llm = make(fake_provider, timeout=0.3)
    fake_provider.fail("hang", seconds=5)
    with pytest.raises(LLMTimeout):
        astream_pieces(llm)
    fake_provider.fail("status", status=502)
    with pytest.raises(LLMUnavailable, match="HTTP 502"):
        asyncio.run(llm.agenerate(MESSAGES))
    fake_provider.fail("malformed_stream")
    with pytest.raises(LLMBadResponse):
        astream_pieces(llm)


def test_connection_refused_says_where_it_tried(closed_port_url):
    with pytest.raises(LLMUnavailable) as info:
        LLM(alias="default", base_url=closed_port_url, timeout=1).generate(MESSAGES)
    assert closed_port_url in str(info.value) and "ollama serve" in str(info.value)


def test_retries_before_the_first_piece_only(fake_provider):
    # The Ollama client does not retry: this backend does, max_retries times.
    llm = make(fake_provider, max_retries=1)
    llm.retry_backoff = 0.01  # the default 0.5 s would only slow the test down

    fake_provider.fail("status", status=503)
    assert llm.generate(MESSAGES).text == fake_provider.chat_reply
    assert len(fake_provider.requests) == 2

    fake_provider.fail("close")
    assert "".join(llm.stream(MESSAGES)) == fake_provider.chat_reply
    assert len(fake_provider.requests) == 4

    fake_provider.fail("status", status=500)
    assert "".join(astream_pieces(llm)) == fake_provider.chat_reply
    assert len(fake_provider.requests) == 6

    # Once text has reached the reader, a retry would repeat it: the error is raised.
    fake_provider.fail("malformed_stream")
    with pytest.raises(LLMBadResponse):
        list(llm.stream(MESSAGES))
    assert len(fake_provider.requests) == 7

    fake_provider.fail("status", status=503, times=2)
    with pytest.raises(LLMUnavailable, match="gave up after 2 attempts"):
        llm.generate(MESSAGES)
    # A 4xx is not retried: asking again would get the same answer.
    fake_provider.fail("status", status=404)
    with pytest.raises(LLMError, match="HTTP 404"):
        llm.generate(MESSAGES)
    assert len(fake_provider.requests) == 10


def test_api_key_is_sent_but_never_shown_in_an_error(fake_provider):
    fake_provider.fail("unauthorized")  # echoes the bearer token in its error body
    llm = make(fake_provider, api_key=API_KEY)
    with pytest.raises(LLMError) as info:
        llm.generate(MESSAGES)
    assert fake_provider.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert info.value.status_code == 401 and "OLLAMA_API_KEY" in str(info.value)
    assert_no_secret(str(info.value))


def test_system_check_reports_backend_problems_per_alias(rag_settings):
    rag_settings(
        LLMS={
            "default": {"BACKEND": BACKEND, "OPTIONS": {}},
            "bad": {"BACKEND": BACKEND, "OPTIONS": {"num_ctx": "large"}},
        }
    )
    assert [(m.id, m.obj) for m in check_llms()] == [("django_rag.E015", 'DJANGO_RAG["LLMS"]["bad"]')]
