from __future__ import annotations

import codecs

import pytest
from django.core.files.base import ContentFile
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import django_rag
from django_rag.models import Chunk, Document

from .conftest import chunk_rows

ENCODINGS = ["utf-8", "utf-16", "utf-8-sig", "cp1252", "latin-1"]
SNIPPETS = [
    "# ", "## ", "```", "~~~", "\n", "<h1>", "</h1>", "<head>", "<script>", "<table><tr><td>",
    "&amp;", "&#0;", "x", " words ", "\x00", "\ufeff",
]

uploads = st.one_of(
    st.binary(max_size=3000),
    st.builds(
        lambda text, encoding: text.encode(encoding, errors="replace"),
        st.text(max_size=1500),
        st.sampled_from(ENCODINGS),
    ),
    # Text that looks like the formats with structure: headings, fences, tags, entities.
    st.lists(
        st.sampled_from(SNIPPETS) | st.text(max_size=20),
        max_size=60,
    ).map(lambda parts: "".join(parts).encode("utf-8", errors="replace")),
)


# Each example makes its own document; the database only grows within the test's
# transaction, so sharing the function-scoped fixtures across examples is safe.
@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=uploads, name=st.sampled_from(["upload.txt", "upload.md", "upload.html", "upload.csv"]))
@example(data=codecs.BOM_UTF16_LE + "# A\x00B\nbody".encode("utf-16-le"), name="upload.md")
@example(data=b"<h1>\x00</h1>&#0;", name="upload.html")
@example(data=b"\xff\xfe\x00", name="upload.txt")  # a UTF-16 BOM with an odd byte after it
def test_any_upload_is_ingested_or_fails_with_a_message(make_document, data, name):
    good = b"topic\nA good first version about parental leave.\n" if name.endswith(".csv") else (
        b"A good first version about parental leave."
    )
    document = make_document(good, name=name)
    assert django_rag.ingest(document).status == "ingested"
    before = chunk_rows(document)

    document.file.save(name, ContentFile(data), save=False)
    document.save(update_fields=["file"])
    result = django_rag.ingest(document)  # must not raise

    document.refresh_from_db()
    if result.status in ("ingested", "unchanged"):
        contents = list(Chunk.objects.filter(document=document).values_list("content", flat=True))
        assert document.status == Document.Status.READY and document.error == ""
        assert len(contents) == result.chunks == document.chunk_count > 0
        assert all(c.strip() and "\x00" not in c for c in contents)
    else:
        assert result.status == "failed"
        assert result.error and result.error_code
        assert document.status == Document.Status.FAILED and document.error == result.error
        assert chunk_rows(document) == before
