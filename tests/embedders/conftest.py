from __future__ import annotations

import pytest

from django_rag.embedders import embedders
from tests.fake_providers import FakeProvider

# Several paragraphs so that CHUNK_SIZE=400 (tests/settings.py) makes a handful of chunks
# and EMBED_BATCH_SIZE can split them into more than one request.
POLICY = "\n\n".join(
    f"# Section {n}\n\n"
    + f"Paragraph {n} explains rule {n} of the leave policy in plain words. " * 6
    for n in range(1, 5)
)

# Deliberately not shaped like "sk-...": redact()'s patterns would hide that shape anyway,
# so this key is only kept out of messages if the backend reports it in `secrets`.
API_KEY = "proj-4f9c2e7b1a6d8035c9e1"


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
