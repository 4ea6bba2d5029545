"""Re-embedding, switching and rolling back, against real PostgreSQL (docs/embedding-models.md)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

import django_rag
from django_rag import reembed
from django_rag.models import Chunk, Document, EmbedderState
from django_rag.tasks import queue_reembed_slices

pytestmark = pytest.mark.django_db


def side_rows(identity: str) -> dict[int, bool]:
    """chunk id -> has a vector, of ``identity`` in the side table."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT chunk_id, embedding IS NOT NULL FROM {reembed.SIDE_TABLE} WHERE embedder = %s", [identity]
        )
        return dict(cursor.fetchall())


def column_state() -> list[tuple]:
    """Every chunk as stored: id, document, position, text, vector, embedder."""
    with connection.cursor() as cursor:
        cursor.execute('SELECT id, document_id, "index", content, embedding::text, embedder FROM django_rag_chunk ORDER BY id')
        return cursor.fetchall()


def postings_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_rag_posting")
        return cursor.fetchone()[0]


def test_a_full_reembed_then_switch_uses_the_new_vectors_and_touches_no_chunk(two_embedders, corpus):
    default, large = two_embedders()
    before, postings = column_state(), postings_count()
    chunks = len(before)
    default.reset()

    result = reembed.reembed("large", batch_size=5)

    assert result.embedded == chunks and result.failed == 0 and result.missing == 0
    # Only the new vectors: no extraction, no chunking, no BM25 postings, no default call.
    assert column_state() == before and postings_count() == postings and default.calls == []
    assert sum(len(call) for call in large.calls) == chunks
    stored = side_rows(large.identity)
    assert set(stored) == {row[0] for row in before} and all(stored.values())
    assert reembed.side_index_state(large) == "valid"

    # Before the switch searches use default; after it, large (its query embedding is asked for).
    assert reembed.active_alias() == "default"
    default_hits = [c.document_id for c in Chunk.objects.top("parental leave months", 3, mode="semantic")]
    activation = reembed.activate("large")
    assert (activation.previous, activation.alias) == ("default", "large")
    large.reset()
    hits = Chunk.objects.top("parental leave months", 3, mode="semantic")
    assert large.query_calls == ["parental leave months"]
    assert len(hits) == 3 and hits[0].distance is not None
    # The same lexical test embedder at another dimension finds the same document first.
    assert hits[0].document_id == default_hits[0]
    answer = django_rag.ask("How long does parental leave last?")
    assert answer.sources and "leave" in answer.sources[0].chunk.content.lower()
    assert EmbedderState.objects.get(active=True).alias == "large"


def test_rollback_is_one_activation_and_both_vector_sets_stay(two_embedders, corpus):
    default, large = two_embedders()
    reembed.reembed("large")
    reembed.activate("large")
    # A document uploaded after the switch still gets default's vectors, for the rollback.
    new = Document.objects.create(title="Canteen", text="The canteen opens at noon for lunch.")
    assert django_rag.ingest(new).status == "ingested"
    new_chunks = list(new.chunks.values_list("id", "embedder"))
    assert {embedder for _id, embedder in new_chunks} == {default.identity}
    assert all(side_rows(large.identity)[chunk_id] for chunk_id, _ in new_chunks)

    with django_rag_queries() as queries:
        reembed.activate("default")
    assert queries.count <= 12  # one short transaction, no vector is moved
    assert reembed.active_alias() == "default"
    default.reset()
    large.reset()
    hits = Chunk.objects.top("canteen noon lunch", 3, mode="semantic")
    assert default.query_calls and not large.query_calls
    assert hits[0].document_id == new.pk
    assert set(side_rows(large.identity)) >= {chunk_id for chunk_id, _ in new_chunks}


class django_rag_queries:  # noqa: N801 - a context manager used like CaptureQueriesContext
    def __enter__(self):
        from django.test.utils import CaptureQueriesContext

        self.context = CaptureQueriesContext(connection)
        self.context.__enter__()
        return self

    def __exit__(self, *exc):
        self.context.__exit__(*exc)

    @property
    def count(self):
        return len(self.context.captured_queries)


