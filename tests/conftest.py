from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.test import override_settings

from django_rag.embedders import embedders
from django_rag.models import Collection, Document

TESTING_EMBEDDER = {"BACKEND": "django_rag.embedders.testing.Embedder", "OPTIONS": {"dimensions": 64}}


@pytest.fixture(autouse=True)
def _media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def rag_settings(settings):
    """Override DJANGO_RAG keys for one test: ``rag_settings(CHUNK_SIZE=200)``."""
    from django.conf import settings as django_settings

    overrides = []

    def apply(**values):
        merged = {**getattr(django_settings, "DJANGO_RAG", {}), **values}
        override = override_settings(DJANGO_RAG=merged)
        override.enable()
        overrides.append(override)
        return merged

    yield apply
    for override in reversed(overrides):
        override.disable()


@pytest.fixture
def testing_embedder(rag_settings):
    """Switch the default embedder to the counting test double and return it."""

    def make(**options):
        rag_settings(EMBEDDERS={"default": {**TESTING_EMBEDDER, "OPTIONS": {"dimensions": 64, **options}}})
        return embedders["default"]

    return make


@pytest.fixture
def collection(db):
    return Collection.objects.create(name="Handbook", slug="handbook")


@pytest.fixture
def make_document(db, collection):
    def make(content: bytes | str | None = None, *, name: str = "doc.txt", **fields):
        fields.setdefault("collection", collection)
        fields.setdefault("title", name)
        if content is None:
            return Document.objects.create(**fields)
        if isinstance(content, str) and not name:
            return Document.objects.create(text=content, **fields)
        data = content.encode("utf-8") if isinstance(content, str) else content
        document = Document(**fields)
        document.file.save(name, ContentFile(data), save=False)
        document.save()
        return document

    return make
