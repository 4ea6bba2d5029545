"""What a new database connection costs django-rag, and the settings that keep them.

Real PostgreSQL throughout: a second Django connection to the test database
(``connection.copy()``), and a real psycopg pool through Django's ``OPTIONS["pool"]``.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from django_rag import checks
from django_rag.local_postgres import database_settings

pytestmark = pytest.mark.django_db(transaction=True)


class Statements:
    """Every statement a Django connection runs (an execute wrapper, installed before connecting)."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)

    def sets(self) -> list[str]:
        return [s for s in self.sql if s.startswith("SET hnsw.iterative_scan")]


@pytest.fixture
def fresh_connection():
    """A second connection to the test database with extra ``OPTIONS``, closed after the test."""
    made = []

    def make(**options):
        other = connection.copy()
        other.settings_dict["OPTIONS"] = {**other.settings_dict.get("OPTIONS", {}), **options}
        other.settings_dict["CONN_MAX_AGE"] = 0
        made.append(other)
        return other

    yield make
    for other in made:
        other.close()
        if other.settings_dict["OPTIONS"].get("pool"):
            other.close_pool()


def iterative_scan(wrapper) -> str:
    with wrapper.cursor() as cursor:
        cursor.execute("SHOW hnsw.iterative_scan")
        return cursor.fetchone()[0]


def test_a_new_connection_turns_on_iterative_scans_with_one_set(fresh_connection):
    other, statements = fresh_connection(), Statements()
    with other.execute_wrapper(statements):
        other.ensure_connection()
    assert statements.sets() == ["SET hnsw.iterative_scan = relaxed_order"]
    assert iterative_scan(other) == "relaxed_order"


def test_a_connection_handed_out_again_is_not_set_again(fresh_connection):
    # What Django does with a pooled connection on every checkout: connection_created again.
    other, statements = fresh_connection(), Statements()
    with other.execute_wrapper(statements):
        other.ensure_connection()
        connection_created.send(sender=type(other), connection=other)
        connection_created.send(sender=type(other), connection=other)
    assert len(statements.sets()) == 1
    assert iterative_scan(other) == "relaxed_order"


def test_startup_options_make_the_set_unnecessary(fresh_connection):
    other, statements = fresh_connection(options="-c hnsw.iterative_scan=relaxed_order"), Statements()
    with other.execute_wrapper(statements):
        other.ensure_connection()
    assert statements.sets() == []
    assert iterative_scan(other) == "relaxed_order"  # the server took it from the start-up packet


def test_other_startup_options_still_get_the_set(fresh_connection):
    other, statements = fresh_connection(options="-c hnsw.iterative_scan=strict_order"), Statements()
    with other.execute_wrapper(statements):
        other.ensure_connection()
    assert statements.sets() == ["SET hnsw.iterative_scan = relaxed_order"]
    assert iterative_scan(other) == "relaxed_order"


def test_django_pool_sets_each_server_connection_once(fresh_connection):
    pytest.importorskip("psycopg_pool")
    other, statements = fresh_connection(pool={"min_size": 1, "max_size": 1}), Statements()
    # Django keeps one pool per alias on the class for the whole process: a pool another
    # test left open would be handed out here, with its own connections.
    assert other.alias not in type(other)._connection_pools, "an earlier test left a pool open"
    with other.execute_wrapper(statements):
        for _ in range(3):  # three "requests", one server connection
            other.ensure_connection()
            assert iterative_scan(other) == "relaxed_order"
            other.close()
    assert len(statements.sets()) == 1


# --- the settings ---------------------------------------------------------------------


def test_database_settings_keep_connections(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@example.invalid:5432/x")
    config = database_settings(tmp_path)
    assert config["CONN_MAX_AGE"] == 60 and "CONN_HEALTH_CHECKS" not in config
    assert checks.connection_reuse_warnings("default", config) == []
    assert database_settings(tmp_path, CONN_MAX_AGE=0)["CONN_MAX_AGE"] == 0


def test_database_settings_leave_conn_max_age_to_a_pool(monkeypatch, tmp_path):
    # Django refuses CONN_MAX_AGE beside OPTIONS["pool"] ("Pooling doesn't support persistent connections").
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@example.invalid:5432/x")
    config = database_settings(tmp_path, OPTIONS={"pool": True})
    assert "CONN_MAX_AGE" not in config and config["OPTIONS"] == {"pool": True}
    assert checks.connection_reuse_warnings("default", config) == []


@pytest.mark.parametrize(
    "settings_dict, warned",
    [
        ({"ENGINE": "django.db.backends.postgresql", "CONN_MAX_AGE": 0, "OPTIONS": {}}, True),
        ({"ENGINE": "django.db.backends.postgresql", "CONN_MAX_AGE": 0, "OPTIONS": {"pool": False}}, True),
        ({"ENGINE": "django.db.backends.postgresql"}, True),
        ({"ENGINE": "django.db.backends.postgresql", "CONN_MAX_AGE": 60, "OPTIONS": {}}, False),
        ({"ENGINE": "django.db.backends.postgresql", "CONN_MAX_AGE": None, "OPTIONS": {}}, False),
        ({"ENGINE": "django.db.backends.postgresql", "CONN_MAX_AGE": 0, "OPTIONS": {"pool": True}}, False),
        ({"ENGINE": "django.db.backends.postgresql", "CONN_MAX_AGE": 0, "OPTIONS": {"pool": {"max_size": 4}}}, False),
        ({"ENGINE": "django.db.backends.sqlite3", "CONN_MAX_AGE": 0}, False),  # E003's business
    ],
)
def test_connection_reuse_warning(settings_dict, warned):
    messages = checks.connection_reuse_warnings("default", settings_dict)
    assert [m.id for m in messages] == (["django_rag.W085"] if warned else [])
    if warned:
        assert "CONN_MAX_AGE" in messages[0].msg and "pool" in messages[0].hint


def test_the_check_reads_the_database_django_rag_uses(monkeypatch):
    assert checks.check_connection_reuse() == []  # the suite's own settings keep connections
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    assert [m.id for m in checks.check_connection_reuse()] == ["django_rag.W085"]
    assert "'default'" in checks.check_connection_reuse()[0].msg
