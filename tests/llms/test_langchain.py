"""The generic LangChain LLM, with langchain-core's own fake chat models and a real ChatOpenAI."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from django_rag.checks import check_llms
from django_rag.exceptions import LLMTimeout, LLMUnavailable, RAGImproperlyConfigured
from django_rag.llms.langchain import LLM

from tests.providers_helpers import API_KEY, assert_no_secret

from .conftest import MESSAGES

BACKEND = "django_rag.llms.langchain.LLM"
FAKE_LIST = "langchain_core.language_models.fake_chat_models.FakeListChatModel"


class FlakyChatModel(BaseChatModel):
    """Fails its first ``failures`` calls the way a provider's client does, then answers."""

    failures: int = 1
    error: str = "connection"
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "flaky"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            if self.error == "timeout":
                raise TimeoutError("read timed out")
            if self.error == "bug":
                raise RuntimeError("a bug in the integration")
            raise ConnectionRefusedError(f"refused (key {API_KEY})")
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=f"answer {self.calls}"))])


def make(**options):
    return LLM(alias="default", **{"class": FAKE_LIST, **options})


def test_generates_with_a_class_given_by_dotted_path():
    llm = make(kwargs={"responses": ["Twenty days [1].", "Ask HR [2]."]})
    assert llm._client is None  # the constructor built nothing
    first = llm.generate(MESSAGES)
    assert (first.text, first.usage, first.model) == ("Twenty days [1].", None, FAKE_LIST)
    assert llm.generate(MESSAGES).text == "Ask HR [2]."
    assert llm.identity == f"langchain:{FAKE_LIST}"
    assert make(kwargs={"responses": ["x"]}, model_name="fake-v1").identity == "langchain:fake-v1"


def test_an_instance_given_in_code_with_usage_and_content_blocks():
    usage = {"input_tokens": 12, "output_tokens": 3, "total_tokens": 15}
    replies = iter(
        [
            AIMessage(content="Twenty days [1].", usage_metadata=usage, response_metadata={"model_name": "fake-2"}),
            AIMessage(
                content=[{"type": "text", "text": "Ask "}, {"type": "image_url"}, {"type": "text", "text": "HR."}]
            ),
        ]
    )
    instance = GenericFakeChatModel(messages=replies)
    llm = LLM(alias="x", chat_model=instance)
    assert llm.client is instance
    assert llm.model_name == "langchain_core.language_models.fake_chat_models.GenericFakeChatModel"

    completion = llm.generate(MESSAGES)
    assert completion.usage == {"input_tokens": 12, "output_tokens": 3}
    assert completion.model == "fake-2"
    assert llm.generate(MESSAGES).text == "Ask HR."


def test_streams_and_async_twins_use_the_models_own_methods():
    llm = make(kwargs={"responses": ["Twenty days.", "Ask HR.", "Form B."]})
    stream = llm.stream(MESSAGES)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces) == "Twenty days."  # FakeListChatModel streams characters
    assert stream.completion.text == "Twenty days." and stream.completion.usage is None

    async def collect():
        return [piece async for piece in llm.astream(MESSAGES)]

    assert "".join(asyncio.run(collect())) == "Ask HR."
    assert asyncio.run(llm.agenerate(MESSAGES)).text == "Form B."


def test_per_call_settings_need_the_models_own_fields():
    llm = make(kwargs={"responses": ["x"]})
    with pytest.raises(RAGImproperlyConfigured, match="FakeListChatModel has no temperature setting"):
        llm.generate(MESSAGES, temperature=0.2)
    with pytest.raises(RAGImproperlyConfigured, match=r"no setting for the reply length \(max_tokens\)"):
        llm.generate(MESSAGES, max_tokens=20)


def test_a_provider_class_by_path_gets_the_same_error_translation(fake_provider):
    llm = LLM(
        alias="default",
        **{
            "class": "langchain_openai.ChatOpenAI",
            "kwargs": {"model": "gpt-test", "base_url": fake_provider.openai_url, "api_key": API_KEY, "max_retries": 0},
        },
    )
    assert llm.secrets == [API_KEY]  # keys in kwargs are secrets too
    completion = llm.generate(MESSAGES, max_tokens=9, temperature=0.5)
    assert completion.text == fake_provider.chat_reply and completion.usage["output_tokens"] == 5
    sent = fake_provider.requests[-1].json
    assert (sent["max_completion_tokens"], sent["temperature"]) == (9, 0.5)

    fake_provider.fail("status", status=503)
    with pytest.raises(LLMUnavailable, match="HTTP 503"):
        llm.generate(MESSAGES)
    fake_provider.fail("unauthorized")
    with pytest.raises(Exception, match="HTTP 401") as info:
        llm.generate(MESSAGES)
    assert_no_secret(str(info.value))


@pytest.mark.parametrize(
    ("error", "exception"), [("connection", LLMUnavailable), ("timeout", LLMTimeout)]
)
def test_builtin_network_errors_are_translated_and_retried(error, exception):
    model = FlakyChatModel(failures=1, error=error)
    llm = LLM(alias="default", chat_model=model)  # max_retries defaults to 0
    with pytest.raises(exception) as info:
        llm.generate(MESSAGES)
    assert "LLM 'default' (langchain " in str(info.value)
    if exception is LLMTimeout:
        assert """(the chat model's own timeout, in DJANGO_RAG["LLMS"]["default"]["OPTIONS"]["kwargs"])""" in str(info.value)
    assert_no_secret(str(info.value))
    assert model.calls == 1

    model = FlakyChatModel(failures=1, error=error)
    llm = LLM(alias="default", chat_model=model, max_retries=1)
    llm.retry_backoff = 0.01
    assert llm.generate(MESSAGES).text == "answer 2"


def test_unknown_exceptions_are_not_disguised():
    # A bug is not a provider failure: it propagates as it is.
    llm = LLM(alias="default", chat_model=FlakyChatModel(error="bug"), max_retries=2)
    with pytest.raises(RuntimeError, match="a bug in the integration"):
        llm.generate(MESSAGES)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, 'exactly one of "class"'),
        ({"class": "no.such.ChatModel"}, "could not be imported"),
        ({"class": "collections.OrderedDict"}, "is not a LangChain BaseChatModel subclass"),
        ({"class": FAKE_LIST, "kwargs": ["responses"]}, '["kwargs"] must be a dict'),
        ({"chat_model": object()}, "must be a LangChain BaseChatModel instance"),
        ({"class": FAKE_LIST, "timeout": 3}, "unknown keys ['timeout']"),
        ({"class": FAKE_LIST, "max_retries": -1}, '["max_retries"] must be an integer >= 0'),
    ],
)
def test_configuration_errors_name_the_option(options, message):
    with pytest.raises(RAGImproperlyConfigured) as info:
        LLM(alias="default", **options)
    assert message in str(info.value)
    assert 'DJANGO_RAG["LLMS"]["default"]' in str(info.value)


def test_kwargs_the_class_rejects_are_reported_on_first_use():
    llm = make(kwargs={"responses": "not a list", "api_key": API_KEY})
    with pytest.raises(RAGImproperlyConfigured, match=r'\["kwargs"\] were not accepted by FakeListChatModel') as info:
        llm.generate(MESSAGES)
    assert_no_secret(str(info.value))


def test_system_check_reports_a_bad_class_path(rag_settings):
    rag_settings(LLMS={"default": {"BACKEND": BACKEND, "OPTIONS": {"class": "no.such.ChatModel"}}})
    [error] = check_llms()
    assert error.id == "django_rag.E012" and "could not be imported" in error.msg
