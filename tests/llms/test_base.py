"""The BaseLLM contract, the alias handler and the LLMS system checks."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from django.core.checks import run_checks

from django_rag.checks import check_llms
from django_rag.exceptions import DjangoRAGError, LLMError, LLMTimeout, RAGImproperlyConfigured
from django_rag.llms import Completion, get_llm, llms
from django_rag.llms.base import BaseLLM, chunk_words

from tests.providers_helpers import assert_import_names_the_missing_extra

from .conftest import MESSAGES

TESTING = "django_rag.llms.testing.LLM"


class EchoLLM(BaseLLM):
    """Implements only _generate: everything else comes from BaseLLM."""

    provider = "echo"
    model_name = "e1"

    def __init__(self, *, alias, delay=0.0):
        super().__init__(alias=alias)
        self.delay = delay
        self.threads = []

    def _generate(self, messages, *, max_tokens, temperature):
        self.threads.append(threading.get_ident())
        time.sleep(self.delay)
        text = messages[-1]["content"].upper()
        return Completion(text=text, usage={"input_tokens": len(messages), "output_tokens": 1}, model="e1-2024")


class PiecesLLM(BaseLLM):
    """A sync stream that records whether it was closed."""

    def __init__(self, *, alias):
        super().__init__(alias=alias)
        self.closed = False

    def _generate(self, messages, *, max_tokens, temperature):
        return Completion(text="one two three")

    def _stream(self, messages, *, max_tokens, temperature):
        try:
            yield from ["one ", "", "two ", "three"]
            yield Completion(text="", usage={"input_tokens": 1, "output_tokens": 3}, model="p-1")
        finally:
            self.closed = True


def test_a_subclass_must_provide_generate():
    with pytest.raises(NotImplementedError, match=r"BaseLLM must implement _generate\(messages"):
        BaseLLM(alias="x").generate(MESSAGES)


def test_defaults_stream_and_async_from_generate():
    llm = EchoLLM(alias="echo")
    assert llm.identity == "echo:e1" and repr(llm) == "<tests.llms.test_base.EchoLLM alias='echo' echo:e1>"

    stream = llm.stream(MESSAGES)
    assert stream.completion is None
    assert list(stream) == [MESSAGES[1]["content"].upper()]
    assert stream.completion == Completion(
        text=MESSAGES[1]["content"].upper(), usage={"input_tokens": 2, "output_tokens": 1}, model="e1-2024"
    )

    async def run():
        pieces = [p async for p in llm.astream(MESSAGES)]
        return pieces, await llm.agenerate(MESSAGES)

    pieces, completion = asyncio.run(run())
    assert pieces == [completion.text] and completion.model == "e1-2024"
    # The sync work ran in worker threads, not in the event loop's thread.
    assert threading.get_ident() not in llm.threads[1:]


def test_async_defaults_do_not_block_the_event_loop():
    llm = EchoLLM(alias="echo", delay=0.3)

    async def two_at_once():
        return await asyncio.gather(llm.agenerate(MESSAGES), llm.agenerate(MESSAGES))

    started = time.monotonic()
    asyncio.run(two_at_once())
    # Not thread-sensitive: the two calls overlap instead of queueing on one thread.
    assert time.monotonic() - started < 0.55


def test_text_stream_skips_empty_pieces_reports_the_last_completion_and_closes():
    llm = PiecesLLM(alias="p")
    stream = llm.stream(MESSAGES)
    assert next(stream) == "one " and stream.text == "one "
    assert list(stream) == ["two ", "three"]
    usage = {"input_tokens": 1, "output_tokens": 3}
    assert stream.completion == Completion(text="one two three", usage=usage, model="p-1")
    assert stream.usage == llm.last_usage == {"input_tokens": 1, "output_tokens": 3}

    early = llm.stream(MESSAGES)
    llm.closed = False
    assert next(early) == "one "
    early.close()  # a reader that went away: the backend's generator is closed, connection released
    assert llm.closed and early.completion is None

    async def read_one():
        stream = llm.astream(MESSAGES)
        piece = await stream.__anext__()
        await stream.aclose()
        return piece

    llm.closed = False
    assert asyncio.run(read_one()) == "one " and llm.closed


def test_last_usage_is_per_thread():
    llm = EchoLLM(alias="echo")
    seen = {}

    def ask(n):
        llm.generate([{"role": "user", "content": "x"}] * n)
        time.sleep(0.05)  # let the other thread finish its call in between
        seen[n] = llm.last_usage["input_tokens"]

    threads = [threading.Thread(target=ask, args=(n,)) for n in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {1: 1, 2: 2, 3: 3}
    assert llm.last_usage is None  # this thread made no call


@pytest.mark.parametrize(
    ("messages", "error", "message"),
    [
        ("How long?", TypeError, "must be a list"),
        ([], ValueError, "must not be empty"),
        ([("user", "hi")], TypeError, r"messages\[0\] must be a dict"),
        ([{"role": "bot", "content": "hi"}], ValueError, r"\['role'\] must be one of system, user, assistant"),
        ([{"role": "user", "content": None}], TypeError, r"\['content'\] must be a string"),
    ],
)
def test_messages_are_checked(messages, error, message):
    llm = EchoLLM(alias="echo")
    with pytest.raises(error, match=message):
        llm.generate(messages)
    with pytest.raises(error, match=message):
        llm.stream(messages)  # at once, not on first iteration
    assert llm.threads == []


@pytest.mark.parametrize(
    ("params", "message"),
    [({"max_tokens": 0}, "max_tokens"), ({"max_tokens": True}, "max_tokens"), ({"temperature": -1}, "temperature")],
)
def test_call_options_are_checked(params, message):
    with pytest.raises(ValueError, match=message):
        EchoLLM(alias="echo").generate(MESSAGES, **params)


def test_chunk_words_joins_back_exactly():
    for text in ["", "one", " two  words \n", "Twenty days [1].\n\nNext."]:
        assert "".join(chunk_words(text)) == text
    assert list(chunk_words("a b  c")) == ["a ", "b  ", "c"]


def test_exceptions_are_documented_classes():
    assert issubclass(LLMError, DjangoRAGError) and issubclass(LLMTimeout, LLMError)
    error = LLMTimeout("slow", alias="default")
    assert (error.alias, error.status_code, error.code) == ("default", None, "llm_timeout")


# -- the alias handler ------------------------------------------------------------------


def test_handler_builds_each_alias_once_and_again_after_settings_change(rag_settings):
    rag_settings(
        LLMS={"default": {"BACKEND": TESTING}, "fast": {"BACKEND": TESTING, "OPTIONS": {"responses": ["Hi."]}}}
    )
    assert get_llm() is get_llm("default") is llms["default"]
    fast = get_llm("fast")
    assert fast.generate(MESSAGES).text == "Hi."
    assert llms.aliases() == ["default", "fast"]

    rag_settings(LLMS={"fast": {"BACKEND": TESTING, "OPTIONS": {"responses": ["Bye."]}}})
    assert get_llm("fast") is not fast and get_llm("fast").generate(MESSAGES).text == "Bye."
    with pytest.raises(RAGImproperlyConfigured, match=r"No llm alias 'default'.*\(configured aliases: fast\)"):
        get_llm()


# -- system checks ------------------------------------------------------------------------


def test_default_configuration_has_no_llm_messages():
    assert [m for m in run_checks() if m.id.startswith("django_rag")] == []


@pytest.mark.parametrize(
    ("llms_setting", "expected"),
    [
        ({}, "django_rag.E013"),
        ("django_rag.llms.extractive.LLM", "django_rag.E010"),
        ({"default": {"BACKEND": "django_rag.llms.missing.LLM"}}, "django_rag.E012"),
        ({"default": {"OPTIONS": {}}}, "django_rag.E012"),
        ({"default": {"BACKEND": TESTING, "OPTIONS": {"fail_with": "crash"}}}, "django_rag.E012"),
        ({"default": {"BACKEND": TESTING, "OPTIONS": {"answers": ["typo"]}}}, "django_rag.E012"),
    ],
)
def test_bad_llm_settings_are_reported(rag_settings, llms_setting, expected):
    rag_settings(LLMS=llms_setting)
    messages = [m for m in run_checks() if m.id.startswith("django_rag")]
    assert [m.id for m in messages] == [expected]
    assert "DJANGO_RAG" in messages[0].msg + str(messages[0].obj) + (messages[0].hint or "")


def test_llm_checks_send_no_request(rag_settings, fake_provider):
    rag_settings(
        LLMS={
            "default": {"BACKEND": "django_rag.llms.ollama.LLM", "OPTIONS": {"base_url": fake_provider.url}},
            "openai": {
                "BACKEND": "django_rag.llms.openai.LLM",
                "OPTIONS": {"base_url": fake_provider.openai_url, "api_key": "k" * 8},
            },
        }
    )
    assert check_llms() == []
    assert fake_provider.requests == []


@pytest.mark.parametrize(
    ("backend_module", "sdk_module", "package", "extra"),
    [
        ("django_rag.llms.openai", "langchain_openai", "langchain-openai", "openai"),
        ("django_rag.llms.ollama", "langchain_ollama", "langchain-ollama", "ollama"),
    ],
)
def test_missing_sdk_names_the_extra(monkeypatch, rag_settings, backend_module, sdk_module, package, extra):
    assert_import_names_the_missing_extra(monkeypatch, backend_module, sdk_module, package, extra)

    rag_settings(LLMS={"default": {"BACKEND": f"{backend_module}.LLM", "OPTIONS": {}}})
    [error] = check_llms()
    assert error.id == "django_rag.E012" and error.obj == 'DJANGO_RAG["LLMS"]["default"]'
    assert f"django-rag[{extra}]" in error.msg
