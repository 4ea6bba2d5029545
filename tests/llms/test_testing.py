"""The scripted test double that sites use in their own tests."""

from __future__ import annotations

import asyncio
import time

import pytest

from django_rag.exceptions import LLMBadResponse, LLMTimeout, LLMUnavailable, RAGImproperlyConfigured
from django_rag.llms import get_llm
from django_rag.llms.testing import DEFAULT_RESPONSE, LLM

from .conftest import MESSAGES

BACKEND = "django_rag.llms.testing.LLM"


def test_responses_come_in_turn_then_start_again(use_llm):
    llm = use_llm(BACKEND, responses=["Twenty days [1].", "Ask HR [2]."])
    assert get_llm() is llm
    texts = [llm.generate(MESSAGES).text for _ in range(3)]
    assert texts == ["Twenty days [1].", "Ask HR [2].", "Twenty days [1]."]
    assert llm.calls == [MESSAGES] * 3
    assert llm.identity == "testing:scripted"

    llm.reset()
    assert llm.calls == [] and llm.generate(MESSAGES).text == "Twenty days [1]."


def test_default_response_and_usage_in_words():
    completion = LLM(alias="default").generate(MESSAGES, max_tokens=5)
    assert completion.text == DEFAULT_RESPONSE
    assert completion.usage == {"input_tokens": 6 + 9, "output_tokens": len(DEFAULT_RESPONSE.split())}


def test_records_options_and_a_copy_of_the_messages():
    llm = LLM(alias="default", responses="Only answer.")
    messages = [dict(m) for m in MESSAGES]
    llm.generate(messages, max_tokens=10, temperature=0.5)
    messages[1]["content"] = "changed afterwards"
    assert llm.calls[0][1]["content"] == MESSAGES[1]["content"]
    assert llm.call_options == [{"max_tokens": 10, "temperature": 0.5, "stream": False}]


def test_streams_word_by_word_and_async():
    llm = LLM(alias="default", responses=["Twenty days of leave [1].", "Ask HR."])
    stream = llm.stream(MESSAGES)
    assert list(stream) == ["Twenty ", "days ", "of ", "leave ", "[1]."]
    assert stream.completion.usage == {"input_tokens": 15, "output_tokens": 5}
    assert llm.last_usage == stream.completion.usage

    async def run():
        pieces = [p async for p in llm.astream(MESSAGES)]
        return pieces, (await llm.agenerate(MESSAGES)).text

    assert asyncio.run(run()) == (["Ask ", "HR."], "Twenty days of leave [1].")
    assert [o["stream"] for o in llm.call_options] == [True, True, False]


@pytest.mark.parametrize(
    ("fail_with", "exception"),
    [("timeout", LLMTimeout), ("unavailable", LLMUnavailable), ("bad_response", LLMBadResponse)],
)
def test_scripted_failures_raise_the_documented_exceptions(fail_with, exception):
    llm = LLM(alias="default", fail_with=fail_with)
    with pytest.raises(exception, match=f"LLM 'default' \\(testing\\): scripted failure '{fail_with}' on call 1"):
        llm.generate(MESSAGES)
    with pytest.raises(exception):
        list(llm.stream(MESSAGES))
    with pytest.raises(exception):
        asyncio.run(llm.agenerate(MESSAGES))
    assert len(llm.calls) == 3  # failed calls are recorded too


def test_fail_on_call_fails_only_that_call():
    llm = LLM(alias="default", responses=["a", "b", "c"], fail_with="unavailable", fail_on_call=2)
    assert llm.generate(MESSAGES).text == "a"
    with pytest.raises(LLMUnavailable, match="on call 2"):
        llm.generate(MESSAGES)
    assert llm.generate(MESSAGES).text == "c"


def test_delay_waits_before_answering():
    llm = LLM(alias="default", delay=0.2)
    started = time.monotonic()
    llm.generate(MESSAGES)
    asyncio.run(llm.agenerate(MESSAGES))
    assert time.monotonic() - started >= 0.4


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"responses": []}, "responses"),
        ({"responses": ["ok", 3]}, "responses"),
        ({"fail_with": "crash"}, "fail_with"),
        ({"fail_on_call": 0}, "fail_on_call"),
        ({"delay": -1}, "delay"),
    ],
)
def test_invalid_options_name_the_setting(options, setting):
    with pytest.raises(RAGImproperlyConfigured, match=rf'\["OPTIONS"\]\["{setting}"\]'):
        LLM(alias="default", **options)


def test_unknown_options_are_rejected_when_built_from_settings(rag_settings):
    from django_rag.llms import llms

    rag_settings(LLMS={"default": {"BACKEND": BACKEND, "OPTIONS": {"response": ["typo"]}}})
    with pytest.raises(RAGImproperlyConfigured, match="unexpected option.*response"):
        llms["default"]
