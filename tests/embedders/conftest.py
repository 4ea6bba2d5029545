from __future__ import annotations

import time

import pytest

import django_rag
from django_rag.embedders import embedders
from django_rag.embedders.langchain import LangChainEmbedder
from django_rag.models import Chunk, Document
from tests.fake_providers import FakeProvider, RecordedRequest, fake_vector
from tests.providers_helpers import API_KEY, assert_no_secret

# Several paragraphs so that CHUNK_SIZE=400 (tests/settings.py) makes a handful of chunks
# and EMBED_BATCH_SIZE can split them into more than one request.
POLICY = "\n\n".join(
    f"# Section {n}\n\n"
    + f"Paragraph {n} explains rule {n} of the leave policy in plain words. " * 6
    for n in range(1, 5)
)


@pytest.fixture
def fake_provider():
    with FakeProvider() as fake:
        yield fake


@pytest.fixture
def use_embedder(rag_settings):
    """Make ``backend`` with ``options`` the default embedder and return the built instance."""

    def apply(backend: str, **options):
        rag_settings(EMBEDDERS={"default": {"BACKEND": backend, "OPTIONS": options}})
        return embedders["default"]

    return apply


#: Provider failures every provider's embedder reports alike, with a timeout of 0.3 s:
#: (the fault scripted, a part of the error message).
COMMON_FAULTS = [
    pytest.param({"kind": "hang", "seconds": 5}, "no reply within 0.3 s", id="timeout"),
    pytest.param({"kind": "malformed"}, "not a valid embeddings response", id="malformed-json"),
    pytest.param({"kind": "close"}, "connection dropped", id="connection-closed"),
]


def embed_through(embedder: LangChainEmbedder, fake: FakeProvider) -> RecordedRequest:
    """Embed two documents then a query with ``embedder``, which has built and sent nothing
    before; check each vector is its own text's, and return the documents' request."""
    assert embedder._client is None and fake.requests == []  # nothing built or sent until first use

    vectors = embedder.embed_documents(["parental leave", "remote work"])
    size = embedder.dimensions
    assert vectors == [pytest.approx(fake_vector("parental leave", size)), pytest.approx(fake_vector("remote work", size))]
    assert embedder.embed_query("how much leave?") == pytest.approx(fake_vector("how much leave?", size))

    first = fake.requests[0]
    assert first.json["input"] == ["parental leave", "remote work"]  # text, one request per batch
    return first


def assert_failure_keeps_previous_chunks(fake: FakeProvider, document: Document, fault: dict, message: str) -> None:
    """Ingest ``document``, then again while ``fake`` has ``fault`` scripted: the second
    ingestion fails with ``message``, and the chunks of the first stay in place."""
    assert django_rag.ingest(document).status == "ingested"
    before = list(Chunk.objects.filter(document=document).values_list("pk", "content"))

    fake.fail(**fault)
    started = time.monotonic()
    result = django_rag.ingest(document, force=True)

    assert time.monotonic() - started < 3  # the timeout option bounds the wait
    # embedding_timeout / embedding_unavailable for faults a retry may get past.
    assert result.status == "failed" and result.error_code.startswith("embedding_")
    assert message in result.error and "Embedder 'default'" in result.error
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED and document.error == result.error
    assert list(Chunk.objects.filter(document=document).values_list("pk", "content")) == before


def ingest_with_the_key_refused(fake: FakeProvider, document: Document) -> str:
    """Ingest ``document`` while ``fake`` refuses the key with a 401 that echoes it back;
    check that the key was sent and is not in the stored error, and return that error."""
    fake.fail("unauthorized")
    result = django_rag.ingest(document)
    assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    document.refresh_from_db()
    assert result.status == "failed" and "HTTP 401" in document.error
    assert_no_secret(document.error)
    return document.error
