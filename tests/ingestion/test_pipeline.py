from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import django_rag
from django_rag.models import Chunk, Document

from .conftest import chunk_rows, searchable

LEAVE = "# Leave\n\nEmployees get twenty days of paid parental leave.\n\n" + "Filler sentence about policy. " * 60
WRITES = ("INSERT", "UPDATE", "DELETE", "COPY")


def writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]


@pytest.mark.django_db
def test_ingest_text_file_creates_chunks_with_metadata(make_document):
    document = make_document(LEAVE, name="policy.md")
    result = django_rag.ingest(document)
    assert result.status == "ingested"
    assert result.chunks == Chunk.objects.filter(document=document).count() > 1
    document.refresh_from_db()
    assert document.status == Document.Status.READY
    assert document.chunk_count == result.chunks
    assert document.ingest_signature and document.ingested_at and document.ingest_seconds is not None
    first = Chunk.objects.filter(document=document).order_by("index").first()
    assert first.metadata["section"] == "Leave"
    assert first.language == "english"
    assert searchable(document, "parental leave")


@pytest.mark.django_db
def test_text_field_document(make_document):
    document = make_document("# Travel\n\nBook trains, not planes, under 500 km.", name="")
    assert not document.file
    assert django_rag.ingest(document.pk).status == "ingested"
    assert list(Chunk.objects.filter(document=document).values_list("content", "metadata")) == [
        ("# Travel\n\nBook trains, not planes, under 500 km.", {"section": "Travel", "heading": "Travel", "format": "markdown"})
    ]


@pytest.mark.django_db
def test_collection_language_reaches_chunks(make_document, collection):
    collection.language = "german"
    collection.save()
    document = make_document("Die Mitarbeiter bekommen Urlaub.", name="de.txt")
    assert django_rag.ingest(document).status == "ingested"
    assert Chunk.objects.get(document=document).language == "german"


# --- idempotence ------------------------------------------------------------------------


@pytest.mark.django_db
def test_unchanged_document_makes_no_embedding_call_and_no_write(make_document, testing_embedder):
    embedder = testing_embedder()
    document = make_document(LEAVE, name="policy.md")
    assert django_rag.ingest(document).status == "ingested"
    calls = len(embedder.calls)
    assert calls >= 1
    before = chunk_rows(document)
    updated_at = Document.objects.get(pk=document.pk).updated_at

    with CaptureQueriesContext(connection) as queries:
        result = django_rag.ingest(document)
    assert result.status == "unchanged" and result.embedded == 0 and result.chunks == len(before)
    assert len(embedder.calls) == calls
    assert writes(queries.captured_queries) == []
    assert chunk_rows(document) == before
    assert Document.objects.get(pk=document.pk).updated_at == updated_at


@pytest.mark.django_db
def test_force_re_embeds(make_document, testing_embedder):
    embedder = testing_embedder()
    document = make_document(LEAVE, name="policy.md")
    django_rag.ingest(document)
    embedder.reset()
    before = chunk_rows(document)
    result = django_rag.ingest(document, force=True)
    assert result.status == "ingested" and result.embedded == len(before)
    assert sum(map(len, embedder.calls)) == len(before)
    after = chunk_rows(document)
    # Same content, new rows.
    assert [r[1:] for r in after] == [r[1:] for r in before]
    assert {r[0] for r in after}.isdisjoint(r[0] for r in before)


@pytest.mark.django_db
def test_changed_chunk_size_re_embeds(make_document, testing_embedder, rag_settings):
    embedder = testing_embedder()
    document = make_document(LEAVE, name="policy.md")
    first = django_rag.ingest(document)
    embedder.reset()

    rag_settings(CHUNK_SIZE=200)
    embedder = testing_embedder()  # settings changed: the handler built a new instance
    result = django_rag.ingest(document)
    assert result.status == "ingested"
    assert result.chunks > first.chunks
    assert len(embedder.calls) >= 1
    assert max(len(c) for c in Chunk.objects.filter(document=document).values_list("content", flat=True)) <= 200


