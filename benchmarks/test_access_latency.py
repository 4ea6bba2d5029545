"""Search latency under visibility rules, against plain filters of the same selectivity.

    .venv/bin/python -m pytest benchmarks/test_access_latency.py -q -s

Not part of the suite (pytest collects tests/ only). Builds 30,000 chunks (1,000
documents in 100 collections, hashing embedder, 64 dimensions, the test settings) in the
test database, then prints the median milliseconds of semantic, keyword and hybrid
searches (k=10, 40 candidates per leg, 8 queries x 3) for: a superuser (no filter), an
anonymous visitor (10 public collections), a group member (those plus one shared
collection), the same selectivities as plain collection filters, and a user who sees one
collection only (1%). Every filtered search must still return 10 results.
"""
from __future__ import annotations

import random
import statistics
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group
from django.db import connection

from django_rag.embedders import get_embedder
from django_rag.ingestion.writer import copy_rows
from django_rag.models import Chunk, Collection, Document

WORDS = ("policy leave travel expense laptop security office budget team holiday contract salary "
         "harbour ferry council library bridge market vote parking permit tax school road").split()
QUERIES = ["leave policy for the team", "travel expense budget", "harbour ferry timetable", "school road safety",
           "parking permit tax", "laptop security office", "council vote library", "holiday contract salary"]


@pytest.mark.django_db
def test_access_latency():
    User = get_user_model()
    embedder = get_embedder()
    rng = random.Random(3)
    member = User.objects.create(username="member")
    other = User.objects.create(username="other")
    groups = [Group.objects.create(name=f"g{n}") for n in range(10)]
    member.groups.add(groups[0], groups[1], groups[2])
    cols = []
    for n in range(100):
        # 10 public collections (10%), 1 shared with member's group g0 (1%), the rest private to other.
        visibility = "public" if n < 10 else "private"
        collection = Collection.objects.create(name=f"c{n}", slug=f"c{n}", visibility=visibility, owner=other)
        if n >= 10:
            collection.groups.add(groups[0] if n == 10 else groups[3 + n % 7])
        cols.append(collection)
    rows = []
    for n in range(1000):
        d = Document.objects.create(collection=cols[n % 100], title=f"d{n}")
        texts = [" ".join(rng.choices(WORDS, k=40)) for _ in range(30)]
        for i, (t, v) in enumerate(zip(texts, embedder.embed_documents(texts))):
            rows.append((d.pk, i, t, {}, v, embedder.identity, "english"))
    copy_rows(rows)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    root = User.objects.create(username="root", is_superuser=True)
    public_ids = list(Collection.objects.filter(visibility="public").values_list("pk", flat=True))
    print(f"\nchunks: {Chunk.objects.count()}")
    report("superuser (no filter)", Chunk.objects.visible_to(root))
    report("anonymous (10 public collections)", Chunk.objects.visible_to(AnonymousUser()))
    report("group member (11%)", Chunk.objects.visible_to(member))
    report("plain document__collection_id__in filter, 10%", Chunk.objects.filter(document__collection_id__in=public_ids))
    report("plain document__collection filter, 1%", Chunk.objects.filter(document__collection_id=cols[10].pk))
    # A user who sees only the collection shared with g0, once the public ones are private.
    only = User.objects.create(username="only")
    only.groups.add(groups[0])
    Collection.objects.filter(visibility="public").update(visibility="private")
    report("user who sees one collection (1%)", Chunk.objects.visible_to(only))


def report(label, chunks):
    """Print ``label | visible chunks | median ms per mode``; every search must return 10 rows."""
    line = [label, str(chunks.count())]
    for mode in ["semantic", "keyword", "hybrid"]:
        times = []
        for query in QUERIES * 3:
            started = time.perf_counter()
            results = list(getattr(chunks, mode)(query, candidates=40)[:10])
            times.append((time.perf_counter() - started) * 1000)
            assert len(results) == 10, (label, mode)
        line.append(f"{statistics.median(times):.1f}")
    print(" | ".join(line))
