"""Provider failures at query time: every surface answers the same clear way.

The embedder (embedding the question) and the LLM are the real OpenAI clients against
the loopback fake provider, with timeouts of 0.3 s and no SDK retries.
"""

from __future__ import annotations

import json
import time

import pytest
from django.core.cache import caches
from django.urls import reverse

import django_rag
from django_rag.exceptions import EmbeddingTimeout, EmbeddingUnavailable, LLMTimeout
from django_rag.models import QueryLog
from tests.fake_providers import FakeProvider
from tests.providers_helpers import API_KEY
from tests.surfaces.test_templatetags import render

from .conftest import POLICY

QUESTION = "How long are receipts kept?"
TIMEOUT = {"kind": "hang", "seconds": 5}
EMBEDDER_FAULTS = [
    pytest.param(TIMEOUT, EmbeddingTimeout, 504, "embedding_timeout",
                 "The embedding model did not answer in time. Try again later.", id="embedder-timeout"),
    pytest.param({"kind": "status", "status": 500}, EmbeddingUnavailable, 503, "embedding_unavailable",
                 "The embedding model is unavailable right now. Try again later.", id="embedder-500"),
]


@pytest.fixture
def provider(rag_settings, make_document):
    with FakeProvider(chat_reply="Receipts are kept for three years [1].") as fake:
        connection = {"base_url": fake.openai_url, "api_key": API_KEY, "timeout": 0.3, "max_retries": 0}
        rag_settings(
            EMBEDDERS={"default": {"BACKEND": "django_rag.embedders.openai.Embedder",
                                   "OPTIONS": {"model": "fake-embed", "dimensions": 64, **connection}}},
            LLMS={"default": {"BACKEND": "django_rag.llms.openai.LLM", "OPTIONS": {"model": "gpt-fake", **connection}}},
        )
        document = make_document(POLICY, name="policy.md")
        assert django_rag.ingest(document).status == "ingested"
        fake.reset()
        yield fake


@pytest.fixture(autouse=True)
def _no_cached_vectors():
    # The question's vector and the answer are cached: each surface must reach the provider.
    caches["default"].clear()
    yield
    caches["default"].clear()


def fail_embeddings(fake, fault):
    fake.fail(**fault, path="/v1/embeddings", times=100)


@pytest.mark.django_db
@pytest.mark.parametrize("fault, error, status, code, detail", EMBEDDER_FAULTS)
def test_python_api_raises_the_provider_error_and_logs_it(provider, fault, error, status, code, detail):
    fail_embeddings(provider, fault)
    started = time.monotonic()
    with pytest.raises(error) as raised:
        django_rag.ask(QUESTION)
    assert raised.value.code == code and "Embedder 'default'" in str(raised.value)
    log = QueryLog.objects.get()
    assert log.error.startswith(error.__name__) and log.answer == ""
    with pytest.raises(error):
        django_rag.search(QUESTION)
    assert time.monotonic() - started < 3  # the timeout bounds each wait


@pytest.mark.django_db
@pytest.mark.parametrize("fault, error, status, code, detail", EMBEDDER_FAULTS)
def test_every_rest_operation_answers_the_same_json_error(provider, client, bearer, fault, error, status, code, detail, caplog):
    fail_embeddings(provider, fault)
    body = {"question": QUESTION}
    responses = {
        "/ask": client.post("/rag/ask", json=body, headers=bearer),
        "/ask/stream": client.post("/rag/ask/stream", json=body, headers=bearer),
        "/search": client.get(f"/rag/search?q={QUESTION}", headers=bearer),
    }
    for path, response in responses.items():
        assert (path, response.status_code, response.json()) == (path, status, {"detail": detail, "code": code})
    assert QueryLog.objects.filter(error__startswith=error.__name__).count() == 2  # ask and stream
    logged = [r.getMessage() for r in caplog.records if r.name == "django_rag.api"]
    assert len(logged) == 3 and all(f"HTTP {status} ({code})" in m for m in logged)


@pytest.mark.django_db
@pytest.mark.parametrize("fault, error, status, code, detail", EMBEDDER_FAULTS)
def test_template_tags_and_the_admin_ask_page_say_the_same(provider, admin_user, admin_client, fault, error, status,
                                                            code, detail):
    fail_embeddings(provider, fault)
    assert detail in render("{% rag_answer q %}", admin_user, q=QUESTION)
    html = render("{% rag_search q as results %}{{ results|length }}|{{ results.error }}", admin_user, q=QUESTION)
    assert html == f"0|{detail}"
    response = admin_client.get(reverse("admin:django_rag_ask"), {"question": QUESTION})
    assert response.status_code == 200
    assert detail in response.content.decode() and code in response.content.decode()


def sse_events(response) -> list[tuple[str, dict]]:
    text = response.content.decode()  # ninja's TestClient has read the whole stream
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.mark.django_db
def test_an_llm_that_stalls_mid_stream_ends_the_stream_with_an_error_event_at_the_timeout(provider, client, bearer):
    provider.fail("stall", after=3, seconds=5, path="/v1/chat/completions")
    started = time.monotonic()
    response = client.post("/rag/ask/stream", json={"question": QUESTION}, headers=bearer)
    events = sse_events(response)
    assert time.monotonic() - started < 3
    assert response.status_code == 200 and events[0][0] == "token"
    assert events[-1] == ("error", {"code": "llm_timeout", "detail": "The language model did not answer in time. Try again later."})
    assert QueryLog.objects.get().error.startswith("LLMTimeout")


@pytest.mark.django_db
@pytest.mark.parametrize("fault, status, code", [
    (TIMEOUT, 504, "llm_timeout"), ({"kind": "close"}, 503, "llm_unavailable"),
], ids=["hang", "dropped"])
def test_an_llm_that_hangs_or_drops_the_connection_is_a_json_error(provider, client, bearer, fault, status, code):
    for path in ("/ask", "/ask/stream"):
        caches["default"].clear()
        provider.fail(**fault, path="/v1/chat/completions")
        response = client.post("/rag" + path, json={"question": QUESTION}, headers=bearer)
        assert (path, response.status_code, response.json()["code"]) == (path, status, code)
    assert QueryLog.objects.exclude(error="").count() == 2
    with pytest.raises(LLMTimeout if status == 504 else Exception):
        provider.fail(**fault, path="/v1/chat/completions")
        caches["default"].clear()
        django_rag.ask(QUESTION)


@pytest.mark.django_db
@pytest.mark.parametrize("llm", ["openai", "ollama"])
def test_an_llm_that_drops_the_connection_mid_stream_ends_the_stream_with_an_error_event(provider, client, bearer,
                                                                                          rag_settings, llm):
    if llm == "ollama":
        rag_settings(LLMS={"default": {"BACKEND": "django_rag.llms.ollama.LLM",
                                       "OPTIONS": {"model": "llama-fake", "base_url": provider.url, "timeout": 0.3}}})
    path = "/v1/chat/completions" if llm == "openai" else "/api/chat"
    provider.fail("cut", after=3, path=path)
    response = client.post("/rag/ask/stream", json={"question": QUESTION}, headers=bearer)
    events = sse_events(response)
    assert response.status_code == 200 and events[0][0] == "token"
    assert events[-1] == ("error", {"code": "llm_unavailable",
                                    "detail": "The language model is unavailable right now. Try again later."})
    assert QueryLog.objects.get().error.startswith("LLMUnavailable")
