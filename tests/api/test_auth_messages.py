"""A wrong API key is told apart from a missing one (issue 18, item 14)."""

from __future__ import annotations

import pytest
from django.test import Client

from django_rag.models import ApiKey

pytestmark = pytest.mark.django_db

SEARCH = "/api/rag/search?q=leave"


def detail(**headers) -> str:
    response = Client().get(SEARCH, **headers)
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    return response.json()["detail"]


def test_missing_wrong_and_malformed_credentials_get_their_own_message(user):
    assert detail().startswith("Authentication required")
    assert detail(HTTP_AUTHORIZATION="Bearer rag_12345678_wrong").startswith("The API key was not accepted")
    assert detail(HTTP_AUTHORIZATION="Token abc").startswith("The Authorization header is not an API key")
    # A revoked key reads like any wrong key: the answer does not say which keys exist.
    api_key, key = ApiKey.create_key(user, "bot")
    api_key.revoke()
    assert detail(HTTP_AUTHORIZATION=f"Bearer {key}") == detail(HTTP_AUTHORIZATION="Bearer rag_12345678_wrong")
    assert key not in detail(HTTP_AUTHORIZATION=f"Bearer {key}")
