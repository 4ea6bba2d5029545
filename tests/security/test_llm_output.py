"""What an LLM backend sends back is checked before anything reads it.

Backends here are small subclasses of BaseLLM, configured through DJANGO_RAG["LLMS"] as
a site's own backend would be, that return what no backend should: None, a bare string,
a Completion without text, stream pieces that are not text, garbage citations. Every
case ends in a clear LLMBadResponse (API: 502 with a JSON body; stream(): an ``error``
event) or in cleaned citations, never in a TypeError from deep inside.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

import django_rag
from django_rag.exceptions import LLMBadResponse
from django_rag.llms.base import BaseLLM, Completion
from django_rag.models import ApiKey, Document

pytestmark = pytest.mark.django_db

QUESTION = "How many days of parental leave do employees get?"


class _Returning(BaseLLM):
    provider = "misbehaving"
    model_name = "test"
    value: object = None

    def _generate(self, messages, *, max_tokens, temperature):
        return self.value


class ReturnsNone(_Returning):
    value = None


class ReturnsString(_Returning):
    value = "a bare string"


class ReturnsTextlessCompletion(_Returning):
    value = Completion(text=None)  # type: ignore[arg-type]


class ReturnsNumberText(_Returning):
    value = Completion(text=42)  # type: ignore[arg-type]


class StreamsNonText(BaseLLM):
    provider = "misbehaving"
    model_name = "test"

    def _generate(self, messages, *, max_tokens, temperature):
        return Completion(text="Twenty days [1].")

    def _stream(self, messages, *, max_tokens, temperature):
        yield "Twenty "
        yield {"delta": "days"}


BROKEN = ["ReturnsNone", "ReturnsString", "ReturnsTextlessCompletion", "ReturnsNumberText"]


@pytest.fixture
def document(collection):
    document = Document.objects.create(
        collection=collection, title="Leave policy", text="Employees get twenty days of paid parental leave.",
    )
    assert django_rag.ingest(document).status == "ingested"
    return document


@pytest.fixture
def llm_backend(rag_settings):
    def use(name: str, **options):
        rag_settings(LLMS={"default": {"BACKEND": f"{__name__}.{name}", "OPTIONS": options}}, CACHE=None)

    return use


@pytest.mark.parametrize("backend", BROKEN)
def test_ask_reports_a_backend_that_returns_no_completion(document, llm_backend, backend):
    llm_backend(backend)
    with pytest.raises(LLMBadResponse, match="LLM 'default'"):
        django_rag.ask(QUESTION)


@pytest.mark.parametrize("backend", BROKEN + ["StreamsNonText"])
def test_stream_ends_with_an_error_event(document, llm_backend, backend):
    llm_backend(backend)
    events = list(django_rag.stream(QUESTION))
    assert events[-1]["type"] == "error" and events[-1]["code"] == "llm_bad_response", events[-1]
    assert "LLM 'default'" in events[-1]["detail"]


@pytest.mark.parametrize("backend", BROKEN)
def test_the_api_answers_502_with_a_json_body(document, llm_backend, backend, django_user_model):
    llm_backend(backend)
    key = ApiKey.create_key(django_user_model.objects.create_user("caller"), "test")[1]
    response = Client().post(
        "/api/rag/ask", data=json.dumps({"question": QUESTION}), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 502
    assert response.json()["code"] == "llm_bad_response"
    assert "Traceback" not in response.content.decode()


GARBAGE = [
    "[0]", "[99]", "[-1]", "[1.5]", "[abc]", "[[1]]", "[]", "[ ]", "[1,,2]", "[2-1]",
    "[99999999999999999999]", "[1" * 50, "]" * 20 + "[" * 20, "[\x00]", "[١]",
]


@pytest.mark.parametrize("citation", GARBAGE)
def test_garbage_citations_are_cleaned_not_crashed_on(document, rag_settings, citation):
    rag_settings(LLMS={"default": {"BACKEND": "django_rag.llms.testing.LLM",
                                   "OPTIONS": {"responses": [f"Twenty days {citation} of leave [1]."]}}}, CACHE=None)
    answer = django_rag.ask(QUESTION)
    assert [source.number for source in answer.citations] == [1]
    assert "[0]" not in answer.text and "[99]" not in answer.text
    assert "[99999999999999999999]" not in answer.text
    events = list(django_rag.stream(QUESTION))
    assert events[-1]["type"] == "done"
    sources = next(e for e in events if e["type"] == "sources")
    assert [s["number"] for s in sources["citations"]] == [1] if "citations" in sources else True
