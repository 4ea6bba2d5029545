"""The generic LangChain backend, with langchain-core's own DeterministicFakeEmbedding."""

from __future__ import annotations

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

import django_rag
from django_rag.checks import check_backends
from django_rag.embedders.langchain import Embedder
from django_rag.exceptions import EmbeddingError, RAGImproperlyConfigured
from django_rag.models import Chunk

from .conftest import POLICY

BACKEND = "django_rag.embedders.langchain.Embedder"
FAKE = "langchain_core.embeddings.DeterministicFakeEmbedding"


class BrokenEmbeddings(Embeddings):
    """A provider that fails the way real ones do: with its own exception type."""

    def embed_documents(self, texts):
        raise ConnectionResetError("upstream reset the connection (token sk-should-not-leak-12345)")

    def embed_query(self, text):
        return [0.0] * 8


def make(**options):
    return Embedder(alias="default", **{"class": FAKE, **options})


def test_embeds_with_a_class_given_by_dotted_path():
    embedder = make(kwargs={"size": 24}, dimensions=24)
    reference = DeterministicFakeEmbedding(size=24)
    # Exact: the backend only converts numpy floats to plain floats.
    assert embedder.embed_documents(["a", "b"]) == reference.embed_documents(["a", "b"])
    assert embedder.embed_query("q") == pytest.approx(reference.embed_query("q"))
    assert embedder.identity == f"langchain:{FAKE}:24"
    assert make(kwargs={"size": 24}, dimensions=24, model_name="fake-v1").identity == "langchain:fake-v1:24"


def test_dimensions_are_probed_lazily_when_not_given():
    embedder = make(kwargs={"size": 40})
    assert embedder._client is None  # the constructor built nothing
    assert embedder.check() == []  # probing is allowed, so no E005
    assert embedder.dimensions == 40
    assert embedder._client is not None


def test_vectors_of_another_size_than_configured_are_refused():
    embedder = make(kwargs={"size": 24}, dimensions=32)
    with pytest.raises(EmbeddingError, match="24 dimensions; its settings say 32"):
        embedder.embed_documents(["a"])
    with pytest.raises(EmbeddingError, match="24 dimensions; its settings say 32"):
        embedder.embed_query("a")


def test_an_instance_can_be_given_in_code():
    instance = DeterministicFakeEmbedding(size=12)
    embedder = Embedder(alias="x", embeddings=instance)
    assert embedder.client is instance
    assert embedder.dimensions == 12
    # Named after where the class is defined, since no dotted path was configured.
    assert embedder.model_name == "langchain_core.embeddings.fake.DeterministicFakeEmbedding"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, 'exactly one of "class"'),
        ({"class": "no.such.Embeddings"}, "could not be imported"),
        ({"class": "collections.OrderedDict"}, "is not a langchain_core Embeddings subclass"),
        ({"class": FAKE, "kwargs": ["size", 3]}, '["kwargs"] must be a dict'),
        ({"embeddings": object()}, "must be a langchain_core Embeddings instance"),
        ({"class": FAKE, "kwarg": {"size": 3}}, "unknown keys ['kwarg']"),
    ],
)
def test_configuration_errors_name_the_option(options, message):
    with pytest.raises(RAGImproperlyConfigured) as info:
        Embedder(alias="default", **options)
    assert message in str(info.value)
    assert 'DJANGO_RAG["EMBEDDERS"]["default"]' in str(info.value)


def test_kwargs_the_class_rejects_are_reported_on_first_use():
    embedder = make(kwargs={"size": "big"}, dimensions=8)
    with pytest.raises(RAGImproperlyConfigured, match=r'\["kwargs"\] were not accepted by DeterministicFakeEmbedding'):
        embedder.embed_query("x")


def test_system_check_reports_a_bad_class_path(rag_settings):
    rag_settings(EMBEDDERS={"default": {"BACKEND": BACKEND, "OPTIONS": {"class": "no.such.Embeddings"}}})
    [error] = check_backends()
    assert error.id == "django_rag.E001" and "could not be imported" in error.msg


@pytest.mark.django_db
def test_ingest_through_the_pipeline(use_embedder, make_document):
    use_embedder(BACKEND, **{"class": FAKE, "kwargs": {"size": 32}})
    document = make_document(POLICY, name="policy.md")
    result = django_rag.ingest(document)
    assert result.status == "ingested", result.error
    reference = DeterministicFakeEmbedding(size=32)
    for chunk in Chunk.objects.filter(document=document):
        assert list(chunk.embedding) == pytest.approx(reference.embed_query(chunk.embedding_text), abs=1e-6)
        assert chunk.embedder == f"langchain:{FAKE}:32"


@pytest.mark.django_db
def test_a_failing_provider_fails_the_document_with_a_redacted_message(use_embedder, make_document):
    use_embedder(BACKEND, **{"class": f"{__name__}.BrokenEmbeddings", "dimensions": 8})
    result = django_rag.ingest(make_document(POLICY, name="policy.md"))
    assert result.status == "failed"
    assert "failed on batch 1 of 1: ConnectionResetError: upstream reset the connection" in result.error
    assert "sk-should-not-leak" not in result.error
