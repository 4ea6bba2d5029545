"""System checks of the lease and retry settings (django_rag.E075, W075)."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.test import override_settings

OPENAI = "django_rag.embedders.openai.Embedder"


def rag_ids(**overrides):
    from django.conf import settings

    with override_settings(DJANGO_RAG={**settings.DJANGO_RAG, **overrides}):
        return sorted(m.id for m in run_checks() if m.id.startswith("django_rag"))


@pytest.mark.parametrize("overrides", [
    {"INGEST_LEASE_SECONDS": 0}, {"EMBED_RETRIES": -1}, {"EMBED_RETRY_DELAY": -0.5},
])
def test_out_of_range_lease_and_retry_settings_are_errors(overrides):
    assert rag_ids(**overrides) == ["django_rag.E075"]


def test_a_lease_an_embedding_call_may_outlast_is_a_warning():
    embedders = {"default": {"BACKEND": OPENAI, "OPTIONS": {"api_key": "k", "timeout": 30, "max_retries": 2}}}
    assert rag_ids(EMBEDDERS=embedders, INGEST_LEASE_SECONDS=120) == ["django_rag.W075"]  # 90 s > 80 s
    assert rag_ids(EMBEDDERS=embedders, INGEST_LEASE_SECONDS=300) == []  # the defaults fit


def test_wrong_types_are_left_to_e010():
    assert rag_ids(INGEST_LEASE_SECONDS="long") == ["django_rag.E010"]
