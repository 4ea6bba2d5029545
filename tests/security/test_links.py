"""Class 2, every surface: each link django-rag emits to an uploaded file goes to the
serving view, never to MEDIA_URL or the storage path.

One uploaded (HTML) document is cited and listed through each surface: the REST API
(ask, ask/stream, search, document list and detail), ``ask()`` and ``stream()``, the
template tags, ``rag_ask``, the admin (document list and change form, the Ask page) and
the LangChain vector store. Every URL found in their output is collected and checked.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.template import Context, Template
from django.test import Client, RequestFactory

import django_rag
from django_rag.models import ApiKey, Document

pytestmark = pytest.mark.django_db

QUESTION = "When is the quarterly coolant flush?"
HTML = b"<html><body><h1>Coolant</h1><p>The quarterly coolant flush is on Mondays.</p></body></html>"
STORAGE_PATH = re.compile(r"django_rag/\d{4}/")
URL = re.compile(r"""(?:https?://[^\s"'<>]+|/[A-Za-z0-9_\-./%#=?]+)""")


@pytest.fixture
def uploaded(db, collection, rag_settings):
    rag_settings(LLMS={"default": {"BACKEND": "django_rag.llms.testing.LLM",
                                   "OPTIONS": {"responses": ["On Mondays [1]."] * 50}}}, CACHE=None)
    document = Document(collection=collection, title="Coolant")
    document.file.save("coolant.html", ContentFile(HTML), save=False)
    document.save()
    assert django_rag.ingest(document).status == "ingested"
    return document


def links_in(text: str) -> list[str]:
    # Links to a file: the view, MEDIA, or anything naming the storage's directories.
    return [url for url in URL.findall(text) if "/file" in url or "media" in url or STORAGE_PATH.search(url)]


def assert_only_view_links(found: list[str], document: Document, surface: str) -> None:
    view = f"/rag/documents/{document.pk}/file"
    assert found, f"{surface}: no link to the file at all"
    for url in found:
        assert "/media/" not in url and document.file.name not in url, (surface, url)
        assert view in url, (surface, url)


def api_links(response) -> list[str]:
    return links_in(response.content.decode())


def test_every_surface_links_the_view(uploaded, admin_user, django_user_model):
    document = uploaded
    key = ApiKey.create_key(admin_user, "links")[1]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    collected: dict[str, list[str]] = {}

    ask = api.post("/api/rag/ask", {"question": QUESTION}, content_type="application/json")
    collected["api ask"] = api_links(ask)
    # Absolute, with the request's host (issue 18 item 5).
    assert all(url.startswith("http://testserver/rag/") for url in collected["api ask"])
    stream = api.post("/api/rag/ask/stream", {"question": QUESTION}, content_type="application/json")
    collected["api stream"] = links_in(b"".join(stream.streaming_content).decode())
    collected["api search"] = api_links(api.get("/api/rag/search", {"q": "coolant flush"}))
    collected["api documents"] = api_links(api.get("/api/rag/documents"))
    detail = api.get(f"/api/rag/documents/{document.pk}")
    collected["api document"] = api_links(detail)
    assert detail.json()["file"] == "coolant.html"
    assert detail.json()["file_url"] == f"http://testserver/rag/documents/{document.pk}/file"

    answer = django_rag.ask(QUESTION, user=admin_user)
    collected["ask()"] = [s.url for s in answer.citations + answer.sources]
    events = list(django_rag.stream(QUESTION, user=admin_user))
    collected["stream()"] = [s["url"] for e in events if e["type"] == "sources" for s in e["sources"]]

    request = RequestFactory().get("/")
    request.user = admin_user
    html = Template(
        "{% load django_rag %}{% rag_answer question %}"
        "{% rag_search 'coolant flush' as results %}{% for c in results %}{{ c.document.get_absolute_url }} {% endfor %}"
    ).render(Context({"request": request, "question": QUESTION}))
    collected["template tags"] = links_in(html)

    out = io.StringIO()
    call_command("rag_ask", QUESTION, stdout=out)
    collected["rag_ask"] = links_in(out.getvalue())

    admin = Client()
    admin.force_login(admin_user)
    change = admin.get(f"/admin/django_rag/document/{document.pk}/change/").content.decode()
    collected["admin change form"] = links_in(change)
    ask_page = admin.get("/admin/django_rag/document/ask/", {"question": QUESTION}).content.decode()
    collected["admin ask page"] = links_in(ask_page)
    changelist = admin.get("/admin/django_rag/document/").content.decode()
    assert "/media/" not in changelist and document.file.name not in changelist

    from django_rag.integrations.langchain import DjangoRAGVectorStore

    results = DjangoRAGVectorStore(document.collection).similarity_search("coolant flush", k=2)
    collected["langchain"] = [r.metadata["source"] for r in results]

    for surface, found in collected.items():
        assert_only_view_links(found, document, surface)


def test_site_url_makes_rag_ask_and_ask_links_absolute(uploaded, rag_settings):
    rag_settings(SITE_URL="https://intranet.example.com")
    out = io.StringIO()
    call_command("rag_ask", QUESTION, stdout=out)
    assert f"<https://intranet.example.com/rag/documents/{uploaded.pk}/file>" in out.getvalue()
    answer = django_rag.ask(QUESTION)
    assert answer.citations[0].url == f"https://intranet.example.com/rag/documents/{uploaded.pk}/file"


def test_a_cached_answer_gets_fresh_links(uploaded, rag_settings):
    from django.core.cache import caches

    caches["default"].clear()
    rag_settings(CACHE="default")
    first = django_rag.ask(QUESTION)
    rag_settings(SITE_URL="https://intranet.example.com")
    second = django_rag.ask(QUESTION)
    assert second.cached and first.citations[0].url != second.citations[0].url
    assert second.citations[0].url.startswith("https://intranet.example.com/rag/documents/")
    caches["default"].clear()


def test_api_stream_sources_are_absolute(uploaded, admin_user):
    key = ApiKey.create_key(admin_user, "links")[1]
    response = Client(HTTP_AUTHORIZATION=f"Bearer {key}").post(
        "/api/rag/ask/stream", {"question": QUESTION}, content_type="application/json"
    )
    text = b"".join(response.streaming_content).decode()
    sources = next(json.loads(block.split("data: ", 1)[1]) for block in text.split("\n\n") if "event: sources" in block)
    assert sources["sources"][0]["url"] == f"http://testserver/rag/documents/{uploaded.pk}/file"
