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


@pytest.fixture(autouse=True)
def _fresh_failed_auth_counters():
    # Every test client calls from 127.0.0.1, and the failed-authentication throttle
    # counts per address in the cache, which outlives a test: without this, the 401s
    # of earlier tests would add up to a 429 in a later one.
    from django.core.cache import caches

    caches["default"].clear()


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


@pytest.fixture(scope="session", autouse=True)
def _terminate_stray_connections(django_db_setup, django_db_blocker):
    """Close connections that async tests opened in executor threads.

    ``sync_to_async`` runs ORM code in other threads, each with its own connection;
    PostgreSQL refuses to drop the test database while they are open. This fixture
    depends on ``django_db_setup``, so its teardown runs before the database is dropped.
    """
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(autouse=True)
def _fresh_embedder_state():
    # Each process remembers the active embedder for EMBEDDER_STATE_TTL seconds; a test's
    # rolled-back activation must not outlive it in the next test.
    from django_rag import reembed

    reembed.clear_cache()
    yield
    reembed.clear_cache()