def test_an_upload_during_the_reembed_gets_vectors_from_both(two_embedders, corpus):
    default, large = two_embedders()
    uploaded = []

    class IngestOnFirstBatch:
        def advance(self, n=1, note=""):
            if not uploaded:
                document = Document.objects.create(title="Canteen", text="The canteen opens at noon for lunch.")
                assert django_rag.ingest(document).status == "ingested"
                uploaded.append(document)

    result = reembed.reembed("large", batch_size=2, progress=IngestOnFirstBatch())

    document = uploaded[0]
    ids = list(document.chunks.values_list("id", flat=True))
    assert ids and set(document.chunks.values_list("embedder", flat=True)) == {default.identity}
    stored = side_rows(large.identity)
    assert all(stored.get(chunk_id) for chunk_id in ids)
    assert result.missing == 0
    reembed.activate("large")
    assert Chunk.objects.top("canteen noon", 1, mode="semantic")[0].document_id == document.pk


def test_reingesting_a_document_replaces_its_side_vectors_too(two_embedders, corpus):
    _default, large = two_embedders()
    reembed.reembed("large")
    document = corpus[0]
    old = set(document.chunks.values_list("id", flat=True))
    document.text = "Completely new text about the car park and its opening hours."
    document.save()
    assert django_rag.ingest(document).status == "ingested"
    stored = side_rows(large.identity)
    assert not old & set(stored)  # the old chunks' vectors went with them (the trigger)
    assert all(stored[c] for c in document.chunks.values_list("id", flat=True))
    assert reembed.coverage(large)["missing"] == 0
    document.delete()
    assert reembed.coverage(large) == {**reembed.coverage(large), "missing": 0}
    assert len(side_rows(large.identity)) == Chunk.objects.count()


def test_activation_is_refused_on_partial_coverage_unless_forced(two_embedders, corpus):
    _default, large = two_embedders()
    first = Chunk.objects.order_by("id").values_list("id", flat=True)[2]
    reembed.reembed("large", last_id=first)  # three chunks only
    counts = reembed.coverage(large)
    assert counts["covered"] == 3 and counts["missing"] > 0

    with pytest.raises(reembed.ReembedError) as refused:
        reembed.activate("large")
    message = str(refused.value)
    assert f"3 of {counts['total']} chunks" in message and "rag_reembed --to large" in message and "--force" in message
    assert reembed.active_alias() == "default"
    with pytest.raises(CommandError, match="Not activating 'large'"):
        call_command("rag_activate_embedder", "large")

    activation = reembed.activate("large", force=True)
    assert activation.forced and reembed.active_alias() == "large"
    # Searches work: the chunks without a vector are found by the keyword leg only.
    assert Chunk.objects.top("parental leave", 5)


def test_an_embedder_never_reembedded_cannot_be_activated(two_embedders, corpus):
    two_embedders()
    with pytest.raises(reembed.ReembedError, match="0 of"):
        reembed.activate("large")
    with pytest.raises(reembed.ReembedError, match="not an entry"):
        reembed.activate("huge")


def test_the_chunks_own_embedder_is_not_reembedded_into_the_side_table(two_embedders, corpus):
    two_embedders()
    with pytest.raises(reembed.ReembedError, match="already made the vectors in the chunk table"):
        reembed.reembed("default")


def test_refused_chunks_are_retried_then_recorded_and_listed(two_embedders, corpus, capsys):
    poison = Document.objects.create(title="Bad", text="This one holds POISON for the provider.")
    assert django_rag.ingest(poison).status == "ingested"  # default takes it
    refusing = {"BACKEND": "tests.reembed.embedders.Refusing", "OPTIONS": {"dimensions": 48}}
    _default, large = two_embedders(large=refusing)

    result = reembed.reembed("large", batch_size=4)

    bad = list(poison.chunks.values_list("id", flat=True))
    assert result.failed == len(bad) and result.embedded == Chunk.objects.count() - len(bad)
    stored = side_rows(large.identity)
    assert [chunk for chunk, has in stored.items() if not has] == bad
    failures = reembed.failures(large)
    assert failures[0]["document"] == poison.pk and "refused" in failures[0]["error"]
    call_command("rag_reembed", status=True)
    out = capsys.readouterr().out
    assert f"failed: chunk {bad[0]} (document {poison.pk})" in out and "refused" in out
    with pytest.raises(reembed.ReembedError, match="1 of them failed"):
        reembed.activate("large")

    # A new run tries the failed chunks again (and only them).
    large.reset()
    poison.text = "Now harmless."
    Chunk.objects.filter(document=poison).update(content="Now harmless.")
    again = reembed.reembed("large")
    assert again.embedded == len(bad) and again.failed == 0 and sum(map(len, large.calls)) == len(bad)
    assert reembed.activate("large").coverage["missing"] == 0


