"""A provider backend whose SDK is not installed says which extra to install."""

from __future__ import annotations

import importlib
import sys

import pytest

from django_rag.checks import check_backends
from django_rag.exceptions import ImproperlyInstalled


# The one thing mocked in these tests is the package being absent: the SDKs are installed
# for the rest of the suite and cannot be uninstalled mid-run. A None entry in sys.modules
# makes Python raise ImportError exactly as for a missing module, so the real guard at
# the top of each backend module runs. (In the main venv sentence-transformers really is
# absent; the simulation keeps the test the same in .venvs/local, where it is installed.)
@pytest.mark.parametrize(
    ("backend_module", "sdk_module", "package", "extra"),
    [
        ("django_rag.embedders.openai", "langchain_openai", "langchain-openai", "openai"),
        ("django_rag.embedders.ollama", "langchain_ollama", "langchain-ollama", "ollama"),
        ("django_rag.embedders.sentence_transformers", "sentence_transformers", "sentence-transformers", "local"),
    ],
)
def test_missing_sdk_names_the_extra(monkeypatch, rag_settings, backend_module, sdk_module, package, extra):
    monkeypatch.setitem(sys.modules, sdk_module, None)
    monkeypatch.delitem(sys.modules, backend_module, raising=False)  # force a fresh import

    with pytest.raises(ImproperlyInstalled) as info:
        importlib.import_module(backend_module)
    assert info.value.extra == extra and info.value.package == package
    assert f"pip install 'django-rag[{extra}]'" in str(info.value)

    # At startup the system check turns it into an error on the alias.
    rag_settings(EMBEDDERS={"default": {"BACKEND": f"{backend_module}.Embedder", "OPTIONS": {}}})
    [error] = check_backends()
    assert error.id == "django_rag.E001"
    assert error.obj == 'DJANGO_RAG["EMBEDDERS"]["default"]'
    assert f"django-rag[{extra}]" in error.msg
