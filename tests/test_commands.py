from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from django_rag.models import Chunk, Collection, Document


@pytest.mark.django_db
def test_rag_ingest_adds_files_and_skips_unchanged_ones(tmp_path, capsys):
    (tmp_path / "guide.md").write_text("# Guide\n\nInstall django-rag with pip. " * 20)
    (tmp_path / "notes.txt").write_text("Parental leave is twenty days.")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # not a supported type: skipped in a directory

    call_command("rag_ingest", str(tmp_path), collection="Docs")
    out = capsys.readouterr()
    assert "2 documents: 2 ingested." in out.out
    collection = Collection.objects.get(slug="docs")
    assert set(Document.objects.filter(collection=collection).values_list("status", flat=True)) == {"ready"}
    assert Chunk.objects.filter(document__collection=collection).count() >= 2

    call_command("rag_ingest", str(tmp_path / "*.md"), str(tmp_path / "notes.txt"), collection="Docs")
    assert "2 documents: 2 unchanged." in capsys.readouterr().out
    assert Document.objects.count() == 2

    (tmp_path / "notes.txt").write_text("Parental leave is now thirty days.")
    call_command("rag_ingest", str(tmp_path / "notes.txt"), collection="Docs")
    assert "1 documents: 1 ingested." in capsys.readouterr().out
    assert Chunk.objects.filter(content__contains="thirty").exists()
    assert not Chunk.objects.filter(content__contains="twenty").exists()


@pytest.mark.django_db
def test_rag_ingest_reports_failures(tmp_path, capsys):
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n garbage")
    call_command("rag_ingest", str(tmp_path / "broken.pdf"))
    out = capsys.readouterr()
    assert "1 failed" in out.out
    assert "broken.pdf" in out.err and "PDF" in out.err


@pytest.mark.django_db
def test_rag_ingest_without_matches_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="No supported files"):
        call_command("rag_ingest", str(tmp_path / "nothing-*.md"))


@pytest.mark.django_db
def test_rag_ingest_queues_by_default_and_ingests_here_with_sync(
    tmp_path, capsys, rag_settings, django_capture_on_commit_callbacks
):
    from django_q.models import OrmQ

    rag_settings(QUEUE="django_q", INGEST_ON_SAVE=True)
    (tmp_path / "a.md").write_text("# A\n\nParental leave is twenty days.")
    (tmp_path / "b.md").write_text("# B\n\nExpenses are paid within thirty days.")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("rag_ingest", str(tmp_path / "*.md"), collection="HR handbook")
    assert "2 documents queued for ingestion (django_q)." in capsys.readouterr().out
    # One task per document: saving the files did not queue a second ingestion.
    assert OrmQ.objects.count() == 2
    assert set(Document.objects.values_list("status", flat=True)) == {"pending"}
    assert Collection.objects.get().slug == "hr-handbook"

    call_command("rag_ingest", str(tmp_path / "*.md"), collection="HR handbook", sync=True)
    captured = capsys.readouterr()
    assert "2 documents: 2 ingested." in captured.out
    assert "[" in captured.err and "2/2" in captured.err  # the progress bar
    assert OrmQ.objects.count() == 2


@pytest.mark.django_db
def test_rag_ask_prints_the_answer_and_its_sources(capsys, make_document, django_user_model):
    import django_rag

    django_rag.ingest(make_document("Parental leave is twenty days for every employee.", title="Leave policy"))
    call_command("rag_ask", "How long is parental leave?")
    out = capsys.readouterr().out
    assert "twenty days" in out and "Sources:" in out and "[1] Leave policy" in out

    django_user_model.objects.create_user("ann")
    call_command("rag_ask", "How long is parental leave?", user="ann", collection="handbook")
    assert "Leave policy" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No user 'bob'"):
        call_command("rag_ask", "parental leave", user="bob")
    with pytest.raises(CommandError, match="No collection"):
        call_command("rag_ask", "parental leave", collection="nope")
    with pytest.raises(CommandError, match="too long|characters"):
        call_command("rag_ask", "x" * 5000)


@pytest.mark.django_db
def test_rag_reindex_with_another_embedder_and_failed_only(capsys, make_document, rag_settings):
    from datetime import timedelta

    from django.utils import timezone

    import django_rag

    settings = rag_settings()
    rag_settings(EMBEDDERS={
        **settings["EMBEDDERS"],
        "small": {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": {"dimensions": 32}},
    })
    good = make_document("Parental leave is twenty days.")
    broken = make_document(b"%PDF-1.7 garbage", name="broken.pdf")
    stuck = make_document("Laptops lock after five minutes.")
    for document in (good, broken):
        django_rag.ingest(document)
    Document.objects.filter(pk=stuck.pk).update(status="processing", updated_at=timezone.now() - timedelta(hours=2))

    call_command("rag_reindex", "--failed-only", "--sync")
    captured = capsys.readouterr()
    assert "2 documents: 1 failed, 1 ingested." in captured.out and "broken" in captured.err
    assert Document.objects.get(pk=stuck.pk).status == "ready"

    call_command("rag_reindex", "--embedder", "small", "--sync")
    assert "3 documents: 1 failed, 2 ingested." in capsys.readouterr().out
    embedders = set(Chunk.objects.values_list("embedder", flat=True))
    assert len(embedders) == 1 and "32" in embedders.pop()

    with pytest.raises(CommandError, match="Unknown embedder 'nope'"):
        call_command("rag_reindex", "--embedder", "nope")


@pytest.mark.django_db
def test_rag_reindex_queues_on_django_q(capsys, make_document, rag_settings, django_capture_on_commit_callbacks):
    from django_q.models import OrmQ

    rag_settings(QUEUE="django_q")
    make_document("Parental leave is twenty days.")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("rag_reindex")
    assert "1 documents queued for ingestion (django_q)." in capsys.readouterr().out
    assert OrmQ.objects.count() == 1


@pytest.mark.django_db
def test_rag_status_counts_documents_chunks_and_the_queue(capsys, make_document, rag_settings):
    from datetime import timedelta

    from django.utils import timezone

    import django_rag

    django_rag.ingest(make_document("Parental leave is twenty days."))
    django_rag.ingest(make_document(b"%PDF-1.7 garbage", name="broken.pdf"))
    stuck = make_document("Laptops lock after five minutes.")
    Document.objects.filter(pk=stuck.pk).update(status="processing", updated_at=timezone.now() - timedelta(hours=2))
    rag_settings(QUEUE="django_q")
    call_command("rag_status")
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split()[-1] for line in out.splitlines() if line.strip()}
    assert lines["Ready"] == "1" and lines["Failed"] == "1" and lines["Processing"] == "1"
    assert "1 stuck in processing" in out and "Queue: django_q" in out and "waiting tasks (ORM broker): 0" in out
    assert lines["Total"] == str(Chunk.objects.count())  # the chunks' total, printed last
    assert "Failed: broken.pdf" in out
