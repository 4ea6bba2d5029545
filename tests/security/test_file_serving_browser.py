"""Class 2 in a real browser: headless Chromium opens hostile uploads through the file view
on a live server, signed in as a superuser, and no script of theirs runs.

Each upload's script calls back to ``/pwned`` on the same live server; a tiny view counts
the calls. Skips where no Chromium is installed.
"""

from __future__ import annotations


import pytest
from django.core.files.base import ContentFile
from django.http import HttpResponse
from django.urls import include, path

from django_rag.models import Document
from tests.ingestion.pdfs import make_pdf

from tests.surfaces.test_browser import CHROMIUM, browser  # noqa: F401 (the shared Chromium fixture)
CALLS: list[str] = []

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: apt-get install chromium (.ci/run does)"),
]


def pwned(request, what):
    CALLS.append(what)
    return HttpResponse("")


urlpatterns = [
    path("rag/", include("django_rag.urls")),
    path("pwned/<str:what>", pwned),
]


def script(what: str) -> bytes:
    return f"<script>fetch('/pwned/{what}');document.title='pwned'</script>".encode()


HOSTILE = {
    "page.html": b"<html><body>" + script("html") + b"</body></html>",
    "notes.txt": b"<html><body>" + script("txt") + b"</body></html>",
    "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg">' + script("svg") + b"</svg>",
    "readme.md": script("md"),
}


def test_hostile_uploads_never_run_script_on_the_site(browser, live_server, settings, collection):
    settings.ROOT_URLCONF = "tests.security.test_file_serving_browser"
    CALLS.clear()
    documents = {}
    for name, data in HOSTILE.items():
        document = Document(collection=collection, title=name)
        document.file.save(name, ContentFile(data), save=False)
        document.save()
        documents[name] = document
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    try:
        for name, document in documents.items():
            url = f"{live_server.url}/rag/documents/{document.pk}/file"
            if name.endswith((".txt", ".md")):
                page.goto(url)
                # Shown as text: the markup is visible, not run.
                assert "<script>" in page.inner_text("body")
                assert page.title() != "pwned"
            else:
                with page.expect_download() as download:
                    try:
                        page.goto(url)
                    except Exception:  # Chromium reports a navigation that became a download as an error
                        pass
                assert download.value.suggested_filename == name
            page.wait_for_timeout(200)
        assert CALLS == []
        # The control: the same script on a page of the site does run, so the check can fail.
        page.set_content("<html></html>")
        page.goto(f"{live_server.url}/pwned/setup")
        page.evaluate("fetch('/pwned/control')")
        page.wait_for_timeout(300)
        assert "control" in CALLS
    finally:
        context.close()


def test_a_pdf_opens_inline(browser, live_server, settings, collection):
    settings.ROOT_URLCONF = "tests.security.test_file_serving_browser"
    document = Document(collection=collection, title="Handbook")
    document.file.save("handbook.pdf", ContentFile(make_pdf(["Parental leave is twenty days."])), save=False)
    document.save()
    context = browser.new_context()
    page = context.new_page()
    try:
        response = page.goto(f"{live_server.url}/rag/documents/{document.pk}/file")
        assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    finally:
        context.close()
