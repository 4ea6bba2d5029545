"""Re-embedding against committed data: a killed run, searches across switches, the migration.

These tests commit (``transaction=True``): a worker process and search threads only see
committed rows, and a migration cannot run inside the test's transaction.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

import django_rag
from django_rag import reembed
from django_rag.models import Chunk
from tests.reembed.conftest import DEFAULT, TEXTS
from tests.reliability.conftest import python, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def side_count(identity: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {reembed.SIDE_TABLE} WHERE embedder = %s AND embedding IS NOT NULL", [identity])
        return cursor.fetchone()[0]


def test_a_run_killed_mid_way_resumes_where_it_stopped(two_embedders, corpus, tmp_path):
    _default, large = two_embedders()
    total = Chunk.objects.count()
    slow = {"BACKEND": "django_rag.embedders.testing.Embedder", "OPTIONS": {"dimensions": 48, "delay": 0.4}}
    worker = python(
        "from django.core.management import call_command\n"
        "call_command('rag_reembed', to='large', batch_size=2)\n",
        tmp_path / "worker.log", EMBEDDERS={"default": DEFAULT, "large": slow}, EMBEDDER_STATE_TTL=0,
    )
    try:
        wait_for(lambda: side_count(large.identity) >= 4 or worker.poll() is not None, "two batches stored")
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    done = side_count(large.identity)
    assert 4 <= done < total

    large.reset()
    result = reembed.reembed("large", batch_size=2)
    # Only the chunks the killed run had not stored, each once.
    assert result.embedded == total - done == sum(map(len, large.calls))
    assert result.missing == 0 and side_count(large.identity) == total
    reembed.activate("large")
    assert Chunk.objects.top("parental leave", 3, mode="semantic")


def test_searches_never_fail_across_switches_and_rollbacks(two_embedders, corpus):
    two_embedders()
    reembed.reembed("large")
    expected = {d.title: d.pk for d in corpus}
    stop = threading.Event()
    problems: list[str] = []
    served = []

    def search(n: int) -> None:
        try:
            while not stop.is_set():
                for mode in ("semantic", "hybrid"):
                    hits = Chunk.objects.top("parental leave months", 3, mode=mode)
                    if not hits or hits[0].document_id != expected["Leave"]:
                        problems.append(f"thread {n} {mode}: {[h.document_id for h in hits]}")
                    served.append(mode)
                answer = django_rag.ask("How long is parental leave?", mode="semantic")
                if not answer.sources:
                    problems.append(f"thread {n}: ask() found no source")
        except Exception as exc:  # noqa: BLE001 - any failure is what the test looks for
            problems.append(f"thread {n}: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=search, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        for alias in ["large", "default"] * 5:
            time.sleep(0.05)
            reembed.activate(alias)
        time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not problems, problems[:10]
    assert len(served) > 20


def test_the_migration_keeps_every_vector_of_a_populated_database(two_embedders, make_document):
    """0011 -> 0012 on a database with documents: chunks, vectors and searches unchanged."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("django_rag")
    try:
        executor.migrate([("django_rag", "0011_document_file_storage")])
        reembed.clear_cache()
        with connection.cursor() as cursor:
            assert "django_rag_embedderstate" not in connection.introspection.table_names(cursor)
        documents = []
        for title, text in TEXTS.items():
            document = make_document(text, name="", title=title)
            assert django_rag.ingest(document).status == "ingested"
            documents.append(document)
        before = _chunks()
        hits = [(c.pk, round(c.score, 6)) for c in Chunk.objects.top("parental leave months", 5)]
        assert len(before) >= 6 and hits

        executor = MigrationExecutor(connection)
        executor.migrate(latest)
        reembed.clear_cache()
        assert _chunks() == before
        assert [(c.pk, round(c.score, 6)) for c in Chunk.objects.top("parental leave months", 5)] == hits
        assert reembed.active_alias() == "default"
        # And the new schema works on the old rows: re-embed them and switch.
        result = reembed.reembed("large")
        assert result.embedded == len(before) and result.missing == 0
        reembed.activate("large")
        assert Chunk.objects.top("parental leave months", 3, mode="semantic")[0].document_id == documents[1].pk
    finally:
        MigrationExecutor(connection).migrate(latest)
        reembed.clear_cache()



def _chunks() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT id, document_id, "index", content, context, embedding::text, embedder, search_vector::text'
            " FROM django_rag_chunk ORDER BY id"
        )
        return cursor.fetchall()
