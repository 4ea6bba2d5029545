"""Class 2: uploaded files are never served as active content from the site's origin.

Uploads that would run script in a browser (HTML, SVG, JavaScript, XHTML, HTML named
.txt, HTML named .pdf) are fetched through the real URLconf and Django's full request
stack; the headers a browser acts on are asserted for each.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.test import Client

from django_rag.models import ApiKey, Collection, Document, Visibility
from tests.ingestion.pdfs import make_pdf

pytestmark = pytest.mark.django_db

SCRIPT = b"<html><body><script>fetch('/admin/').then(r=>r.text()).then(alert)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"><script>alert(1)</script></svg>'

# (uploaded name, bytes, expected Content-Type, shown inline?)
ACTIVE_UPLOADS = [
    ("page.html", SCRIPT, "application/octet-stream", False),
    ("page.htm", SCRIPT, "application/octet-stream", False),
    ("page.xhtml", SCRIPT, "application/octet-stream", False),
    ("drawing.svg", SVG, "application/octet-stream", False),
    ("app.js", b"alert(document.cookie)", "application/octet-stream", False),
    ("page.shtml", SCRIPT, "application/octet-stream", False),
    ("noextension", SCRIPT, "application/octet-stream", False),
    # HTML in disguise: a text name is shown as text/plain, never as HTML.
    ("notes.txt", SCRIPT, "text/plain; charset=utf-8", True),
    ("readme.md", SCRIPT, "text/plain; charset=utf-8", True),
    # A .pdf name does not make HTML a PDF: the bytes decide.
    ("report.pdf", SCRIPT, "application/octet-stream", False),
]


def upload(name: str, data: bytes, **fields) -> Document:
    fields.setdefault("title", name)
    document = Document(**fields)
    document.file.save(name, ContentFile(data), save=False)
    document.save()
    return document


def file_url(document: Document) -> str:
    return f"/rag/documents/{document.pk}/file"


def assert_safe_headers(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy  # nothing re-allows script
    assert response["Cache-Control"] == "private, no-cache"


@pytest.mark.parametrize("name, data, content_type, inline", ACTIVE_UPLOADS)
def test_active_content_is_never_served_as_such(name, data, content_type, inline, collection):
    document = upload(name, data, collection=collection)
    response = Client().get(file_url(document))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert b"".join(response.streaming_content) == data  # the original, byte for byte
    disposition = response["Content-Disposition"]
    assert disposition.startswith("inline" if inline else "attachment")
    assert f'filename="{name}"' in disposition
    assert_safe_headers(response)
    if not inline:
        assert "sandbox" in response["Content-Security-Policy"]


def test_text_shown_inline_is_still_sandboxed(collection):
    response = Client().get(file_url(upload("notes.txt", SCRIPT, collection=collection)))
    assert response["Content-Security-Policy"].startswith("sandbox")


def test_a_real_pdf_is_shown_inline_as_a_pdf(collection):
    document = upload("handbook.pdf", make_pdf(["Parental leave is twenty days."]), collection=collection)
    response = Client().get(file_url(document))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert_safe_headers(response)


def test_a_pdf_disguised_as_html_is_served_as_a_pdf(collection):
    # What the bytes are wins over the name, in the safe direction: PDF, never HTML.
    document = upload("page.html", make_pdf(["Not a web page."]), collection=collection)
    response = Client().get(file_url(document))
    assert response["Content-Type"] == "application/pdf"


def test_a_file_name_cannot_break_the_header(collection):
    document = upload('bad"; filename=evil.html\r\nX-Injected: 1.txt', b"hello", collection=collection)
    response = Client().get(file_url(document))
    assert response.status_code == 200
    assert "X-Injected" not in response
    assert "\n" not in response["Content-Disposition"] and "\r" not in response["Content-Disposition"]


def test_head_works_and_other_methods_do_not(collection):
    document = upload("notes.txt", b"hello", collection=collection)
    client = Client()
    assert client.head(file_url(document)).status_code == 200
    assert client.post(file_url(document)).status_code == 405


# Access: the same rules as search, the same 404 for hidden and missing ---------------------


@pytest.fixture
def private_document(django_user_model):
    owner = django_user_model.objects.create_user("owner")
    collection = Collection.objects.create(name="HR", slug="hr", visibility=Visibility.PRIVATE, owner=owner)
    document = upload("salaries.html", SCRIPT, collection=collection, owner=owner)
    return document, owner


def not_found_signature(response) -> tuple:
    return response.status_code, response.content, response.get("Content-Type")


def test_hidden_and_missing_files_get_the_same_404(private_document, django_user_model, collection):
    document, owner = private_document
    stranger = django_user_model.objects.create_user("stranger")
    without_file = Document.objects.create(collection=collection, title="Text only", text="hello")
    gone = upload("gone.txt", b"bye", collection=collection)
    gone.file.storage.delete(gone.file.name)
    missing_id = Document.objects.order_by("-pk").first().pk + 1000

    anonymous, signed_in = Client(), Client()
    signed_in.force_login(stranger)
    for client in (anonymous, signed_in):
        answers = {
            not_found_signature(client.get(f"/rag/documents/{pk}/file"))
            for pk in (document.pk, missing_id, without_file.pk, gone.pk, 2**63 - 1)
        }
        # Ids differ in the path, but the status, body and type must not.
        assert len(answers) == 1, answers
        assert next(iter(answers))[0] == 404
        assert client.get(f"/rag/documents/{2**64}/file").status_code == 404  # past bigint: no database error

    owner_client = Client()
    owner_client.force_login(owner)
    assert owner_client.get(file_url(document)).status_code == 200


def test_group_members_and_superusers_may_download(private_document, django_user_model):
    document, _owner = private_document
    member = django_user_model.objects.create_user("member")
    group = Group.objects.create(name="HR")
    member.groups.add(group)
    document.collection.groups.add(group)
    admin = django_user_model.objects.create_superuser("root", password="x")
    for user in (member, admin):
        client = Client()
        client.force_login(user)
        assert client.get(file_url(document)).status_code == 200, user


def test_a_document_narrowed_below_its_collection_is_hidden(django_user_model, collection):
    document = upload("board.txt", b"minutes", collection=collection, visibility=Visibility.USERS)
    assert Client().get(file_url(document)).status_code == 404
    client = Client()
    client.force_login(django_user_model.objects.create_user("reader"))
    assert client.get(file_url(document)).status_code == 200


def test_the_site_access_policy_governs_downloads(rag_settings, collection):
    document = upload("notes.txt", b"public by the built-in rules", collection=collection)
    assert Client().get(file_url(document)).status_code == 200
    rag_settings(ACCESS_POLICY="tests.security.test_file_serving.nothing_policy")
    assert Client().get(file_url(document)).status_code == 404


def nothing_policy(user):
    from django.db.models import Q

    return Q(pk__in=[])


def test_api_keys_work_and_wrong_keys_are_counted(private_document, django_user_model):
    from django.core.cache import caches

    caches["default"].clear()
    document, owner = private_document
    _row, key = ApiKey.create_key(owner, "bot")
    assert Client().get(file_url(document), HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    statuses = [
        Client().get(file_url(document), HTTP_AUTHORIZATION=f"Bearer rag_{i:08d}_guess").status_code
        for i in range(12)
    ]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    refused = Client().get(file_url(document), HTTP_AUTHORIZATION=f"Bearer {key}")
    # Past the limit even the right key is refused: a right guess cannot be told apart.
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    caches["default"].clear()


# Storage: unguessable paths, a storage outside MEDIA ------------------------------------------


def test_uploads_are_stored_under_a_random_directory(collection):
    first = upload("salaries.pdf", b"%PDF-1.4 one", collection=collection)
    second = upload("salaries.pdf", b"%PDF-1.4 two", collection=collection)
    pattern = re.compile(r"^django_rag/\d{4}/\d{2}/[A-Za-z0-9_-]{22}/salaries\.pdf$")
    assert pattern.match(first.file.name) and pattern.match(second.file.name)
    # The random part differs, so the same name never gains a suffix that would reveal the other upload.
    assert first.file.name != second.file.name
    assert first.file_name == second.file_name == "salaries.pdf"
    assert str(Document(file=first.file.name)) == "salaries.pdf"


def test_file_url_is_the_view_not_media(collection, settings):
    document = upload("page.html", SCRIPT, collection=collection)
    assert document.file.url == file_url(document)
    assert document.get_absolute_url() == file_url(document)
    assert settings.MEDIA_URL not in document.file.url
    # Site code can still ask the storage itself.
    assert document.file.storage.url(document.file.name).startswith(settings.MEDIA_URL)


def test_file_storage_setting_keeps_uploads_out_of_media(rag_settings, settings, tmp_path, collection):
    private_root = tmp_path / "private-uploads"
    settings.STORAGES = {
        **settings.STORAGES,
        "django_rag": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                       "OPTIONS": {"location": str(private_root)}},
    }
    rag_settings(FILE_STORAGE="django_rag")
    document = upload("page.html", SCRIPT, collection=collection)
    assert isinstance(document.file.storage._wrapped, FileSystemStorage)
    assert (private_root / document.file.name).read_bytes() == SCRIPT
    from pathlib import Path

    assert not (Path(settings.MEDIA_ROOT) / document.file.name).exists()
    response = Client().get(file_url(document))
    assert response.status_code == 200 and b"".join(response.streaming_content) == SCRIPT

    import django_rag

    reloaded = Document.objects.get(pk=document.pk)
    assert reloaded.file.read() == SCRIPT  # ingestion reads from the same storage
    assert django_rag.ingest(reloaded).status in {"ingested", "failed"}


def test_site_url_makes_links_absolute_outside_requests(rag_settings, collection):
    document = upload("notes.txt", b"hello", collection=collection)
    rag_settings(SITE_URL="https://intranet.example.com")
    assert document.file.url == f"https://intranet.example.com/rag/documents/{document.pk}/file"
    rag_settings(SITE_URL="https://intranet.example.com/portal/")
    assert document.file.url == f"https://intranet.example.com/portal/rag/documents/{document.pk}/file"


def test_without_the_urls_files_get_no_link_never_media(collection, settings):
    document = upload("page.html", SCRIPT, collection=collection)
    settings.ROOT_URLCONF = "tests.security.urls_without_rag"
    assert document.file.url == "" and document.get_absolute_url() == ""
    from django.core.checks import run_checks

    assert "django_rag.W055" in {message.id for message in run_checks()}


def check_ids(**kwargs) -> set[str]:
    from django.core.checks import run_checks

    return {message.id for message in run_checks(**kwargs)}


def test_file_setting_checks(rag_settings):
    rag_settings(FILE_STORAGE="nowhere")
    assert "django_rag.E055" in check_ids()
    rag_settings(FILE_STORAGE="default", SITE_URL="intranet.example.com")
    assert "django_rag.E057" in check_ids()
    rag_settings(SITE_URL="https://intranet.example.com")
    assert not {"django_rag.E055", "django_rag.E057", "django_rag.W055"} & check_ids()


def test_deploy_check_warns_while_uploads_sit_under_media_root(rag_settings, settings, tmp_path):
    assert "django_rag.W056" in check_ids(include_deployment_checks=True)
    assert "django_rag.W056" not in check_ids()  # a deployment check only
    settings.STORAGES = {
        **settings.STORAGES,
        "django_rag": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                       "OPTIONS": {"location": str(tmp_path / "private")}},
    }
    rag_settings(FILE_STORAGE="django_rag")
    assert "django_rag.W056" not in check_ids(include_deployment_checks=True)
