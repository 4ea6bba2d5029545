"""Screenshots of the running example site for docs/images/ (docs/example-site.md shows them).

    make run   # in another terminal, or: manage.py migrate, bootstrap_example, runserver
    python scripts/example-screenshots.py [http://127.0.0.1:8000]

Drives Debian's chromium with Playwright, logged in as the development admin.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
QUESTION = "How do I add django-rag to my site?"


def main(base: str) -> None:
    IMAGES.mkdir(exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "admin")
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/admin/")

        page.goto(f"{base}/?q={QUESTION.replace(' ', '+')}")
        page.locator(".rag-answer").wait_for()
        page.screenshot(path=IMAGES / "example-answer.png", full_page=False)
        page.goto(f"{base}/documents/")
        page.screenshot(path=IMAGES / "example-documents.png")
        page.goto(f"{base}/upload/")
        page.screenshot(path=IMAGES / "example-upload.png", clip={"x": 0, "y": 0, "width": 1000, "height": 420})
        page.set_viewport_size({"width": 1280, "height": 720})
        page.goto(f"{base}/admin/django_rag/document/")
        page.screenshot(path=IMAGES / "admin-documents.png")
        page.goto(f"{base}/admin/django_rag/document/ask/?question={QUESTION.replace(' ', '+')}")
        page.locator(".rag-answer").wait_for()
        page.screenshot(path=IMAGES / "admin-ask.png")
        page.goto(f"{base}/api/docs")
        page.locator(".swagger-ui .info .title").wait_for()
        page.screenshot(path=IMAGES / "api-docs.png")
        browser.close()
    for image in sorted(IMAGES.glob("*.png")):
        print(f"{image.relative_to(IMAGES.parent.parent)}: {image.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8000")
