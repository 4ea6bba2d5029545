"""The OpenAI LLM with the real langchain-openai client against tests/fake_providers.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from django_rag.checks import check_llms
from django_rag.exceptions import (
    LLMBadResponse,
    LLMError,
    LLMTimeout,
    LLMUnavailable,
    RAGImproperlyConfigured,
)
from django_rag.llms import get_llm
from django_rag.llms.openai import LLM

from tests.providers_helpers import API_KEY, assert_no_secret

from .conftest import COMMON_FAULTS, MESSAGES, astream_pieces, generate_through, provider_failure

BACKEND = "django_rag.llms.openai.LLM"
PROMPT_WORDS = 6 + 9  # the fake counts words as tokens: system + user message


def make(fake, **options):
    options = {"base_url": fake.openai_url, "api_key": API_KEY, "max_retries": 0, **options}
    return LLM(alias="default", **options)


def test_generates_through_the_real_client(fake_provider):
    llm = make(fake_provider)
    completion, request = generate_through(llm, fake_provider, "Twenty days of parental leave [1].")
    assert completion.usage == {"input_tokens": PROMPT_WORDS, "output_tokens": 6}
    assert completion.model == "gpt-4o-mini"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.json["model"] == "gpt-4o-mini"
    assert request.json["messages"] == [
        {"role": "system", "content": MESSAGES[0]["content"]},
        {"role": "user", "content": MESSAGES[1]["content"]},
    ]
    assert request.json["temperature"] == 0
    assert llm.identity == "openai:gpt-4o-mini"
    assert llm.secrets == [API_KEY]
    assert llm.last_usage == completion.usage


def test_assistant_turns_are_sent_with_their_role(fake_provider):
    history = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Leave?"},
    ]
    make(fake_provider).generate(history)
    assert [m["role"] for m in fake_provider.requests[-1].json["messages"]] == ["user", "assistant", "user"]


def test_per_call_max_tokens_and_temperature_leave_the_client_unchanged(fake_provider):
    llm = make(fake_provider, max_tokens=300)
    llm.generate(MESSAGES, max_tokens=50, temperature=0.7)
    llm.generate(MESSAGES)
    first, second = (r.json for r in fake_provider.requests)
    # langchain-openai sends max_tokens under OpenAI's current name.
    assert (first["max_completion_tokens"], first["temperature"]) == (50, 0.7)
    assert (second["max_completion_tokens"], second["temperature"]) == (300, 0)


def test_streams_word_by_word_with_usage_at_the_end(fake_provider):
    fake_provider.chat_replies.append("Twenty days of parental leave [1].")
    llm = make(fake_provider)

    stream = llm.stream(MESSAGES)
    pieces = list(stream)

    assert pieces == ["Twenty ", "days ", "of ", "parental ", "leave ", "[1]."]
    request = fake_provider.requests[-1]
    assert request.json["stream"] is True
    assert request.json["stream_options"] == {"include_usage": True}
    assert stream.completion.text == "Twenty days of parental leave [1]."
    assert stream.completion.usage == {"input_tokens": PROMPT_WORDS, "output_tokens": 6}
    assert stream.completion.model == "gpt-4o-mini"
    assert llm.last_usage == stream.completion.usage


def test_stream_usage_can_be_turned_off_for_servers_that_reject_it(fake_provider):
    stream = make(fake_provider, stream_usage=False).stream(MESSAGES)
    assert "".join(stream) == fake_provider.chat_reply
    assert "stream_options" not in fake_provider.requests[-1].json
    assert stream.completion.usage is None


def test_async_twins_use_the_async_client_in_each_event_loop(fake_provider):
    fake_provider.chat_replies.extend(["One.", "Two words.", "Three short words."])
    llm = make(fake_provider)

    async def collect():
        stream = llm.astream(MESSAGES)
        return [piece async for piece in stream], stream.completion

    first = asyncio.run(llm.agenerate(MESSAGES))
    # A second event loop: connections pooled by the first one must not be reused.
    pieces, completion = asyncio.run(collect())
    third = asyncio.run(llm.agenerate(MESSAGES, max_tokens=7))

    assert (first.text, first.usage) == ("One.", {"input_tokens": PROMPT_WORDS, "output_tokens": 1})
    assert pieces == ["Two ", "words."]
    assert completion.usage == {"input_tokens": PROMPT_WORDS, "output_tokens": 2}
    assert third.text == "Three short words."
    assert fake_provider.requests[-1].json["max_completion_tokens"] == 7


def test_api_key_is_read_from_the_environment_when_built_not_at_import(fake_provider, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    llm = LLM(alias="default", base_url=fake_provider.openai_url)
    [error] = llm.check()
    assert error.id == "django_rag.E014" and "OPENAI_API_KEY" in error.msg
    assert error.obj == 'DJANGO_RAG["LLMS"]["default"]'
    with pytest.raises(RAGImproperlyConfigured, match="no OpenAI API key"):
        llm.generate(MESSAGES)

    monkeypatch.setenv("OPENAI_API_KEY", "env-key-0123456789")
    llm = LLM(alias="default", base_url=fake_provider.openai_url)
    assert llm.check() == []
    llm.generate(MESSAGES)
    assert fake_provider.requests[-1].headers["authorization"] == "Bearer env-key-0123456789"


def test_check_reports_options_the_client_rejects_without_sending_a_request(fake_provider):
    llm = make(fake_provider, top_p="high")  # passed through to ChatOpenAI
    [error] = llm.check()
    assert error.id == "django_rag.E015" and "top_p" in error.msg
    assert fake_provider.requests == []


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"timeout": -1}, "timeout"),
        ({"max_retries": "2"}, "max_retries"),
        ({"temperature": -0.5}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"model": ""}, "model"),
    ],
)
def test_invalid_options_name_the_setting(options, setting):
    with pytest.raises(RAGImproperlyConfigured, match=rf'\["OPTIONS"\]\["{setting}"\]'):
        LLM(alias="default", api_key="k", **options)


@pytest.fixture(scope="module")
def quick_llm(shared_provider):
    """One LLM for the failure matrix: a failed request leaves nothing behind in it."""
    return make(shared_provider, timeout=0.3)


FAULTS = [
    *COMMON_FAULTS,
    pytest.param({"kind": "status", "status": 500}, LLMUnavailable, "HTTP 500", id="server-error"),
]


@pytest.mark.parametrize(("fault", "exception", "message"), FAULTS)
def test_provider_failures_raise_the_documented_exception_quickly(
    fake_provider, quick_llm, fault, exception, message, streaming
):
    error = provider_failure(quick_llm, fake_provider, fault, exception, message, streaming=streaming)
    assert error.startswith(f"LLM 'default' (openai gpt-4o-mini at {fake_provider.openai_url})")
    assert "gave up after 1 attempt" in error or exception is LLMBadResponse


def test_async_failures_raise_the_same_exceptions(fake_provider):
    llm = make(fake_provider, timeout=0.3)
    fake_provider.fail("hang", seconds=5)
    with pytest.raises(LLMTimeout):
        asyncio.run(llm.agenerate(MESSAGES))
    fake_provider.fail("status", status=503)
    with pytest.raises(LLMUnavailable, match="HTTP 503"):
        astream_pieces(llm)
    fake_provider.fail("malformed")
    with pytest.raises(LLMBadResponse):
        asyncio.run(llm.agenerate(MESSAGES))


def test_connection_refused_is_unavailable_and_says_where(closed_port_url):
    llm = LLM(alias="default", base_url=closed_port_url + "/v1", api_key=API_KEY, max_retries=0)
    with pytest.raises(LLMUnavailable, match="could not connect") as info:
        llm.generate(MESSAGES)
    assert closed_port_url in str(info.value)


def test_the_sdk_retries_a_rate_limited_request(fake_provider):
    # retry_after: the fake sends retry-after-ms, which the SDK honours, so no 0.5 s backoff.
    fake_provider.fail("status", status=429, retry_after=0.01)
    llm = make(fake_provider, max_retries=1)
    assert llm.generate(MESSAGES).text == fake_provider.chat_reply
    assert len(fake_provider.requests) == 2

    fake_provider.fail("status", status=429, retry_after=0.01, times=2)
    with pytest.raises(LLMUnavailable, match="HTTP 429.*gave up after 2 attempts"):
        llm.generate(MESSAGES)
    assert len(fake_provider.requests) == 4


def test_a_stream_that_stalls_midway_times_out_after_the_first_pieces(fake_provider):
    fake_provider.chat_replies.append("Twenty days of parental leave.")
    fake_provider.fail("stall", after=3, seconds=5)
    stream = make(fake_provider, timeout=0.3).stream(MESSAGES)
    received = []
    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        for piece in stream:
            received.append(piece)
    assert time.monotonic() - started < 3
    assert received == ["Twenty ", "days "]  # the reader keeps what arrived before the stall
    assert stream.completion is None


def test_a_stream_that_turns_malformed_raises_bad_response(fake_provider):
    fake_provider.fail("malformed_stream")
    with pytest.raises(LLMBadResponse):
        list(make(fake_provider).stream(MESSAGES))


def test_api_key_is_sent_but_never_shown_in_an_error(fake_provider, streaming):
    # The fake's 401 echoes the bearer token, as some proxies do: the worst case.
    fake_provider.fail("unauthorized")
    llm = make(fake_provider)
    with pytest.raises(LLMError) as info:
        list(llm.stream(MESSAGES)) if streaming else llm.generate(MESSAGES)
    assert fake_provider.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    # Retrying does not fix a bad key: the base class, not LLMUnavailable.
    assert type(info.value) is LLMError and info.value.status_code == 401
    assert "HTTP 401" in str(info.value) and "Check the API key" in str(info.value)
    assert_no_secret(str(info.value))
    assert info.value.__cause__ is None  # the provider's exception (whose text holds the key) is not chained


def test_built_from_settings_by_alias(fake_provider, use_llm):
    llm = use_llm(BACKEND, base_url=fake_provider.openai_url, api_key=API_KEY, model="gpt-4.1-nano")
    assert get_llm() is llm and llm.identity == "openai:gpt-4.1-nano"
    assert llm.generate(MESSAGES).model == "gpt-4.1-nano"


def test_system_check_reports_backend_problems_per_alias(rag_settings, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    rag_settings(
        LLMS={
            "default": {"BACKEND": BACKEND, "OPTIONS": {"api_key": API_KEY}},
            "nokey": {"BACKEND": BACKEND, "OPTIONS": {}},
            "typo": {"BACKEND": BACKEND, "OPTIONS": {"api_key": API_KEY, "timeout": "soon"}},
        }
    )
    messages = check_llms()
    assert [(m.id, m.obj) for m in messages] == [
        ("django_rag.E014", 'DJANGO_RAG["LLMS"]["nokey"]'),
        ("django_rag.E012", 'DJANGO_RAG["LLMS"]["typo"]'),
    ]
    assert all(API_KEY not in m.msg for m in messages)