@pytest.mark.django_db
def test_changed_embedder_dimensions_re_embeds(make_document, testing_embedder):
    testing_embedder(dimensions=64)
    document = make_document(LEAVE, name="policy.md")
    django_rag.ingest(document)

    embedder = testing_embedder(dimensions=32)
    result = django_rag.ingest(document)
    assert result.status == "ingested" and len(embedder.calls) >= 1
    assert set(Chunk.objects.filter(document=document).values_list("embedder", flat=True)) == {embedder.identity}
    assert embedder.identity.endswith(":32")
    assert searchable(document, "parental leave")


@pytest.mark.django_db
def test_embedder_options_outside_identity_do_not_re_embed(make_document, testing_embedder):
    # A delay or a scripted failure does not change the vectors, so it is not a reason
    # to pay for embedding again.
    testing_embedder()
    document = make_document(LEAVE, name="policy.md")
    django_rag.ingest(document)
    embedder = testing_embedder(delay=0.01)
    assert django_rag.ingest(document).status == "unchanged"
    assert embedder.calls == []


@pytest.mark.django_db
def test_failed_document_returns_to_ready_with_original_content(make_document, testing_embedder, replace_file):
    embedder = testing_embedder()
    document = make_document(LEAVE, name="policy.md")
    django_rag.ingest(document)
    before = chunk_rows(document)

    replace_file(document, b"")
    assert django_rag.ingest(document).status == "failed"
    replace_file(document, LEAVE.encode())
    embedder.reset()

    result = django_rag.ingest(document)
    assert result.status == "unchanged"
    assert embedder.calls == []
    document.refresh_from_db()
    assert document.status == Document.Status.READY and document.error == ""
    assert chunk_rows(document) == before


@pytest.mark.django_db
def test_saving_the_instance_after_ingest_keeps_the_outcome(make_document, testing_embedder):
    # Admin code and signal handlers save the instance they passed to ingest(); that
    # save must not write back the status and signature from before the ingestion.
    embedder = testing_embedder()
    document = make_document(LEAVE, name="policy.md")
    django_rag.ingest(document)
    assert document.status == Document.Status.READY
    document.source_url = "https://example.com/policy"  # changes nothing the chunks hold
    document.save()
    embedder.reset()
    assert django_rag.ingest(document).status == "unchanged"
    assert embedder.calls == []


# --- batching ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_embedding_is_batched(make_document, testing_embedder, rag_settings):
    rag_settings(EMBED_BATCH_SIZE=3, CHUNK_SIZE=60, CHUNK_OVERLAP=0)
    embedder = testing_embedder()
    paragraphs = [f"Paragraph number {i} talks about topic {i}." for i in range(10)]
    document = make_document("\n\n".join(paragraphs), name="ten.txt")
    result = django_rag.ingest(document)
    assert result.chunks == 10
    assert [len(batch) for batch in embedder.calls] == [3, 3, 3, 1]
    # Batches keep document order, and the stored index follows it.
    chunks = list(Chunk.objects.filter(document=document).order_by("index"))
    assert [c.content for c in chunks] == paragraphs
    assert [text for batch in embedder.calls for text in batch] == [c.embedding_text for c in chunks]


# --- the swap is one transaction ----------------------------------------------------------

# Faults are injected with PostgreSQL triggers rather than by patching Python: the
# failure then happens where a real one would (inside the server, in the middle of the
# COPY or of the final UPDATE), and the test exercises the real transaction handling.
# The trigger DDL is rolled back with the test's transaction.

FAIL_FUNCTION = """
CREATE FUNCTION pg_temp.rag_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'injected fault'; END $$
"""


