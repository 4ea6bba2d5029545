"""django-ninja is an extra: the app, its models, admin, file view and checks work without it."""

from __future__ import annotations

import subprocess
import sys

from tests.settings import REPO_DIR

SCRIPT = """
import sys
sys.modules["ninja"] = None  # what an installation without the api extra looks like
import django
django.setup()
import django_rag.admin, django_rag.models, django_rag.urls
import django_rag.api.ratelimits  # the file view's and the checks' throttle: no ninja in it
from django_rag.checks import _setting_errors
from django_rag.conf import get_settings
assert _setting_errors(get_settings()) == []
try:
    from django_rag.api import router
except ImportError as exc:
    print("ERROR:", exc)
"""


def test_models_views_and_checks_import_without_ninja_and_the_router_names_its_extra():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO_DIR, capture_output=True, text=True, timeout=60,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'django-rag[api]'" in result.stdout
