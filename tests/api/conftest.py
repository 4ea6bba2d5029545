from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import caches
from ninja.testing import TestClient

from django_rag.models import ApiKey


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Throttle counters live in the cache, which outlives a test's database.
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture(autouse=True)
def _steady_throttle_clock(monkeypatch):
    """Pin the throttle's clock 30 s into a minute (and hour and day).

    Its windows are fixed: a test that counts requests across a window's end would see
    the count restart and fail now and then (it did, once). Only the clock is replaced;
    the counting runs on the real cache.
    """
    import types

    from django_rag.api import throttling

    pinned = 86_400 * 20_833 + 30.0  # 30 s past a minute, an hour and a day boundary
    assert pinned % 60 == 30 and pinned % 3600 == 30 and pinned % 86400 == 30
    monkeypatch.setattr(throttling, "time", types.SimpleNamespace(time=lambda: pinned))


@pytest.fixture
def user(django_user_model, db):
    return django_user_model.objects.create_user("reader")


@pytest.fixture
def writer(django_user_model, db):
    writer = django_user_model.objects.create_user("writer")
    writer.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="django_rag", codename__in=["add_document", "change_document", "delete_document"]
        )
    )
    return django_user_model.objects.get(pk=writer.pk)  # drop the permission cache


@pytest.fixture
def key_for():
    def make(user, **fields) -> str:
        return ApiKey.create_key(user, "test key", **fields)[1]

    return make


@pytest.fixture
def client():
    from tests.ninja_api import api

    return TestClient(api)


@pytest.fixture
def bearer(key_for, user):
    return {"Authorization": f"Bearer {key_for(user)}"}
