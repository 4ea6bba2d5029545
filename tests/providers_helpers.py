"""Helpers shared by the provider tests in tests/embedders/ and tests/llms/."""

from __future__ import annotations

import importlib
import socket
import sys

import pytest

from django_rag.exceptions import ImproperlyInstalled

# Deliberately not shaped like "sk-...": redact()'s patterns would hide that shape anyway,
# so this key is only kept out of messages if the backend reports it in `secrets`.
API_KEY = "proj-4f9c2e7b1a6d8035c9e1"


def assert_no_secret(text: str) -> None:
    assert API_KEY not in text
    assert API_KEY[5:14] not in text  # not even a fragment


def closed_port_url() -> str:
    """A URL where nothing listens: the port was free a moment ago, so connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % probe.getsockname()[1]


def assert_import_names_the_missing_extra(
    monkeypatch: pytest.MonkeyPatch, backend_module: str, sdk_module: str, package: str, extra: str
) -> None:
    """Import ``backend_module`` as if ``sdk_module`` were not installed."""
    # The one thing simulated: the package being absent (it is installed for the rest of
    # the suite, and cannot be uninstalled mid-run). A None entry in sys.modules makes
    # the import fail exactly as for a missing module, so the real guard at the top of
    # the backend module runs.
    monkeypatch.setitem(sys.modules, sdk_module, None)
    monkeypatch.delitem(sys.modules, backend_module, raising=False)  # force a fresh import

    with pytest.raises(ImproperlyInstalled) as info:
        importlib.import_module(backend_module)
    assert info.value.extra == extra and info.value.package == package
    assert f"pip install 'django-rag[{extra}]'" in str(info.value)
