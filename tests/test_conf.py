from __future__ import annotations

import pytest
from django.test import override_settings

from django_rag.conf import DEFAULTS, get_setting, get_settings
from django_rag.embedders import embedders, get_embedder
from django_rag.exceptions import RAGImproperlyConfigured


def test_defaults_fill_in_missing_keys():
    with override_settings(DJANGO_RAG={"CHUNK_SIZE": 123}):
        assert get_setting("CHUNK_SIZE") == 123
        assert get_setting("EMBED_BATCH_SIZE") == DEFAULTS["EMBED_BATCH_SIZE"]


def test_override_settings_resets_the_cache():
    before = get_settings()["CHUNK_SIZE"]
    with override_settings(DJANGO_RAG={"CHUNK_SIZE": before + 1}):
        assert get_settings()["CHUNK_SIZE"] == before + 1
    assert get_settings()["CHUNK_SIZE"] == before


def test_embedders_are_built_lazily_and_rebuilt_on_override():
    first = embedders["default"]
    assert embedders["default"] is first
    with override_settings(
        DJANGO_RAG={"EMBEDDERS": {"default": {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": {"dimensions": 32}}}}
    ):
        inside = get_embedder()
        assert inside is not first and inside.dimensions == 32
    assert embedders["default"].dimensions == first.dimensions


@pytest.mark.parametrize(
    "config, message",
    [
        ({"default": {"BACKEND": "django_rag.embedders.nope.Embedder"}}, "could not be imported"),
        ({"default": {"OPTIONS": {}}}, '"BACKEND"'),
        ({"default": {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": []}}, '["OPTIONS"] must be a dict'),
        ({"default": {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": {"colour": 1}}}, "not accepted"),
    ],
)
def test_bad_backend_config_names_the_setting(config, message):
    with override_settings(DJANGO_RAG={"EMBEDDERS": config}):
        with pytest.raises(RAGImproperlyConfigured) as excinfo:
            get_embedder()
    assert message in str(excinfo.value)
    assert 'DJANGO_RAG["EMBEDDERS"]["default"]' in str(excinfo.value)


def test_unknown_alias_lists_the_configured_ones():
    with pytest.raises(RAGImproperlyConfigured, match="configured aliases: default"):
        get_embedder("multilingual")
