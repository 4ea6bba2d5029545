"""The router over real HTTP, against a running server (pytest-django's live_server),
and schemathesis against the server's own OpenAPI schema."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from django_rag.ingestion import ingest
from django_rag.models import ApiKey, Collection, Document

pytestmark = pytest.mark.django_db(transaction=True)

LEAVE = "# Leave\n\nEmployees get twenty days of parental leave. Managers approve leave requests."


@pytest.fixture
def site(live_server, django_user_model, rag_settings):
    rag_settings(
        LLMS={"default": {"BACKEND": "django_rag.llms.testing.LLM", "OPTIONS": {"responses": ["Twenty days [1]."]}}},
        API_THROTTLE=None,
    )
    user = django_user_model.objects.create_superuser("admin")
    collection = Collection.objects.create(name="Handbook", slug="handbook")
    document = Document.objects.create(collection=collection, title="Leave", text=LEAVE)
    ingest(document)
    _api_key, key = ApiKey.create_key(user, "live")
    return {"url": f"{live_server.url}/api/rag", "key": key, "document": document, "live": live_server}


def request(url, *, key=None, body=None, method=None):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_search_and_ask_over_http(site):
    status, _headers, body = request(f"{site['url']}/search?q=parental+leave", key=site["key"])
    assert status == 200 and json.loads(body)[0]["document_id"] == site["document"].pk
    status, _headers, body = request(f"{site['url']}/ask", key=site["key"], body={"question": "parental leave?"})
    assert status == 200 and json.loads(body)["answer"] == "Twenty days [1]."
    status, _headers, body = request(f"{site['url']}/search?q=x")
    assert status == 401 and json.loads(body)["code"] == "not_authenticated"


def parse_sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_stream_sends_tokens_then_sources_then_done(site):
    status, headers, body = request(f"{site['url']}/ask/stream", key=site["key"], body={"question": "parental leave?"})
    assert status == 200 and headers["Content-Type"] == "text/event-stream"
    events = parse_sse(body)
    kinds = [kind for kind, _data in events]
    assert kinds[-2:] == ["sources", "done"] and set(kinds[:-2]) == {"token"}
    assert "".join(data["text"] for kind, data in events if kind == "token") == "Twenty days [1]."
    assert events[-2][1]["sources"][0]["document_id"] == site["document"].pk


def test_a_provider_failing_before_the_first_token_is_a_json_error(site, rag_settings):
    rag_settings(LLMS={"default": {"BACKEND": "django_rag.llms.testing.LLM", "OPTIONS": {"fail_with": "timeout"}}})
    status, _headers, body = request(f"{site['url']}/ask/stream", key=site["key"], body={"question": "parental leave?"})
    assert status == 504
    assert json.loads(body)["code"] == "llm_timeout" and "testing" not in body


def test_a_provider_stalling_midway_ends_the_stream_with_an_error_event(site, rag_settings):
    """The real langchain-openai client against the fake provider, which stalls after two pieces."""
    from tests.fake_providers import FakeProvider

    with FakeProvider() as fake:
        rag_settings(LLMS={"default": {"BACKEND": "django_rag.llms.openai.LLM", "OPTIONS": {
            "base_url": fake.openai_url, "api_key": "proj-not-a-real-key", "max_retries": 0, "timeout": 0.3,
            "model": "gpt-4o-mini"}}})
        fake.chat_replies.append("Twenty days of parental leave [1].")
        fake.fail("stall", after=3, seconds=1)
        status, _headers, body = request(
            f"{site['url']}/ask/stream", key=site["key"], body={"question": "parental leave?"}
        )
    assert status == 200
    events = parse_sse(body)
    assert [kind for kind, _data in events] == ["token", "token", "error"]
    assert events[-1][1] == {"code": "llm_timeout", "detail": "The language model did not answer in time. Try again later."}
    assert "proj-not-a-real-key" not in body and fake.openai_url not in body


def test_stream_refuses_a_bad_question_before_it_starts(site, rag_settings):
    rag_settings(MAX_QUESTION_LENGTH=5)
    status, _headers, body = request(f"{site['url']}/ask/stream", key=site["key"], body={"question": "too long"})
    assert status == 400 and json.loads(body)["code"] == "bad_request"


def test_schemathesis_finds_no_server_error_and_no_schema_violation(site):
    """Every operation of the live server's schema, authenticated, with generated valid and invalid input.

    A bounded run for the suite (docs/api.md shows a longer one from the command line).
    Each failing check raises with the request to reproduce it.
    """
    schema = schemathesis.openapi.from_url(f"{site['live'].url}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9  # every method of every path
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_headers_conformance, response_schema_conformance]
    calls = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def exercise(case):
            response = case.call_and_validate(headers={"Authorization": f"Bearer {site['key']}"}, checks=checks)
            calls.append((operation.label, response.status_code))

        exercise()
    assert {label for label, _status in calls} == {operation.label for operation in operations}
    assert not [call for call in calls if call[1] >= 500]
