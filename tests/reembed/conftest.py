from __future__ import annotations

import pytest

from django_rag.embedders import embedders

DEFAULT = {"BACKEND": "django_rag.embedders.testing.Embedder", "OPTIONS": {"dimensions": 64}}
LARGE = {"BACKEND": "django_rag.embedders.testing.Embedder", "OPTIONS": {"dimensions": 48}}

#: Three documents of several chunks each at the tests' CHUNK_SIZE=400.
TEXTS = {
    "Travel": "\n\n".join(f"Rule {n}: travel receipts are kept for {n} years by finance." * 3 for n in range(1, 5)),
    "Leave": "\n\n".join(f"Clause {n}: parental leave lasts {n} months for each parent." * 3 for n in range(1, 5)),
    "Security": "\n\n".join(f"Item {n}: laptops are locked with a {n}-digit code at night." * 3 for n in range(1, 5)),
}


@pytest.fixture
def two_embedders(rag_settings):
    """``default`` (64 dimensions, the chunks' own) and ``large`` (48) to re-embed into."""

    def make(large=None, **settings):
        rag_settings(EMBEDDERS={"default": DEFAULT, "large": large or LARGE}, EMBEDDER_STATE_TTL=0, **settings)
        return embedders["default"], embedders["large"]

    make()  # before the corpus is ingested (it depends on this fixture)
    return make


@pytest.fixture
def corpus(two_embedders, make_document):
    import django_rag

    documents = []
    for title, text in TEXTS.items():
        document = make_document(text, name="", title=title)
        assert django_rag.ingest(document).status == "ingested"
        documents.append(document)
    return documents