@pytest.mark.django_db
def test_failure_in_the_middle_of_copy_keeps_old_chunks(make_document, replace_file, rag_settings):
    rag_settings(CHUNK_SIZE=100, CHUNK_OVERLAP=0)
    document = make_document(LEAVE, name="policy.md")
    django_rag.ingest(document)
    before = chunk_rows(document)
    replace_file(document, ("New expenses paragraph with receipts.\n\n" * 12).encode())
    with connection.cursor() as cursor:
        cursor.execute(FAIL_FUNCTION)
        # Row 5 of the new set: the old rows are deleted and five new ones written.
        cursor.execute(
            "CREATE TRIGGER rag_fail AFTER INSERT ON django_rag_chunk FOR EACH ROW "
            "WHEN (NEW.index = 5) EXECUTE FUNCTION pg_temp.rag_fail()"
        )
    with pytest.raises(Exception, match="injected fault"):
        django_rag.ingest(document)
    assert chunk_rows(document) == before
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert "injected fault" in document.error and document.error.startswith("Unexpected error")
    assert searchable(document, "parental leave")


@pytest.mark.django_db
def test_failure_recording_the_outcome_rolls_back_the_swap(make_document, replace_file, testing_embedder):
    embedder = testing_embedder()
    document = make_document(LEAVE, name="policy.md")
    django_rag.ingest(document)
    before = chunk_rows(document)
    replace_file(document, b"Entirely different text about expenses.")
    with connection.cursor() as cursor:
        cursor.execute(FAIL_FUNCTION)
        cursor.execute(
            "CREATE TRIGGER rag_fail BEFORE UPDATE ON django_rag_document FOR EACH ROW "
            "WHEN (NEW.status = 'ready') EXECUTE FUNCTION pg_temp.rag_fail()"
        )
    with pytest.raises(Exception, match="injected fault"):
        django_rag.ingest(document)
    # New chunks with the old signature would pass for "unchanged" next time.
    assert chunk_rows(document) == before
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER rag_fail ON django_rag_document")
    replace_file(document, LEAVE.encode())
    embedder.reset()
    assert django_rag.ingest(document).status == "unchanged"
    assert chunk_rows(document) == before


@pytest.mark.django_db
def test_document_with_a_bigint_id(make_document):
    # Ids past 2**31 exist on busy sites and must still fit the advisory lock's keys.
    document = make_document(LEAVE, name="policy.md", pk=2**31 + 7)
    assert django_rag.ingest(document).status == "ingested"


# --- chunk context ------------------------------------------------------------------------


@pytest.mark.django_db
def test_chunks_carry_title_and_section_as_context(make_document, testing_embedder):
    embedder = testing_embedder()
    document = make_document("# Leave\n\n## Parental\n\nTwenty days.", name="handbook.md", title="Staff handbook")
    django_rag.ingest(document)
    (chunk,) = Chunk.objects.filter(document=document)
    assert chunk.context == "Staff handbook > Leave > Parental"
    assert "Staff handbook" not in chunk.content
    assert embedder.calls == [[f"Staff handbook > Leave > Parental\n\n{chunk.content}"]]
    # The context is searchable: the title finds a chunk whose content never names it.
    assert Chunk.objects.keyword("staff handbook").first() == chunk


@pytest.mark.django_db
def test_title_repeated_by_the_first_heading_appears_once(make_document):
    document = make_document("# Staff handbook\n\nWelcome.", name="h.md", title="Staff handbook")
    django_rag.ingest(document)
    assert Chunk.objects.get(document=document).context == "Staff handbook"


@pytest.mark.django_db
def test_context_can_be_turned_off_and_that_re_embeds(make_document, testing_embedder, rag_settings):
    embedder = testing_embedder()
    document = make_document("Plain text.", name="p.txt", title="Title")
    django_rag.ingest(document)
    rag_settings(CHUNK_CONTEXT=False)
    embedder = testing_embedder()
    assert django_rag.ingest(document).status == "ingested"
    assert Chunk.objects.get(document=document).context == ""
    assert embedder.calls == [["Plain text."]]
