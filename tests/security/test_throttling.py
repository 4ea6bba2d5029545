"""Class 3: throttling cannot be dodged.

Real requests through Django's full stack (the test project's NinjaAPI and URLconf), the
real cache counters. The clock is pinned mid-window so a count never straddles a window's
end (the counting itself runs unchanged).
"""

from __future__ import annotations

import types

import pytest
from django.core.cache import caches
from django.test import Client

from django_rag.models import ApiKey
from django_rag.api.ratelimits import client_address

pytestmark = pytest.mark.django_db

SEARCH = "/api/rag/search?q=leave"
PINNED = 86_400 * 20_833 + 30.0  # 30 s past a minute, an hour and a day boundary


@pytest.fixture(autouse=True)
def _fresh_counters(monkeypatch):
    from django_rag.api import ratelimits
    from django_rag.api import throttling

    clock = types.SimpleNamespace(time=lambda: PINNED)
    monkeypatch.setattr(throttling, "time", clock)
    monkeypatch.setattr(ratelimits, "time", clock)
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def key(django_user_model):
    return ApiKey.create_key(django_user_model.objects.create_user("reader"), "bot")[1]


def guess(client: Client, i: int, **extra):
    return client.get(SEARCH, HTTP_AUTHORIZATION=f"Bearer rag_{i:08x}_{'x' * 43}", **extra)


def test_guessing_keys_gets_429_with_retry_after(key):
    client = Client()
    statuses = [guess(client, i).status_code for i in range(10)]
    assert statuses == [401] * 10
    refused = guess(client, 10)
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert refused["Retry-After"].isdigit() and 1 <= int(refused["Retry-After"]) <= 60
    # The right key from the same address is refused too until the window ends, so a
    # right guess looks exactly like a wrong one.
    right = client.get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert right.status_code == 429 and right.content == refused.content
    # Another address is not held back.
    assert client.get(SEARCH, HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR="198.51.100.9").status_code == 200


def test_requests_without_credentials_count_as_failures():
    client = Client()
    assert [client.get(SEARCH).status_code for _ in range(10)] == [401] * 10
    assert client.get(SEARCH).status_code == 429
    assert client.post("/api/rag/ask", {"question": "x"}, content_type="application/json").status_code == 429


def test_a_fresh_x_forwarded_for_does_not_give_a_fresh_bucket():
    client = Client()
    statuses = [guess(client, i, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(14)]
    assert statuses == [401] * 10 + [429] * 4


def test_a_wrong_key_next_to_a_valid_session_is_counted(django_user_model):
    # A signed-in caller cannot guess other users' keys through the session fallback.
    client = Client()
    client.force_login(django_user_model.objects.create_user("insider"))
    statuses = [guess(client, i).status_code for i in range(11)]
    assert statuses == [200] * 10 + [429]
    assert client.get(SEARCH).status_code == 200  # the session alone still works


def test_failed_auth_limit_is_a_setting(rag_settings):
    rag_settings(API_THROTTLE={"key": None, "user": None, "failed_auth": "2/min"})
    client = Client()
    assert [guess(client, i).status_code for i in range(3)] == [401, 401, 429]


def test_a_site_listing_only_its_own_scopes_keeps_the_failed_auth_default(rag_settings):
    rag_settings(API_THROTTLE={"key": "5/min"})
    client = Client()
    assert [guess(client, i).status_code for i in range(11)][-1] == 429


def test_failed_auth_throttle_can_be_turned_off(rag_settings):
    rag_settings(API_THROTTLE={"failed_auth": None})
    client = Client()
    assert {guess(client, i).status_code for i in range(15)} == {401}


def test_trusted_proxies_set_the_client_address(rag_settings):
    rag_settings(API_TRUSTED_PROXIES=["10.0.0.0/8", "192.0.2.1"])
    proxy = {"REMOTE_ADDR": "10.1.2.3"}
    client = Client()
    # Two clients behind the proxy have buckets of their own.
    first = [guess(client, i, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy).status_code for i in range(11)]
    assert first[-1] == 429
    assert guess(client, 99, HTTP_X_FORWARDED_FOR="203.0.113.6", **proxy).status_code == 401
    # A client that prepends its own hops still lands in its real bucket: the proxy
    # appends the address it saw, and the right-most untrusted hop is the one counted.
    spoofed = guess(client, 100, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5", **proxy)
    assert spoofed.status_code == 429
    chained = guess(client, 101, HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.5, 192.0.2.1", **proxy)
    assert chained.status_code == 429


def test_an_untrusted_remote_addr_ignores_x_forwarded_for(rag_settings):
    rag_settings(API_TRUSTED_PROXIES=["10.0.0.0/8"])
    client = Client()
    statuses = [
        guess(client, i, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code for i in range(11)
    ]
    assert statuses[-1] == 429


def test_anonymous_scope_is_per_real_address(rag_settings, settings):
    # A router mounted without auth (tests/api/open_urls.py) is throttled per address.
    settings.ROOT_URLCONF = "tests.api.open_urls"
    rag_settings(API_THROTTLE={"anonymous": "3/min"})
    client = Client()
    path = "/open/rag/search?q=leave"
    statuses = [client.get(path, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    refused = client.get(path, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert refused.status_code == 429 and refused["Retry-After"].isdigit()


class _Request:
    def __init__(self, remote: str, forwarded: str | None = None) -> None:
        self.META = {"REMOTE_ADDR": remote}
        if forwarded is not None:
            self.META["HTTP_X_FORWARDED_FOR"] = forwarded


@pytest.mark.parametrize(
    "proxies, remote, forwarded, expected",
    [
        ([], "203.0.113.5", "1.2.3.4", "203.0.113.5"),
        (["10.0.0.1"], "10.0.0.1", "203.0.113.5", "203.0.113.5"),
        (["10.0.0.1"], "10.0.0.1", "6.6.6.6, 203.0.113.5", "203.0.113.5"),
        (["10.0.0.0/8"], "10.0.0.1", "203.0.113.5, 10.9.9.9", "203.0.113.5"),
        (["10.0.0.1"], "10.0.0.1", None, "10.0.0.1"),
        (["10.0.0.1"], "10.0.0.1", "10.0.0.1", "10.0.0.1"),  # every hop trusted: the left-most
        (["10.0.0.1"], "10.0.0.1", "203.0.113.5:4711", "203.0.113.5"),
        (["10.0.0.1"], "10.0.0.1", "[2001:db8::1]:443", "2001:db8::/64"),
        # IPv6 clients are counted per /64: rotating the low bits earns nothing.
        ([], "2001:db8:1:2:aaaa::1", None, "2001:db8:1:2::/64"),
        ([], "2001:db8:1:2:bbbb::9", None, "2001:db8:1:2::/64"),
        ([], "::ffff:203.0.113.5", None, "203.0.113.5"),
        (["::1"], "::1", "203.0.113.5", "203.0.113.5"),
    ],
)
def test_client_address(rag_settings, proxies, remote, forwarded, expected):
    rag_settings(API_TRUSTED_PROXIES=proxies)
    assert client_address(_Request(remote, forwarded)) == expected


def test_bad_trusted_proxies_are_a_check_error(rag_settings):
    from django.core.checks import run_checks

    rag_settings(API_TRUSTED_PROXIES=["10.0.0.0/8", "not-an-address"])
    errors = [m for m in run_checks() if m.id == "django_rag.E056"]
    assert errors and "not-an-address" in errors[0].msg
