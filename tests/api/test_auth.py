"""Authentication, API keys and throttling, through Django's full request stack."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from django_rag.models import ApiKey

pytestmark = pytest.mark.django_db

SEARCH = "/api/rag/search?q=leave"


def test_anonymous_requests_are_401_with_a_code(client):
    for method, path in [("get", "/rag/search?q=x"), ("post", "/rag/ask"), ("get", "/rag/documents"),
                         ("get", "/rag/collections"), ("delete", "/rag/documents/1")]:
        response = getattr(client, method)(path)
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "not_authenticated"


def test_keys_are_stored_hashed_and_shown_once(user):
    api_key, key = ApiKey.create_key(user, "bot")
    assert key.startswith(f"rag_{api_key.prefix}_") and len(key) > 40
    stored = ApiKey.objects.values().get(pk=api_key.pk)
    assert key not in str(stored)
    assert stored["hashed_key"] == ApiKey.hash(key)
    assert ApiKey.authenticate(key) == api_key
    assert ApiKey.authenticate(key + "x") is None
    assert ApiKey.authenticate(key.replace(api_key.prefix, "0" * 8)) is None


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer rag_12345678_wrong", "Token x", "Bearer "])
def test_wrong_keys_are_401(header):
    response = Client().get(SEARCH, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_revoked_expired_and_inactive_keys_stop_working(user, key_for):
    revoked, expired, ok = key_for(user), key_for(user), key_for(user)
    ApiKey.objects.get(prefix=revoked.split("_")[1]).revoke()
    ApiKey.objects.filter(prefix=expired.split("_")[1]).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    client = Client()
    assert client.get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {revoked}").status_code == 401
    assert client.get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {expired}").status_code == 401
    assert client.get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {ok}").status_code == 200
    user.is_active = False
    user.save()
    assert client.get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {ok}").status_code == 401


def test_a_key_acts_as_its_user_and_records_its_use(user, key_for):
    key = key_for(user)
    assert Client().get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    assert ApiKey.objects.get(user=user).last_used_at is not None


def test_session_auth_reads_freely_and_needs_csrf_to_write(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(SEARCH).status_code == 200
    refused = client.post("/api/rag/ask", {"question": "leave"}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    client.get("/admin/login/")  # sets the CSRF cookie, as any Django page with a form does
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        "/api/rag/ask", {"question": "leave"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 200, accepted.content


def test_api_auth_setting_turns_methods_off(user, key_for, rag_settings):
    key = key_for(user)
    rag_settings(API_AUTH=["session"])
    assert Client().get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
    rag_settings(API_AUTH=["api_key"])
    session = Client()
    session.force_login(user)
    assert session.get(SEARCH).status_code == 401
    assert Client().get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200


def test_throttling_per_key_answers_429_with_retry_after(user, key_for, rag_settings):
    rag_settings(API_THROTTLE={"key": "3/min", "user": None})
    first, second = key_for(user), key_for(user)
    client = Client()
    statuses = [client.get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {first}").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {first}")
    assert refused.json()["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Another key of the same user has its own budget.
    assert client.get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {second}").status_code == 200


def test_throttling_per_user_counts_all_their_keys_and_sessions(user, key_for, rag_settings):
    rag_settings(API_THROTTLE={"key": None, "user": "3/min"})
    first, second = key_for(user), key_for(user)
    session = Client()
    session.force_login(user)
    assert Client().get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {first}").status_code == 200
    assert Client().get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {second}").status_code == 200
    assert session.get(SEARCH).status_code == 200
    assert session.get(SEARCH).status_code == 429


def test_a_bad_throttle_rate_is_a_configuration_error(rag_settings):
    from django_rag.api.throttling import parse_rate
    from django_rag.exceptions import RAGImproperlyConfigured

    assert parse_rate("10/min") == (10, 60) and parse_rate("5/hour") == (5, 3600)
    with pytest.raises(RAGImproperlyConfigured, match="API_THROTTLE"):
        parse_rate("ten per minute")


def test_admin_creates_a_key_shows_it_once_and_revokes(admin_client, admin_user):
    response = admin_client.post(
        "/admin/django_rag/apikey/add/", {"name": "bot", "user": admin_user.pk}, follow=True
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    key = next(word.rstrip(".") for m in shown for word in m.split() if word.startswith("rag_"))
    assert ApiKey.authenticate(key) == api_key
    page = admin_client.get("/admin/django_rag/apikey/").content.decode()
    assert key not in page and api_key.prefix in page
    admin_client.post(
        "/admin/django_rag/apikey/", {"action": "revoke_keys", "_selected_action": [api_key.pk]}
    )
    assert ApiKey.authenticate(key) is None


def test_a_body_over_djangos_limit_is_413_with_a_code(user, key_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = Client().post(
        "/api/rag/ask", {"question": "x" * 2000}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key_for(user)}",
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_the_compiled_key_lookup_matches_the_queryset(user, django_user_model, key_for):
    """ApiKey.authenticate runs a statement compiled once; it must find what the QuerySet finds."""
    from django_rag.models import _active_key_lookup

    other = django_user_model.objects.create_user("other", is_staff=True)
    keys = {
        "active": key_for(user),
        "other user": key_for(other),
        "expires later": key_for(user, expires_at=timezone.now() + datetime.timedelta(hours=1)),
        "expired": key_for(user, expires_at=timezone.now() - datetime.timedelta(seconds=1)),
        "revoked": key_for(user),
        "inactive user": key_for(django_user_model.objects.create_user("gone", is_active=False)),
    }
    ApiKey.objects.get(prefix=keys["revoked"].split("_")[1]).revoke()
    assert _active_key_lookup._compile("default") is not None, "the plain shape should compile"
    for name, key in [*keys.items(), ("unknown", "rag_00000000_x")]:
        prefix = key.split("_")[1]
        expected = _active_key_lookup.queryset("default", prefix).first()
        found = _active_key_lookup.find(prefix)
        assert found == expected, name
        if expected is not None:
            fields = [f.attname for f in ApiKey._meta.concrete_fields]
            assert [getattr(found, f) for f in fields] == [getattr(expected, f) for f in fields], name
            assert found.user == expected.user and found.user.is_staff == expected.user.is_staff, name
    assert {name for name, key in keys.items() if ApiKey.authenticate(key)} == {"active", "other user", "expires later"}


def test_a_known_key_costs_one_query_and_carries_its_user(user, key_for, django_assert_num_queries):
    key = key_for(user)
    ApiKey.authenticate(key)  # records last_used_at, which is then fresh for a minute
    with django_assert_num_queries(1):
        api_key = ApiKey.authenticate(key)
        assert api_key.user.username == "reader"
