"""Source.as_dict: the plain fields the API, the stream and the answer cache carry."""

from __future__ import annotations

import dataclasses

from django_rag.generation.answers import Source


def test_as_dict_is_every_plain_field_and_never_the_instances():
    chunk, document = object(), object()  # stand-ins: as_dict must not touch (or copy) them
    source = Source(number=1, chunk_id=7, document_id=3, title="Leave policy", url="/rag/documents/3/file",
                    page=2, score=0.5, snippet="Parental leave…", text="Parental leave is …",
                    chunk=chunk, document=document)
    data = source.as_dict()
    expected = {f.name: getattr(source, f.name) for f in dataclasses.fields(Source)}
    for dropped in ("chunk", "document", "text"):
        expected.pop(dropped)
    assert data == expected
    assert not any(value is chunk or value is document for value in data.values())
