from __future__ import annotations

import asyncio
import time

import pytest

from django_rag.exceptions import LLMBadResponse, LLMError, LLMTimeout, LLMUnavailable
from django_rag.llms import llms
from django_rag.llms.base import BaseLLM, Completion
from tests import providers_helpers
from tests.fake_providers import FakeProvider, RecordedRequest
from tests.providers_helpers import assert_no_secret

SYSTEM = "Answer from the numbered sources only."
MESSAGES = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "How many days of parental leave do I get?"},
]


@pytest.fixture(scope="module")
def shared_provider():
    # One server per module: clients built for its URL are reused across tests (building
    # one costs ~0.1 s, mostly loading CA certificates), and so are the HTTP clients
    # langchain-openai caches per base URL.
    with FakeProvider() as fake:
        yield fake


@pytest.fixture
def fake_provider(shared_provider):
    """The module's fake server, with no requests, faults or scripted replies left over."""
    shared_provider.reset()
    return shared_provider


@pytest.fixture
def closed_port_url():
    """A URL where nothing listens, so connecting is refused."""
    return providers_helpers.closed_port_url()


@pytest.fixture
def use_llm(rag_settings):
    """Make ``backend`` with ``options`` the default LLM and return the built instance."""

    def apply(backend: str, **options):
        rag_settings(LLMS={"default": {"BACKEND": backend, "OPTIONS": options}})
        return llms["default"]

    return apply


#: Provider failures every provider's LLM reports alike, with a timeout of 0.3 s:
#: (the fault scripted, the exception raised, a part of its message).
COMMON_FAULTS = [
    pytest.param({"kind": "hang", "seconds": 5}, LLMTimeout, "no reply within 0.3 s", id="timeout"),
    pytest.param({"kind": "status", "status": 429}, LLMUnavailable, "HTTP 429", id="rate-limited"),
    pytest.param({"kind": "malformed"}, LLMBadResponse, "not a valid chat completion", id="malformed-json"),
    pytest.param({"kind": "wrong_shape"}, LLMBadResponse, "not a valid chat completion", id="wrong-shape"),
    pytest.param({"kind": "close"}, LLMUnavailable, "connection dropped", id="connection-closed"),
]


def generate_through(llm: BaseLLM, fake: FakeProvider, reply: str) -> tuple[Completion, RecordedRequest]:
    """Answer MESSAGES once with ``llm``, which has built and sent nothing before, while
    ``fake`` answers ``reply``; return the completion and the one request sent."""
    fake.chat_replies.append(reply)
    assert llm._client is None and fake.requests == []  # nothing built or sent yet
    completion = llm.generate(MESSAGES)
    assert completion.text == reply
    [request] = fake.requests
    return completion, request


def astream_pieces(llm: BaseLLM) -> list[str]:
    """The pieces of ``llm.astream(MESSAGES)``, read to the end in a new event loop."""

    async def collect() -> list[str]:
        return [piece async for piece in llm.astream(MESSAGES)]

    return asyncio.run(collect())


@pytest.fixture(params=[False, True], ids=["generate", "stream"])
def streaming(request) -> bool:
    """Run the test for generate() and for stream()."""
    return request.param


def provider_failure(
    llm: BaseLLM, fake: FakeProvider, fault: dict, exception: type, message: str, *, streaming: bool
) -> str:
    """Ask ``llm`` while ``fake`` has ``fault`` scripted; check that ``exception`` is raised
    with ``message`` and what every provider failure guarantees; return the message."""
    fake.fail(**fault)
    started = time.monotonic()
    with pytest.raises(exception) as info:
        list(llm.stream(MESSAGES)) if streaming else llm.generate(MESSAGES)
    assert time.monotonic() - started < 3  # the timeout option bounds the wait
    assert type(info.value) is exception and isinstance(info.value, LLMError)
    assert message in str(info.value)
    # The provider's exception (whose text can hold the key) is not chained.
    assert info.value.alias == "default" and info.value.__cause__ is None
    assert_no_secret(str(info.value))
    return str(info.value)
