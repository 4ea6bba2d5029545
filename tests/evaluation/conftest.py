from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import caches

DATA = Path(__file__).parent / "data"
TESTING_LLM = "django_rag.llms.testing.LLM"


@pytest.fixture(autouse=True)
def _empty_cache():
    # Judge verdicts are cached by prompt: a verdict scripted for one test must not
    # answer the same prompt in another.
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def scripted_llms(rag_settings):
    """Configure scripted LLM aliases: ``scripted_llms(default=[...], judge=[...])``; returns them by alias."""

    def configure(**responses):
        from django_rag.llms import get_llm

        rag_settings(LLMS={
            alias: {"BACKEND": TESTING_LLM, "OPTIONS": {"responses": list(replies)}}
            for alias, replies in responses.items()
        })
        return {alias: get_llm(alias) for alias in responses}

    return configure
