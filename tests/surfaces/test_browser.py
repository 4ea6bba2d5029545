"""Headless Chromium (Playwright driving Debian's ``chromium``) on the example site and the admin.

Screenshots go to ``var/test-artifacts/`` (git-ignored). The tests skip, saying why,
where no Chromium is installed; ``.ci/run`` installs it.

The screenshots the docs show (docs/images/) are taken here too, by
:func:`test_screenshots_for_the_docs`: always into ``var/test-artifacts/docs/``, and into
``docs/images/`` with ``DJANGO_RAG_DOC_SCREENSHOTS=1`` (``make docs-screenshots``).
"""

from __future__ import annotations

import os
import re
import shutil

import pytest
from django.conf import settings

from django_rag.models import Collection, Document
from django_rag.receivers import auto_ingest_paused
from tests.ingestion.pdfs import make_pdf

ARTIFACTS = settings.REPO_DIR / "var" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DOC_IMAGES = settings.REPO_DIR / "docs" / "images"
#: Write the docs' screenshots into docs/images/ (they are committed): `make docs-screenshots`.
REFRESH_DOC_IMAGES = os.environ.get("DJANGO_RAG_DOC_SCREENSHOTS") == "1"
#: The docs' images are this wide (the viewport of the screenshot test).
DOC_IMAGE_WIDTH = 1200

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


def doc_screenshot(page, name: str, *, full_page: bool = False) -> None:
    """The viewport (or the whole page) as ``NAME.png``, cut below the last content (a
    short page leaves no blank half): in ``var/test-artifacts/docs/``, and in
    ``docs/images/`` when refreshing them, reduced to 256 colours (a screenshot of a page
    has fewer; it keeps a third of the bytes). tests/docs/test_site.py checks that every
    image the pages show exists and is one taken here."""
    taken = ARTIFACTS / "docs" / f"{name}.png"
    taken.parent.mkdir(parents=True, exist_ok=True)
    bottom = page.evaluate(
        "Math.ceil(Math.max(...[...document.body.querySelectorAll('*')].map(e => e.getBoundingClientRect().bottom"
        " + window.scrollY)))"
    )
    height = bottom + 32 if full_page else min(bottom + 32, page.viewport_size["height"])
    page.screenshot(path=taken, full_page=full_page, clip={"x": 0, "y": 0, "width": DOC_IMAGE_WIDTH, "height": height})
    if REFRESH_DOC_IMAGES:
        from PIL import Image

        with Image.open(taken) as image:
            assert image.width == DOC_IMAGE_WIDTH, f"{name}: {image.width} px wide"
            palette = image.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
            palette.save(DOC_IMAGES / f"{name}.png", optimize=True)


HANDBOOK = [
    ("Parental leave", "# Parental leave\n\nEvery employee gets twenty days of paid parental leave per child. "
     "Apply with form B at least a month before the leave starts; your manager signs it.\n\n"
     "## Part-time staff\n\nPart-time staff get the same twenty days, paid in proportion to their hours.\n"),
    ("Remote work", "# Remote work\n\nStaff may work from home two days a week, on days agreed with their team. "
     "The company pays for a screen and a chair for the home office.\n"),
    ("Travel expenses", "# Travel expenses\n\nTrain tickets are refunded in second class. Claim within 30 days, "
     "with the receipts, in the expenses tool.\n"),
]
QUESTION = "How many days of parental leave do employees get?"


def test_screenshots_for_the_docs(logged_in, live_server, on_save, tmp_path):
    """What docs/example-site.md, docs/admin.md and docs/quickstart.md show: a staff
    handbook uploaded, asked about and managed in the admin, each page checked before
    its picture is taken."""
    on_save("sync")
    page = logged_in
    page.set_viewport_size({"width": DOC_IMAGE_WIDTH, "height": 800})
    handbook = Collection.objects.create(name="Staff handbook", slug="handbook")
    for title, text in HANDBOOK:
        Document.objects.create(collection=handbook, title=title, text=text)  # ingested on save
    pdf = tmp_path / "onboarding.pdf"
    pdf.write_bytes(make_pdf([["Onboarding", "Welcome to the company."],
                              ["Your first week", "On your first day, IT hands you a laptop at 9 a.m."]]))

    # The example site: upload a PDF, watch it become ready, ask.
    page.goto(f"{live_server.url}/example/upload/")
    page.fill("#id_title", "Onboarding guide")
    page.select_option("#id_collection", label="Staff handbook")
    page.set_input_files("#id_file", str(pdf))
    doc_screenshot(page, "example-upload")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/example/documents/$"))
    page.locator("tr.document", has_text="Onboarding guide").locator(".status", has_text="Ready").wait_for(timeout=30_000)
    assert page.locator("tr.document .status", has_text="Ready").count() == 4
    doc_screenshot(page, "example-documents")

    page.goto(f"{live_server.url}/example/?q={QUESTION.replace(' ', '+')}")
    page.locator("a.rag-citation").first.wait_for()
    assert "twenty days" in page.locator(".rag-answer").inner_text()
    assert "Parental leave" in page.locator("ol.rag-sources").inner_text()
    doc_screenshot(page, "example-answer")

    # The admin: select a document waiting for its ingestion, pick the action.
    with auto_ingest_paused():
        waiting = Document.objects.create(
            collection=handbook, title="Holiday calendar",
            text="# Holidays\n\nThe office is closed between Christmas and New Year.\n",
        )
    page.goto(f"{live_server.url}/admin/django_rag/document/")
    row = page.locator("#result_list tbody tr", has_text="Holiday calendar")
    assert row.locator(".rag-status").inner_text() == "Pending"
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "ingest_documents")
    doc_screenshot(page, "admin-documents")
    page.click("button[name=index]")
    page.locator(".messagelist", has_text="1 document queued.").wait_for()
    assert row.locator(".rag-status").inner_text() == "Ready"
    waiting.refresh_from_db()
    assert waiting.status == "ready"

    # A document's page, whole, with the admin's side bar closed (as the reader left it).
    leave = Document.objects.get(title="Parental leave")
    page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    page.goto(f"{live_server.url}/admin/django_rag/document/{leave.pk}/change/")
    assert page.locator("#id_title").input_value() == "Parental leave"
    ingestion = page.locator("fieldset", has_text="Ingestion")
    assert "Ready" in ingestion.inner_text() and re.search(r"extract \d", ingestion.inner_text()), ingestion.inner_text()
    doc_screenshot(page, "admin-document", full_page=True)
    page.evaluate("localStorage.removeItem('django.admin.navSidebarIsOpen')")

    page.goto(f"{live_server.url}/admin/django_rag/document/ask/?question={QUESTION.replace(' ', '+')}")
    page.locator(".rag-answer").wait_for()
    assert "twenty days" in page.locator(".rag-answer").inner_text()
    doc_screenshot(page, "admin-ask")

    page.goto(f"{live_server.url}/api/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    page.locator(".opblock-summary-path", has_text="/api/rag/ask").first.wait_for()
    doc_screenshot(page, "api-docs")
