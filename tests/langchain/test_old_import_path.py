"""The VectorStore adapter moved to django_rag.integrations.langchain; the old path still works (issue 19, item 6)."""

from __future__ import annotations

import importlib
import sys

import pytest

from django_rag.integrations import langchain as moved


def test_the_old_import_path_warns_and_gives_the_same_objects(monkeypatch):
    monkeypatch.delitem(sys.modules, "django_rag.langchain", raising=False)
    with pytest.warns(DeprecationWarning, match="django_rag.integrations.langchain"):
        old = importlib.import_module("django_rag.langchain")
    assert old.DjangoRAGVectorStore is moved.DjangoRAGVectorStore
    assert old.ID_KEY == moved.ID_KEY and old.DjangoRAGEmbeddings is moved.DjangoRAGEmbeddings
    assert old._MODE_OPTIONS is moved._MODE_OPTIONS  # anything else is found where it lives now
