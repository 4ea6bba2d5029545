"""What docs/example-site.md and the README say the example prints, checked (issue 18, items 11 and 12)."""

from __future__ import annotations

import importlib
import io
import re

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command

import django_rag
from django_rag.models import Document

pytestmark = pytest.mark.django_db

EXAMPLE_PAGE = (settings.REPO_DIR / "docs" / "example-site.md").read_text()


@pytest.fixture
def example_settings(monkeypatch, settings, tmp_path):
    """The example site's own DJANGO_RAG (offline: no provider keys), on the test database."""
    for name in ("OPENAI_API_KEY", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@example.invalid:5432/x")  # nothing starts
    example = importlib.import_module("example_project.settings")
    settings.DJANGO_RAG = example.DJANGO_RAG
    settings.MEDIA_ROOT = tmp_path / "media"
    return example


def test_bootstrap_prints_what_the_page_says_first_and_on_later_starts(example_settings):
    first, later = io.StringIO(), io.StringIO()
    call_command("bootstrap_example", stdout=first, stderr=io.StringIO())
    call_command("bootstrap_example", stdout=later, stderr=io.StringIO())
    printed = re.search(r"The first start prints\s+```text\n(.*?)```", EXAMPLE_PAGE, re.S).group(1)
    assert first.getvalue().splitlines() == printed.splitlines()
    later_line = re.search(r"later starts `([^`]+)`", EXAMPLE_PAGE).group(1)
    assert later.getvalue().splitlines() == [later_line]
    titles = set(Document.objects.values_list("title", flat=True))
    assert {"Installation", "REST API", "django-rag"} <= titles


def test_the_suggested_question_is_answered_from_the_section_the_page_names(example_settings, client):
    call_command("bootstrap_example", stdout=io.StringIO(), stderr=io.StringIO())
    home = (settings.REPO_DIR / "example_project" / "site_pages" / "templates" / "site_pages" / "home.html").read_text()
    suggested = re.search(r'placeholder="([^"]+)"', home).group(1)
    answer = django_rag.ask(suggested)
    section = re.search(r"the\s+answer\s+quotes\s+the\s+README's\s+\"([^\"]+)\"\s+section", EXAMPLE_PAGE).group(1)
    # It quotes that section (and nothing else), which names the setting and the database.
    assert [(s.title, s.chunk.metadata["section"].rsplit(" > ", 1)[-1]) for s in answer.citations] == [
        ("django-rag", section)
    ]
    assert "INSTALLED_APPS" in answer.text and "PostgreSQL" in answer.text
    page = client.get("/example/", {"q": suggested}).content.decode()
    assert 'class="rag-citation"' in page and "INSTALLED_APPS" in page


def test_the_readme_ingest_example_is_true(rag_settings, collection, settings, tmp_path,
                                           django_capture_on_commit_callbacks):
    # The README's defaults: INGEST_ON_SAVE on, and no worker (QUEUE "auto" without one: inline).
    settings.MEDIA_ROOT = tmp_path
    rag_settings(INGEST_ON_SAVE=True, QUEUE="sync")
    readme = (settings.REPO_DIR / "README.md").read_text()
    calls = re.findall(r"^(django_rag\.ingest\(document[^)]*\))\s+# IngestResult\(status=\"(\w+)\"", readme, re.M)
    assert len(calls) == 2
    upload = ContentFile(b"Parental leave is twenty days.", name="leave.txt")
    with django_capture_on_commit_callbacks(execute=True):  # the save's transaction commits
        document = Document.objects.create(title="Leave policy", file=upload, collection=collection)
    for call, status in calls:
        assert eval(call, {"django_rag": django_rag, "document": document}).status == status, call
