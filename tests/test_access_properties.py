"""Property test: nobody sees what they may not see, through any read path.

Hypothesis draws a world (users, groups, collections, documents, registered articles,
ownership, sharing, visibility) and a query, then asks every read path (visible_to,
search in each mode, ask, cached ask, stream, aask, the LangChain store) as every user.
Each document carries a unique marker word, so a leak shows up in any text a path
returns (answers quote their sources), not only in ids.

To cover a new surface (the admin Ask page, template tags, the REST API), add one
function to ``PATHS``: it takes ``(user, query)`` and returns what that user was shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group
from django.db import transaction
from django.db.models import Q
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import django_rag
from django_rag.models import Chunk, Collection, Document
from django_rag.registry import reindex_instance
from tests.access_oracle import may_see
from tests.testapp.models import Article

User = get_user_model()
# Bounded so the suite stays fast; raise it to hunt (DJANGO_RAG_PROPERTY_EXAMPLES=500).
MAX_EXAMPLES = int(os.environ.get("DJANGO_RAG_PROPERTY_EXAMPLES", "20"))
WORDS = "budget salary holiday laptop travel office contract security policy leave".split()
VISIBILITY = st.sampled_from(["public", "users", "private"])


@dataclass
class Seen:
    """What one path showed one user."""

    chunk_ids: set[int] = field(default_factory=set)
    document_ids: set[int] = field(default_factory=set)
    texts: list[str] = field(default_factory=list)


def _from_chunks(chunks: Any) -> Seen:
    chunks = list(chunks)
    return Seen({c.pk for c in chunks}, {c.document_id for c in chunks}, [c.content for c in chunks])


def _from_answer(answer: Any) -> Seen:
    shown = [*answer.sources, *answer.citations]
    return Seen(
        {s.chunk_id for s in shown}, {s.document_id for s in shown},
        [answer.text, *(s.snippet for s in shown), *(s.title for s in shown)],
    )


def via_visible_to(user, query):
    return _from_chunks(Chunk.objects.visible_to(user))


def via_search(mode: str) -> Callable[[Any, str], Seen]:
    def path(user, query):
        return _from_chunks(django_rag.search(query, user=user, mode=mode, k=10))

    path.__name__ = f"via_search_{mode}"
    return path


def via_ask(user, query):
    return _from_answer(django_rag.ask(query, user=user, use_cache=False))


def via_ask_cached(user, query):
    # Users are asked in turn, superusers first, so a less privileged user's lookup
    # meets whatever more privileged users left in the cache.
    return _from_answer(django_rag.ask(query, user=user))


def via_stream(user, query):
    events = list(django_rag.stream(query, user=user, use_cache=False))
    sources = next(e["sources"] for e in events if e["type"] == "sources")
    seen = _from_answer(next(e["answer"] for e in events if e["type"] == "done"))
    seen.texts += ["".join(e["text"] for e in events if e["type"] == "token"), *(s["snippet"] for s in sources)]
    seen.chunk_ids |= {s["chunk_id"] for s in sources}
    return seen


def via_aask(user, query):
    return _from_answer(async_to_sync(django_rag.aask)(query, user=user, use_cache=False))


def via_langchain_store(user, query):
    from django_rag.langchain import DjangoRAGVectorStore

    found = DjangoRAGVectorStore(user=user).similarity_search(query, k=10)
    return Seen(
        document_ids={d.metadata["document_id"] for d in found},
        texts=[text for d in found for text in (d.page_content, d.metadata["title"])],
    )


PATHS: list[Callable[[Any, str], Seen]] = [
    via_visible_to, via_search("semantic"), via_search("keyword"), via_search("hybrid"),
    via_ask, via_ask_cached, via_stream, via_aask, via_langchain_store,
]

# --- the random world ---------------------------------------------------------------

users = st.lists(
    st.fixed_dictionaries({
        "superuser": st.sampled_from([False, False, True]),
        "active": st.sampled_from([True, True, True, False]),
        "groups": st.sets(st.integers(0, 2), max_size=2),
    }),
    min_size=1, max_size=3,
)
collections = st.lists(
    st.fixed_dictionaries({
        "visibility": VISIBILITY, "owner": st.none() | st.integers(0, 2), "groups": st.sets(st.integers(0, 2), max_size=2),
    }),
    min_size=1, max_size=3,
)
documents = st.lists(
    st.fixed_dictionaries({
        "collection": st.none() | st.integers(0, 2),
        "visibility": st.sampled_from(["inherit", "inherit", "public", "users", "private"]),
        "owner": st.none() | st.integers(0, 2),
        "groups": st.sets(st.integers(0, 2), max_size=2),
        "words": st.lists(st.sampled_from(WORDS), min_size=3, max_size=8),
    }),
    min_size=1, max_size=6,
)
articles = st.lists(st.fixed_dictionaries({"published": st.booleans(), "words": st.lists(st.sampled_from(WORDS), min_size=3, max_size=6)}), max_size=2)


def marker(n: int) -> str:
    return f"zqmark{n}x"


@dataclass
class World:
    users: list[Any]
    documents: dict[int, str]  # document id -> its marker


def build_world(user_specs, collection_specs, document_specs, article_specs) -> World:
    groups = [Group.objects.create(name=f"g{n}") for n in range(3)]
    people = []
    for n, spec in enumerate(user_specs):
        user = User.objects.create(username=f"u{n}", is_superuser=spec["superuser"], is_active=spec["active"])
        user.groups.set(groups[g] for g in spec["groups"])
        people.append(user)
    pick = lambda index: people[index] if index is not None and index < len(people) else None  # noqa: E731
    cols = []
    for n, spec in enumerate(collection_specs):
        collection = Collection.objects.create(name=f"c{n}", slug=f"c{n}", visibility=spec["visibility"], owner=pick(spec["owner"]))
        collection.groups.set(groups[g] for g in spec["groups"])
        cols.append(collection)
    markers = {}
    for n, spec in enumerate(document_specs):
        collection = cols[spec["collection"]] if spec["collection"] is not None and spec["collection"] < len(cols) else None
        text = f"{marker(n)} " + " ".join(spec["words"]) + "."
        document = Document.objects.create(
            collection=collection, title=f"doc {marker(n)}", text=text, visibility=spec["visibility"], owner=pick(spec["owner"])
        )
        document.groups.set(groups[g] for g in spec["groups"])
        django_rag.ingest(document)
        markers[document.pk] = marker(n)
    for n, spec in enumerate(article_specs, start=len(document_specs)):
        article = Article.objects.create(
            title=f"article {marker(n)}", body=" ".join(spec["words"]), slug=f"a{n}", published=spec["published"]
        )
        reindex_instance("testapp", "article", article.pk)  # what the on-commit task runs
        markers[Document.objects.get(source_id=str(article.pk)).pk] = marker(n)
    # Superusers first (see via_ask_cached), then the rest, then anonymous visitors.
    ordered = sorted(people, key=lambda u: not u.is_superuser) + [AnonymousUser(), None]
    return World(ordered, markers)


def allowed_documents(user: Any) -> set[int]:
    """The oracle: built-in rules plus the registered rule (published articles only)."""
    visible = set()
    for document in Document.objects.select_related("collection"):
        article_ok = True
        if document.source_type_id:
            article_ok = Article.objects.filter(pk=document.source_id, published=True).exists()
        if article_ok and may_see(user, document):
            visible.add(document.pk)
    return visible


cases = {"worlds": 0, "checks": 0}


@pytest.fixture
def article_rule(db, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "access-properties"}}
    django_rag.register(Article, fields=["title", "body"], title="title", collection="news", visible_to=lambda user: Q(published=True))
    yield
    django_rag.unregister(Article)


@pytest.mark.django_db
# No shrink phase: shrinking a failure here took five minutes; the unshrunk example
# that hypothesis prints is small enough to read.
@settings(
    max_examples=MAX_EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    user_specs=users, collection_specs=collections, document_specs=documents, article_specs=articles,
    query_words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3), probe=st.integers(0, 7),
)
def test_no_path_shows_an_invisible_document(article_rule, user_specs, collection_specs, document_specs, article_specs, query_words, probe):
    with transaction.atomic():
        world = build_world(user_specs, collection_specs, document_specs, article_specs)
        # The query names one document's marker, often an invisible one, to pull it in.
        query = " ".join([*query_words, marker(probe)])
        for user in world.users:
            allowed = allowed_documents(user)
            assert set(Document.objects.visible_to(user).values_list("pk", flat=True)) == allowed
            forbidden = [m for pk, m in world.documents.items() if pk not in allowed]
            allowed_chunks = set(Chunk.objects.filter(document_id__in=allowed).values_list("pk", flat=True))
            for path in PATHS:
                seen = path(user, query)
                where = f"{path.__name__} as {user!r}"
                assert seen.document_ids <= allowed, where
                assert seen.chunk_ids <= allowed_chunks, where
                leaked = [m for m in forbidden for text in seen.texts if m in text]
                assert not leaked, f"{where} showed {leaked}"
                cases["checks"] += 1
            # visible_to returns exactly the allowed chunks, not merely a subset.
            assert via_visible_to(user, query).chunk_ids == allowed_chunks
        cases["worlds"] += 1
        transaction.set_rollback(True)


def test_report_how_many_cases_ran():
    """Runs after the property test (file order): print and check how much it exercised."""
    print(f"\naccess properties: {cases['worlds']} random worlds, {cases['checks']} (user, path) checks")
    if cases["worlds"]:  # zero when this test is selected alone
        assert cases["worlds"] >= MAX_EXAMPLES // 2
