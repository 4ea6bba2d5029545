"""The rate limits moved to django_rag.api.ratelimits; the old path still works (issue 19, item 6)."""

from __future__ import annotations

import importlib
import sys

import pytest

from django_rag.api import ratelimits as moved


def test_the_old_import_path_warns_and_gives_the_same_objects(monkeypatch):
    monkeypatch.delitem(sys.modules, "django_rag.ratelimits", raising=False)
    with pytest.warns(DeprecationWarning, match="django_rag.api.ratelimits"):
        old = importlib.import_module("django_rag.ratelimits")
    assert old.client_address is moved.client_address and old.parse_rate is moved.parse_rate
    assert old.FAILED_AUTH == moved.FAILED_AUTH and old.record_failed_auth is moved.record_failed_auth
    assert old._counter is moved._counter  # anything else is found where it lives now
    assert set(old.__all__) <= set(dir(moved))
