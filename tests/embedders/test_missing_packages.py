"""A provider backend whose SDK is not installed says which extra to install."""

from __future__ import annotations

import pytest

from django_rag.checks import check_backends
from tests.providers_helpers import assert_import_names_the_missing_extra


# In the main venv sentence-transformers really is absent; simulating its absence keeps
# the test the same in .venvs/local, where it is installed.
@pytest.mark.parametrize(
    ("backend_module", "sdk_module", "package", "extra"),
    [
        ("django_rag.embedders.openai", "langchain_openai", "langchain-openai", "openai"),
        ("django_rag.embedders.ollama", "langchain_ollama", "langchain-ollama", "ollama"),
        ("django_rag.embedders.sentence_transformers", "sentence_transformers", "sentence-transformers", "local"),
    ],
)
def test_missing_sdk_names_the_extra(monkeypatch, rag_settings, backend_module, sdk_module, package, extra):
    assert_import_names_the_missing_extra(monkeypatch, backend_module, sdk_module, package, extra)

    # At startup the system check turns it into an error on the alias.
    rag_settings(EMBEDDERS={"default": {"BACKEND": f"{backend_module}.Embedder", "OPTIONS": {}}})
    [error] = check_backends()
    assert error.id == "django_rag.E001"
    assert error.obj == 'DJANGO_RAG["EMBEDDERS"]["default"]'
    assert f"django-rag[{extra}]" in error.msg
