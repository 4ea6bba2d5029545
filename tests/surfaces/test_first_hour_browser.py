"""What a new user sees in the first hour, in headless Chromium (issue 18).

Uses the browser fixtures of tests/surfaces/test_browser.py. Screenshots go to
``var/test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from tests.surfaces.test_browser import ARTIFACTS, CHROMIUM, browser, logged_in, page  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: apt-get install chromium (.ci/run does)"),
]


def offline(page, live_server) -> list[str]:
    """Abort every request that leaves the live server; return the URLs that tried."""
    blocked: list[str] = []
    own = urlsplit(live_server.url).netloc

    def route(route):
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return blocked


def test_api_docs_render_with_no_network(page, live_server):
    blocked = offline(page, live_server)
    page.goto(f"{live_server.url}/api/docs")
    # Swagger UI's own markup appears only when its JavaScript ran and read the schema.
    page.locator(".swagger-ui .info .title").wait_for()
    assert "django-rag test site" in page.locator(".swagger-ui .info .title").inner_text()
    page.locator(".opblock-summary-path", has_text="/api/rag/ask").first.wait_for()
    assert blocked == []
    page.screenshot(path=ARTIFACTS / "api-docs-offline.png")


def example_setting(name: str) -> str:
    """One of the example site's own settings (imported with a DATABASE_URL so nothing starts)."""
    code = f"import example_project.settings as s; print(getattr(s, {name!r}, None))"
    env = {**os.environ, "DATABASE_URL": "postgres://u:p@example.invalid:5432/x"}
    env.pop("DJANGO_TIME_ZONE", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=settings.REPO_DIR / "example_project", env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_example_site_installs_ninja_so_its_docs_work_offline():
    assert "'ninja'" in example_setting("INSTALLED_APPS")


def test_the_example_site_has_a_time_zone_not_djangos_chicago_default():
    assert example_setting("TIME_ZONE") == "UTC"


SETUP_GUIDE = (
    "# Setup\n\nInstall the package, then ask from a view:\n\n```python\ndef leave_answer(request):\n"
    "    return rag.ask('How long is parental leave?', user=request.user)\n```\n\n"
    "## Parental leave\nParental leave is **twenty days** for every employee."
)


def test_answers_sources_and_passages_read_as_finished(page, live_server, make_document):
    import django_rag

    document = make_document(SETUP_GUIDE, name="setup-guide.md", title="Setup guide")
    django_rag.ingest(document)
    page.goto(f"{live_server.url}/example/?q=How+long+is+parental+leave")
    page.locator(".rag-answer").wait_for()
    # Sources numbered 1, 2, ... in the order the answer cites them.
    numbers = page.locator("ol.rag-sources > li").evaluate_all("items => items.map(li => li.value)")
    assert numbers == list(range(1, len(numbers) + 1)) and numbers
    marks = page.locator(".rag-answer-text a.rag-citation").all_inner_texts()
    assert marks[0] == "1"
    # Passages: Markdown rendered, code in monospace with its indentation.
    code = page.locator(".passage pre.rag-code").first
    assert "monospace" in code.evaluate("element => getComputedStyle(element).fontFamily")
    assert "\n    return rag.ask(" in code.inner_text()
    passages = " ".join(page.locator(".passage").all_inner_texts())
    assert "```" not in passages and "## " not in passages and "**" not in passages
    assert page.locator(".passage strong", has_text="twenty days").count() >= 1
    # Scores: a rank, the legs that matched and a bar; the raw number only in the tooltip.
    badge = page.locator(".rag-relevance").first
    assert badge.locator(".rag-rank").inner_text() == "#1"
    assert re.match(r"score 0\.\d{4}", badge.get_attribute("title"))
    assert "matched:" in badge.inner_text() and not re.search(r"0\.\d{3}", page.locator(".meta").first.inner_text())
    page.screenshot(path=ARTIFACTS / "answer-sources-passages.png", full_page=True)


def test_admin_document_list_shows_one_status_and_refreshes_until_ready(logged_in, live_server, collection):
    import django_rag
    from django_rag.models import Document
    from django_rag.receivers import auto_ingest_paused

    page = logged_in
    with auto_ingest_paused():
        document = Document.objects.create(collection=collection, title="Leave", text="Parental leave is twenty days.")
    page.goto(f"{live_server.url}/admin/django_rag/document/")
    row = page.locator("#result_list tbody tr", has_text="Leave")
    assert row.locator(".rag-status").inner_text() == "Pending"
    assert row.locator(".rag-ingestion").inner_text() == "waiting for a worker"
    django_rag.ingest(document)  # the worker's part; the page is not reloaded by the test
    row.locator(".rag-status", has_text="Ready").wait_for(timeout=15_000)
    assert re.match(r"1 chunk in \d+\.\d\d s, ", row.locator(".rag-ingestion").inner_text())
    # Nothing waits any more: the page stays put (no reload for 4 s: the marker survives).
    page.evaluate("window.stayed = true")
    page.wait_for_timeout(4_000)
    assert page.evaluate("window.stayed === true")
    # Queued again with its chunk still searched: one sentence says so, not "Pending | 1 chunk | ingested".
    Document.objects.filter(pk=document.pk).update(status="pending")
    page.reload()
    assert "queued again; 1 chunk from" in row.locator(".rag-ingestion").inner_text()
    page.screenshot(path=ARTIFACTS / "admin-document-status.png")


@pytest.mark.parametrize("changelist", ["document", "apikey", "querylog"])
def test_wide_admin_tables_fit_1280_pixels(logged_in, live_server, collection, changelist, django_user_model):
    import django_rag
    from django_rag.models import ApiKey, Document, QueryLog

    page = logged_in
    page.set_viewport_size({"width": 1280, "height": 800})
    admin_user = django_user_model.objects.get(username="admin")
    document = Document.objects.create(
        collection=collection, title="Staff handbook for parental leave, remote work and expenses 2026",
        text="Parental leave is twenty days. " * 20,
    )
    django_rag.ingest(document)
    Document.objects.filter(pk=document.pk).update(error="")
    ApiKey.create_key(admin_user, "Chatbot backend of the intranet portal (production)")
    django_rag.ask("How many days of parental leave does an employee get when a child is born?", user=admin_user)
    assert QueryLog.objects.exists()
    page.goto(f"{live_server.url}/admin/django_rag/{changelist}/")
    last = page.locator("#result_list thead th").last
    last.wait_for()
    # The admin scrolls a wide table inside ".results": a column past its edge is cut off
    # until one scrolls sideways, so measure against that box, and the page's.
    right = last.evaluate("th => th.getBoundingClientRect().right")
    box = page.evaluate("""() => {
        const results = document.querySelector('#changelist .results');
        return {right: results.getBoundingClientRect().right, hidden: results.scrollWidth - results.clientWidth};
    }""")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    page.screenshot(path=ARTIFACTS / f"admin-{changelist}-1280.png")
    assert right <= box["right"] + 0.5 and box["hidden"] <= 0 and overflow <= 0, (right, box, overflow)


@pytest.mark.parametrize("width", [1200, 560])
def test_the_upload_hint_sits_below_the_file_input_without_breaking_a_format(logged_in, live_server, width):
    page = logged_in
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{live_server.url}/example/upload/")
    hint = page.locator("#id_file").locator("xpath=following-sibling::*[contains(@class, 'helptext')]")
    assert hint.inner_text().startswith("Supported: PDF (.pdf), Markdown (.markdown, .md), HTML (")
    input_bottom = page.locator("#id_file").evaluate("e => e.getBoundingClientRect().bottom")
    assert hint.evaluate("e => e.getBoundingClientRect().top") >= input_bottom - 0.5  # a line of its own
    # No format's group of extensions is split over two lines.
    from site_pages.forms import supported_formats

    lines = page.locator(".helptext .format").evaluate_all("spans => spans.map(s => s.getClientRects().length)")
    assert lines == [1] * len(supported_formats())
    assert page.locator("#id_file").get_attribute("accept").split(",")[:3] == [".csv", ".docx", ".htm"]
    page.screenshot(path=ARTIFACTS / f"upload-hint-{width}.png")