def test_an_outage_stops_the_run_which_resumes_later(two_embedders, corpus):
    from django_rag.exceptions import EmbeddingUnavailable

    _default, large = two_embedders(EMBED_RETRIES=1, EMBED_RETRY_DELAY=0)
    working = large.embed_documents
    calls = []

    def down(texts):
        calls.append(texts)
        raise EmbeddingUnavailable("HTTP 503 from the provider")

    large.embed_documents = down
    result = reembed.reembed("large", batch_size=2)
    assert result.stopped.startswith(f"{reembed.MAX_FAILED_BATCHES_IN_A_ROW} batches in a row failed")
    assert "HTTP 503" in result.stopped
    assert len(calls) == 2 * reembed.MAX_FAILED_BATCHES_IN_A_ROW  # each batch tried twice (EMBED_RETRIES=1)
    assert result.failed == 2 * reembed.MAX_FAILED_BATCHES_IN_A_ROW and result.index is None

    large.embed_documents = working  # the provider is back
    resumed = reembed.reembed("large", batch_size=2)
    assert resumed.failed == 0 and resumed.missing == 0 and resumed.embedded == Chunk.objects.count()


def test_the_commands_reembed_report_status_activate_and_drop(two_embedders, corpus, capsys):
    _default, large = two_embedders()
    call_command("rag_reembed", to="large", batch_size=3)
    out = capsys.readouterr().out
    assert "Every chunk has a vector" in out and "rag_activate_embedder large" in out

    call_command("rag_reembed", status=True)
    out = capsys.readouterr().out
    total = Chunk.objects.count()
    assert f"large ({large.identity}), side table" in out and f"{total:,} / {total:,} chunks (100.0%)" in out
    assert "HNSW index: valid" in out and "default (" in out and "[ACTIVE]" in out

    call_command("rag_activate_embedder", "large")
    assert "Searches now use 'large' (was 'default')" in capsys.readouterr().out
    with pytest.raises(CommandError, match="active embedder"):
        call_command("rag_reembed", drop="large")
    with pytest.raises(CommandError, match="cannot be dropped on their own"):
        call_command("rag_reembed", drop="default")

    call_command("rag_activate_embedder", "default")
    call_command("rag_reembed", drop="large")
    assert f"Dropped {total} re-embedded vectors" in capsys.readouterr().out
    assert side_rows(large.identity) == {} and reembed.side_index_state(large) == "missing"
    assert not EmbedderState.objects.filter(alias="large").exists()
    with pytest.raises(CommandError, match="no re-embedded vectors"):
        call_command("rag_reembed", drop="large")
    # New documents no longer get large's vectors.
    document = Document.objects.create(title="Late", text="A late memo about parking.")
    django_rag.ingest(document)
    assert side_rows(large.identity) == {}


def test_the_rate_limit_spaces_the_batches(two_embedders, corpus):
    two_embedders()
    chunks = Chunk.objects.count()
    result = reembed.reembed("large", batch_size=2, rate=40)
    # Each batch of 2 takes at least 2/40 s, the last one too.
    assert result.seconds >= (chunks / 40) * 0.9


def test_changed_settings_are_caught_by_checks_and_refused(two_embedders, corpus):
    from django.core import checks

    two_embedders()
    reembed.reembed("large")
    reembed.activate("large")
    two_embedders(large={"BACKEND": "django_rag.embedders.testing.Embedder", "OPTIONS": {"dimensions": 32}})
    ids = {m.id for m in checks.run_checks(databases=["default"], tags=[checks.Tags.database])}
    assert "django_rag.E102" in ids
    with pytest.raises(reembed.ReembedError, match="settings now give"):
        reembed.activate("large")
    with pytest.raises(reembed.ReembedError, match="--drop large"):
        reembed.reembed("large")

    EmbedderState.objects.filter(alias="large").update(active=False)
    EmbedderState.objects.filter(alias="default").delete()
    ids = {m.id for m in checks.run_checks(databases=["default"], tags=[checks.Tags.database])}
    assert "django_rag.E103" in ids and "django_rag.E102" not in ids
    EmbedderState.objects.filter(alias="large").update(alias="gone", active=True)
    ids = {m.id for m in checks.run_checks(databases=["default"], tags=[checks.Tags.database])}
    assert "django_rag.E100" in ids
    EmbedderState.objects.filter(alias="gone").update(active=False)
    ids = {m.id for m in checks.run_checks(databases=["default"], tags=[checks.Tags.database])}
    assert "django_rag.E101" in ids


