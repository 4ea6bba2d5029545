from __future__ import annotations

import socket

import pytest

from django_rag.llms import llms
from tests.fake_providers import FakeProvider

# Deliberately not shaped like "sk-...": redact()'s patterns would hide that shape anyway,
# so this key is only kept out of messages if the backend reports it in `secrets`.
API_KEY = "proj-4f9c2e7b1a6d8035c9e1"

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
    """A URL where nothing listens: the port was free a moment ago, so connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % probe.getsockname()[1]


@pytest.fixture
def use_llm(rag_settings):
    """Make ``backend`` with ``options`` the default LLM and return the built instance."""

    def apply(backend: str, **options):
        rag_settings(LLMS={"default": {"BACKEND": backend, "OPTIONS": options}})
        return llms["default"]

    return apply


def assert_no_secret(text: str) -> None:
    assert API_KEY not in text
    assert API_KEY[5:14] not in text  # not even a fragment
