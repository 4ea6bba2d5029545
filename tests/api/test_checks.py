from __future__ import annotations

import pytest
from django.test import Client, override_settings

from django_rag.checks import _setting_errors, check_api_auth
from django_rag.conf import get_settings


def test_default_mount_needs_auth_and_raises_no_warning():
    assert check_api_auth() == []


@override_settings(ROOT_URLCONF="tests.api.open_urls")
def test_mount_without_auth_warns_w003():
    [warning] = check_api_auth()
    assert warning.id == "django_rag.W003"
    assert "open/rag/search" in warning.msg and "open/rag/ask" in warning.msg


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="tests.api.open_urls")
def test_an_open_mount_serves_anonymous_callers_throttled_per_address(rag_settings):
    rag_settings(API_THROTTLE={"anonymous": "3/min"})
    client = Client()
    # Writes still need a permission, which an anonymous caller never has.
    assert client.post("/open/rag/documents", {"text": "x"}).status_code == 403
    assert [client.get("/open/rag/search?q=x").status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"API_AUTH": ["api_key", "oauth"]}, "unknown methods ['oauth']"),
        ({"API_THROTTLE": {"user": "lots"}}, "'lots' must read"),
        ({"API_THROTTLE": {"everyone": "1/s"}}, "unknown scope 'everyone'"),
        ({"API_AUTH": "session"}, 'DJANGO_RAG["API_AUTH"] must be list or tuple'),
    ],
)
def test_api_settings_are_checked(values, fragment):
    errors = _setting_errors({**get_settings(), **values})
    assert any(fragment in e.msg for e in errors), [e.msg for e in errors]