def test_the_admin_shows_coverage_per_embedder_and_allows_no_change(two_embedders, corpus, admin_client):
    two_embedders()
    reembed.reembed("large")
    page = admin_client.get("/admin/django_rag/embedderstate/")
    assert page.status_code == 200
    text = page.content.decode()
    total = Chunk.objects.count()
    assert "Configured embedders" in text and f"{total} / {total} chunks (100.0%)" in text
    state = EmbedderState.objects.get(alias="large")
    assert admin_client.post(f"/admin/django_rag/embedderstate/{state.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/django_rag/embedderstate/add/").status_code == 403
    assert EmbedderState.objects.filter(alias="large").exists()


def test_rag_eval_compares_two_embedders_on_the_same_questions(two_embedders, corpus, tmp_path, capsys):
    import json

    two_embedders()
    reembed.reembed("large")
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps({"question": q, "relevant_document_ids": [t]}) for q, t in [
        ("How long is parental leave?", "Leave"), ("Where are receipts kept?", "Travel"),
    ]))
    for alias in ("default", "large"):
        call_command("rag_eval", str(questions), "--embedder", alias, "--mode", "semantic", "--id-field", "title",
                     "--no-answers")
        out = capsys.readouterr().out
        assert f"embedder {django_rag.embedders.embedders[alias].identity}" in out
    with pytest.raises(CommandError):
        call_command("rag_eval", str(questions), "--embedder", "huge", "--no-answers")


def test_queued_slices_share_the_work_and_the_next_run_builds_the_index(two_embedders, corpus):
    _default, large = two_embedders()
    total = Chunk.objects.count()
    # The tests' queue runs each task inline: each slice embeds its own range of ids.
    tasks = queue_reembed_slices("large", slice_size=2)
    assert tasks >= total // 2
    assert reembed.coverage(large)["missing"] == 0 and reembed.side_index_state(large) == "missing"
    large.reset()
    finish = reembed.reembed("large")
    assert finish.embedded == 0 and large.calls == [] and reembed.side_index_state(large) == "valid"
    with pytest.raises(CommandError, match="--queue needs a task queue"):
        call_command("rag_reembed", to="large", queue=True)


@pytest.mark.django_db(transaction=True)  # outside a transaction, as rag_reembed builds it
@pytest.mark.parametrize("workers", [0, 1, None])
@pytest.mark.parametrize("in_transaction", [False, True])
def test_the_side_index_is_built_with_the_configured_parallel_workers(two_embedders, corpus, workers, in_transaction):
    # What the build statement ran with, as PostgreSQL saw it: an execute wrapper asks the
    # same connection for the setting just before CREATE INDEX runs.
    from django.db import transaction

    _default, large = two_embedders(REEMBED_INDEX_WORKERS=workers)
    reembed.reembed("large", batch_size=50, build_index=False)
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_maintenance_workers")
        server_default = cursor.fetchone()[0]
        cursor.execute(f"DROP INDEX IF EXISTS {reembed.side_index_name(large)}")
    seen = []

    def record(execute, sql, params, many, context):
        if sql.startswith("CREATE INDEX"):
            with context["connection"].connection.cursor() as raw:
                raw.execute("SHOW max_parallel_maintenance_workers")
                seen.append(raw.fetchone()[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        if in_transaction:  # SET LOCAL: it ends with the transaction, whatever the build did
            with transaction.atomic():
                assert reembed.ensure_side_index(large) == reembed.side_index_name(large)
        else:  # CONCURRENTLY, then RESET
            assert reembed.ensure_side_index(large) == reembed.side_index_name(large)
    assert seen == [server_default if workers is None else str(workers)]
    assert reembed.side_index_state(large) == "valid"
    with connection.cursor() as cursor:  # back to the server's: the connection may serve other work
        cursor.execute("SHOW max_parallel_maintenance_workers")
        assert cursor.fetchone()[0] == server_default
