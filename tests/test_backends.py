"""One base for embedders and LLMs (issue 19, item 2)."""

from __future__ import annotations

import threading
import time

import pytest

from django_rag.backends import BaseBackend
from django_rag.embedders.hashing import Embedder as HashingEmbedder
from django_rag.exceptions import RAGImproperlyConfigured
from django_rag.llms.extractive import LLM as ExtractiveLLM


@pytest.mark.parametrize(
    "backend, setting",
    [(HashingEmbedder(alias="e"), 'DJANGO_RAG["EMBEDDERS"]["e"]'), (ExtractiveLLM(alias="l"), 'DJANGO_RAG["LLMS"]["l"]')],
)
def test_embedders_and_llms_name_their_settings_the_same_way(backend, setting):
    assert isinstance(backend, BaseBackend)
    assert backend.setting_path == setting
    assert backend.option_path("timeout") == f'{setting}["OPTIONS"]["timeout"]'
    assert repr(backend).endswith(f"alias={backend.alias!r} {backend.identity}>")
    with pytest.raises(RAGImproperlyConfigured, match=r'\["OPTIONS"\]\["timeout"\] must be a number > 0, not -1'):
        backend.option_number(-1, "timeout")
    with pytest.raises(TypeError, match="unexpected option"):
        type(backend)(alias="x", misspelt=1)


def test_built_once_builds_one_object_for_all_threads():
    backend = BaseBackend(alias="x")
    backend._client = None
    built = []

    def build():
        time.sleep(0.05)  # long enough for the other threads to arrive while it builds
        built.append(object())
        return built[-1]

    seen = []
    threads = [threading.Thread(target=lambda: seen.append(backend.built_once("_client", build))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and seen == built * 8
