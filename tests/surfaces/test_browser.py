"""Headless Chromium (Playwright driving Debian's ``chromium``) on the example site and the admin.

Screenshots go to ``var/test-artifacts/`` (git-ignored). The tests skip, saying why,
where no Chromium is installed; ``.ci/run`` installs it.
"""

from __future__ import annotations

import re
import shutil

import pytest
from django.conf import settings

from django_rag.models import Document
from django_rag.receivers import auto_ingest_paused
from tests.ingestion.pdfs import make_pdf

ARTIFACTS = settings.REPO_DIR / "var" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: apt-get install chromium (.ci/run does)"),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    # Playwright's sync API keeps an event loop running in this thread while the browser
    # is open, and Django refuses ORM calls from a thread with a running loop. The ORM
    # calls here (the tests' own, the test database's flush) are plain synchronous code.
    with pytest.MonkeyPatch.context() as patch, sync_api.sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{request.node.name}-final.png", full_page=True)
    context.close()


@pytest.fixture
def logged_in(page, live_server, django_user_model):
    django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def test_upload_a_pdf_then_ask_and_follow_the_citation_to_its_page(logged_in, live_server, collection, on_save, tmp_path):
    on_save("sync")
    page = logged_in
    pdf = tmp_path / "handbook.pdf"
    pdf.write_bytes(make_pdf(["Welcome to the staff handbook.", "Parental leave is twenty days for every employee."]))

    page.goto(f"{live_server.url}/example/upload/")
    page.fill("#id_title", "Staff handbook")
    page.select_option("#id_collection", label=collection.name)
    page.set_input_files("#id_file", str(pdf))
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/example/documents/$"))
    row = page.locator("tr.document", has_text="Staff handbook")
    # The documents page refreshes itself while anything is pending or processing.
    row.locator(".status", has_text="Ready").wait_for(timeout=30_000)
    page.screenshot(path=ARTIFACTS / "example-documents.png", full_page=True)

    page.goto(f"{live_server.url}/example/")
    page.fill("input[name=q]", "How long is parental leave?")
    page.click("button[type=submit]")
    citation = page.locator("a.rag-citation").first
    citation.wait_for()
    document = Document.objects.get(title="Staff handbook")
    assert citation.get_attribute("href") == f"{document.file.url}#page=2"
    assert "twenty days" in page.locator(".rag-answer").inner_text()
    page.screenshot(path=ARTIFACTS / "example-answer.png", full_page=True)


def test_admin_ingest_action_changes_the_status(logged_in, live_server, collection):
    page = logged_in
    with auto_ingest_paused():
        document = Document.objects.create(collection=collection, title="Leave", text="Parental leave is twenty days.")
    page.goto(f"{live_server.url}/admin/django_rag/document/")
    row = page.locator("#result_list tbody tr", has_text="Leave")
    assert row.locator(".rag-status").inner_text() == "Pending"
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "ingest_documents")
    page.click("button[name=index]")
    page.locator(".messagelist", has_text="1 document queued.").wait_for()
    assert row.locator(".rag-status").inner_text() == "Ready"
    document.refresh_from_db()
    assert document.status == "ready" and document.chunk_count >= 1
    page.screenshot(path=ARTIFACTS / "admin-ingest-action.png", full_page=True)
