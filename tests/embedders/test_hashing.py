from __future__ import annotations

import math
import subprocess
import sys

from django_rag.embedders.hashing import Embedder


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b))


def test_vectors_are_unit_length_and_of_the_configured_dimension():
    embedder = Embedder(alias="t", dimensions=96)
    (vector,) = embedder.embed_documents(["Parental leave is twenty days."])
    assert len(vector) == 96
    assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-9)


def test_lexical_similarity_is_real():
    embedder = Embedder(alias="t", dimensions=384)
    query = embedder.embed_query("parental leave policy")
    related = embedder.embed_query("Our policy on parental leave for new parents")
    unrelated = embedder.embed_query("The quarterly revenue grew in Europe")
    # Word pieces count too: an inflected form is closer than an unrelated word.
    inflected = embedder.embed_query("parenting")
    assert cosine(query, related) > cosine(query, unrelated) + 0.2
    assert cosine(embedder.embed_query("parent"), inflected) > cosine(embedder.embed_query("parent"), unrelated)


def test_vectors_are_identical_across_processes():
    # Python's hash() is salted per process; the embedder must not depend on it.
    code = (
        "from django_rag.embedders.hashing import Embedder;"
        "print(Embedder(alias='t', dimensions=16).embed_query('stable across processes'))"
    )
    outputs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout
        for seed in (1, 2)
    }
    assert len(outputs) == 1


def test_empty_text_gives_a_zero_vector_not_an_error():
    assert Embedder(alias="t", dimensions=8).embed_query("!!! ...") == [0.0] * 8


def test_identity_changes_with_options():
    assert Embedder(alias="a", dimensions=64).identity != Embedder(alias="a", dimensions=128).identity
    assert Embedder(alias="a").identity == Embedder(alias="b").identity
