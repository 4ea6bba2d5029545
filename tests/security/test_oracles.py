"""Class 8 (outside the admin): a private collection's slug, a private document's id or
file name, and a missing one get the same answer from every surface: each REST endpoint
(through the real URLconf), ``ask()``/``stream()``, the template tags, ``rag_ask`` and
the file view.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.template import Context, Template
from django.test import Client, RequestFactory

import django_rag
from django_rag.models import ApiKey, Collection, Document, Visibility

pytestmark = pytest.mark.django_db

PRIVATE, MISSING = "private-hr", "no-such-hr"  # the same length, so nothing differs by size


@pytest.fixture(autouse=True)
def _fresh_counters():
    from django.core.cache import caches

    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def world(django_user_model):
    """A private collection with a private file, a stranger with every write permission, and their key."""
    owner = django_user_model.objects.create_user("owner")
    private = Collection.objects.create(name="HR", slug=PRIVATE, visibility=Visibility.PRIVATE, owner=owner)
    document = Document(collection=private, title="Salaries", owner=owner)
    document.file.save("salaries.txt", ContentFile(b"Band C pays ninety percent of salary."), save=False)
    document.save()
    django_rag.ingest(document)
    Collection.objects.create(name="Public", slug="public")
    stranger = django_user_model.objects.create_user("stranger")
    stranger.user_permissions.add(*Permission.objects.filter(content_type__app_label="django_rag"))
    stranger = django_user_model.objects.get(pk=stranger.pk)
    _row, key = ApiKey.create_key(stranger, "probe")
    missing_id = Document.objects.order_by("-pk").first().pk + 1000
    return {"owner": owner, "stranger": stranger, "key": key, "document": document, "missing_id": missing_id}


def same(first, second, *, replace=("", "")) -> None:
    """Two responses are the same answer: status and body (with the probed name swapped)."""
    assert first.status_code == second.status_code
    body = first.content.decode().replace(*replace)
    assert body == second.content.decode(), (body, second.content)


def test_every_api_endpoint_answers_a_private_and_a_missing_collection_alike(world):
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {world['key']}"}

    def probe(slug):
        return [
            client.get(f"/api/rag/search?q=salary&collection={slug}", **headers),
            client.get(f"/api/rag/documents?collection={slug}", **headers),
            client.post("/api/rag/ask", {"question": "What does band C pay?", "collection": slug},
                        content_type="application/json", **headers),
            client.post("/api/rag/ask/stream", {"question": "What does band C pay?", "collection": slug},
                        content_type="application/json", **headers),
            client.post("/api/rag/documents", {"text": "x", "collection": slug}, **headers),
        ]

    for private, missing in zip(probe(PRIVATE), probe(MISSING), strict=True):
        same(private, missing, replace=(PRIVATE, MISSING))
        assert private.status_code == 404, private.content
    # The collections list does not name it either.
    listed = client.get("/api/rag/collections", **headers).json()
    assert PRIVATE not in {c["slug"] for c in listed}


def test_every_api_endpoint_answers_a_private_and_a_missing_document_alike(world):
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {world['key']}"}
    hidden, missing = world["document"].pk, world["missing_id"]
    for method, path in [("get", "/api/rag/documents/{}"), ("delete", "/api/rag/documents/{}"),
                         ("post", "/api/rag/documents/{}/reingest")]:
        first = getattr(client, method)(path.format(hidden), **headers)
        second = getattr(client, method)(path.format(missing), **headers)
        same(first, second)
        assert first.status_code == 404
    assert Document.objects.filter(pk=hidden).exists()  # the delete did not go through
    listed = client.get("/api/rag/documents", **headers).json()
    assert hidden not in {d["id"] for d in listed["items"]} and listed["count"] == 0


def test_the_file_view_answers_a_private_and_a_missing_file_alike(world):
    signed_in = Client()
    signed_in.force_login(world["stranger"])
    for client in (Client(), signed_in):
        same(client.get(f"/rag/documents/{world['document'].pk}/file"),
             client.get(f"/rag/documents/{world['missing_id']}/file"))


def test_an_uploaded_name_reveals_no_other_upload(world):
    # Uploading a private file's name again: the stored name gains no "_AbCdEf" suffix
    # and the API shows only the name sent, so nobody learns that "salaries.txt" exists.
    client = Client()
    upload = io.BytesIO(b"mine")
    upload.name = "salaries.txt"
    response = client.post("/api/rag/documents", {"file": upload}, HTTP_AUTHORIZATION=f"Bearer {world['key']}")
    body = response.json()
    assert response.status_code == 202, body
    assert body["file"] == "salaries.txt"
    assert body["file_url"].endswith(f"/rag/documents/{body['id']}/file")
    assert world["document"].file.name.split("/")[:-1] != Document.objects.get(pk=body["id"]).file.name.split("/")[:-1]


def test_ask_and_stream_answer_a_private_and_a_missing_collection_alike(world):
    stranger = world["stranger"]
    private_pk = Collection.objects.get(slug=PRIVATE).pk
    for hidden, missing in [(PRIVATE, MISSING), (private_pk, private_pk + 1000)]:
        with pytest.raises(Collection.DoesNotExist) as first:
            django_rag.ask("What does band C pay?", user=stranger, collection=hidden)
        with pytest.raises(Collection.DoesNotExist) as second:
            django_rag.ask("What does band C pay?", user=stranger, collection=missing)
        assert str(first.value).replace(repr(hidden), "X") == str(second.value).replace(repr(missing), "X")
        with pytest.raises(Collection.DoesNotExist):
            next(django_rag.stream("What does band C pay?", user=None, collection=hidden))
    # The owner still can.
    answer = django_rag.ask("What does band C pay?", user=world["owner"], collection=PRIVATE)
    assert answer.citations


def render(source: str, user) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return Template("{% load django_rag %}" + source).render(Context({"request": request}))


def test_template_tags_answer_a_private_and_a_missing_collection_alike(world):
    for tag in ("{% rag_answer 'What does band C pay?' collection='SLUG' %}",
                "{% rag_search 'band C salary' collection='SLUG' as results %}{{ results|length }}"):
        private = render(tag.replace("SLUG", PRIVATE), world["stranger"])
        missing = render(tag.replace("SLUG", MISSING), world["stranger"])
        assert private.replace(PRIVATE, MISSING) == missing
        assert "ninety" not in private


def test_rag_ask_answers_a_private_and_a_missing_collection_alike(world):
    messages = []
    for slug in (PRIVATE, MISSING):
        with pytest.raises(CommandError) as error:
            call_command("rag_ask", "What does band C pay?", collection=slug, user="stranger", stdout=io.StringIO())
        messages.append(str(error.value).replace(slug, "SLUG"))
    assert messages[0] == messages[1]
