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
