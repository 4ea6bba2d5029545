"""Property test: nobody sees what they may not see, through any read path.

Hypothesis draws a world (users, groups, collections, documents, registered articles,
ownership, sharing, visibility, staff status) and a query, then asks every read path
(visible_to, search in each mode, ask, cached ask, stream, aask, the LangChain store) and
every web surface (the ``rag_answer`` and ``rag_search`` template tags, the admin Ask
page, the REST API's search, ask, document list and document pages) as every user.
Each document carries a unique marker word, so a leak shows up in any text a path
returns (answers quote their sources), not only in ids.

To cover a new surface (the admin Ask page, template tags, the REST API), add one
function to ``PATHS``: it takes ``(user, query)`` and returns what that user was shown.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.db import transaction
from django.db.models import Q
from django.template import Context, RequestContext, Template
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import django_rag
from django_rag.models import ApiKey, Chunk, Collection, Document
from django_rag.registry import reindex_instance
from tests.access_oracle import may_see, may_see_collection
from tests.testapp.models import Article

User = get_user_model()
# Bounded so the suite stays fast; raise it to hunt (DJANGO_RAG_PROPERTY_EXAMPLES=500).
MAX_EXAMPLES = int(os.environ.get("DJANGO_RAG_PROPERTY_EXAMPLES", "15"))
WORDS = "budget salary holiday laptop travel office contract security policy leave".split()
VISIBILITY = st.sampled_from(["public", "users", "private"])


@dataclass
class Seen:
    """What one path showed one user."""

    chunk_ids: set[int] = field(default_factory=set)
    document_ids: set[int] = field(default_factory=set)
    texts: list[str] = field(default_factory=list)
    collection_ids: set[int] = field(default_factory=set)
    collection_counts: dict[int, int] = field(default_factory=dict)  # collection id -> documents it counts
    # True when the path claims to show *every* document the user may see (a listing):
    # then document_ids must equal the allowed set, not merely fall within it.
    complete: bool = False


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
    from django_rag.integrations.langchain import DjangoRAGVectorStore

    found = DjangoRAGVectorStore(user=user).similarity_search(query, k=10)
    return Seen(
        document_ids={d.metadata["document_id"] for d in found},
        texts=[text for d in found for text in (d.page_content, d.metadata["title"])],
    )


# --- web surfaces ----------------------------------------------------------------------
# Each renders or requests what a person (or a client) would get, through Django's real
# template engine, middleware, admin and ninja router, and parses ids out of it where the
# markup carries them. Every surface's whole output goes into ``texts``, so a document's
# marker anywhere in it (a title, a snippet, an answer) counts as shown.

def over_http(path: Callable[[Any, str], Seen]) -> Callable[[Any, str], Seen]:
    """Marks a path that is an HTTP request: a request always has a user (``AnonymousUser``
    for a visitor), so the world's ``None`` user, the same request again, is not sent."""
    path.over_http = True  # type: ignore[attr-defined]
    return path


SEARCH_TAG = (
    "{% rag_search q k=10 as results %}{% for c in results %}"
    '<li data-chunk="{{ c.pk }}" data-document="{{ c.document_id }}">{{ c.document.title }}: {{ c.content }}</li>'
    "{% endfor %}"
)


def _render(user, source: str, **context: Any) -> str:
    template = Template("{% load django_rag %}" + source)
    if user is None:  # a template rendered outside a request: the tags search as a visitor
        return template.render(Context(context))
    request = RequestFactory().get("/")
    request.user = user
    return template.render(RequestContext(request, context))


MARKED_TITLE = re.compile(r"(?:doc|article) (zqmark\d+x)")


def _titled(html: str) -> set[int]:
    """The documents whose titles (``doc zqmarkNx``, ``article zqmarkNx``) a page shows."""
    titles = {f"{kind} {m}" for m in MARKED_TITLE.findall(html) for kind in ("doc", "article")}
    return set(Document.objects.filter(title__in=titles).values_list("pk", flat=True))


def via_tag_rag_answer(user, query):
    html = _render(user, "{% rag_answer question %}", question=query)
    assert "rag-error" not in html, html  # an error would show nothing and prove nothing
    # The partial links no ids: the sources it lists are read from their titles.
    return Seen(document_ids=_titled(html), texts=[html])


def via_tag_rag_search(user, query):
    html = _render(user, SEARCH_TAG, q=query)
    rows = re.findall(r'<li data-chunk="(\d+)" data-document="(\d+)">', html)
    assert len(rows) == html.count("<li"), html  # every result parsed
    return Seen({int(c) for c, _ in rows}, {int(d) for _, d in rows}, [html])


def _client_as(user) -> Client:
    client = Client()
    if user is not None and user.is_authenticated:
        # force_login does not check is_active; the session middleware then finds no
        # user for an inactive one, exactly as for a real session of a deactivated user.
        client.force_login(user)
    return client


ASK_FORM = re.compile(r'<form method="get" class="rag-ask-form">.*?</form>', re.S)
ADMIN_DOCUMENT_LINK = re.compile(r'href="/admin/django_rag/document/(\d+)/change/"')
COLLECTION_OPTION = re.compile(r'<option value="(\d+)"')


@over_http
def via_admin_ask(user, query):
    response = _client_as(user).get(reverse("admin:django_rag_ask"), {"question": query})
    page = response.content.decode()
    active = user is not None and user.is_authenticated and user.is_active
    if not (active and user.is_staff):
        # The admin refuses anyone who is not active staff: to its login page, nothing shown
        # (the redirect's ?next= carries the question, marker and all: not a document).
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/?next="), response.status_code
        return Seen(texts=[page])
    if not (user.is_superuser or user.has_perm("django_rag.view_document")):
        assert response.status_code == 403, response.status_code
        return Seen(texts=[page])
    assert response.status_code == 200, page[:2000]
    # The form echoes the question, which names a marker on purpose: what it offers
    # (the collections to pick) is checked, its echo is not a document shown.
    forms = ASK_FORM.findall(page)
    assert len(forms) == 1, page
    shown = ASK_FORM.sub("", page)
    assert query not in shown
    return Seen(
        document_ids={int(pk) for pk in ADMIN_DOCUMENT_LINK.findall(shown)},
        texts=[shown],
        collection_ids={int(pk) for pk in COLLECTION_OPTION.findall(forms[0])},
    )


ADMIN_CHUNK_LINK = re.compile(r'href="/admin/django_rag/chunk/(\d+)/change/')
ADMIN_COLLECTION_ROW = re.compile(
    r'href="/admin/django_rag/collection/(\d+)/change/">.*?class="field-document_count">(\d+)<', re.S
)
COLLECTION_FILTER = re.compile(r"collection__id__exact=(\d+)")
COLLECTION_SELECT = re.compile(r'<select name="collection".*?</select>', re.S)


@over_http
def via_admin_pages(user, query):
    """The admin's own pages as a staff member: the document, chunk and collection lists,
    the chunk search box, and the change page of every document and collection in the world
    (one the user may not see must not open)."""
    client = _client_as(user)
    changelist = client.get(reverse("admin:django_rag_document_changelist"))
    active = user is not None and user.is_authenticated and user.is_active
    if not (active and user.is_staff):
        assert changelist.status_code == 302 and changelist["Location"].startswith("/admin/login/"), changelist.status_code
        return Seen(texts=[changelist.content.decode()])
    if not (user.is_superuser or user.has_perm("django_rag.view_document")):
        assert changelist.status_code == 403, changelist.status_code
        return Seen(texts=[changelist.content.decode()])

    def page(url: str, **params: Any) -> str:
        response = client.get(url, params)
        assert response.status_code == 200, (url, response.status_code)
        return response.content.decode()

    listing = page(reverse("admin:django_rag_document_changelist"))
    seen = Seen(
        document_ids={int(pk) for pk in ADMIN_DOCUMENT_LINK.findall(listing)}, texts=[listing], complete=True,
        collection_ids={int(pk) for pk in COLLECTION_FILTER.findall(listing)},
    )
    chunks = page(reverse("admin:django_rag_chunk_changelist"))
    seen.chunk_ids |= {int(pk) for pk in ADMIN_CHUNK_LINK.findall(chunks)}
    seen.texts.append(chunks)
    # The search box echoes the query (marker and all) in its input and every link:
    # from its results only the chunk ids are taken.
    found = page(reverse("admin:django_rag_chunk_changelist"), q=query)
    seen.chunk_ids |= {int(pk) for pk in ADMIN_CHUNK_LINK.findall(found)}
    collections = page(reverse("admin:django_rag_collection_changelist"))
    rows = ADMIN_COLLECTION_ROW.findall(collections)
    seen.collection_ids |= {int(pk) for pk, _ in rows}
    seen.collection_counts.update({int(pk): int(count) for pk, count in rows})
    seen.texts.append(collections)
    visible_documents = set(Document.objects.visible_to(user).values_list("pk", flat=True))
    for pk in Document.objects.values_list("pk", flat=True):
        response = client.get(reverse("admin:django_rag_document_change", args=[pk]))
        if response.status_code == 200:
            form = response.content.decode()
            seen.document_ids.add(pk)
            seen.texts.append(form)
            selects = COLLECTION_SELECT.findall(form)
            seen.collection_ids |= {int(c) for select in selects for c in COLLECTION_OPTION.findall(select)}
        else:  # the admin answers a row outside its queryset as a missing one
            assert response.status_code == 302 and pk not in visible_documents, (pk, response.status_code)
    for pk in Collection.objects.values_list("pk", flat=True):
        response = client.get(reverse("admin:django_rag_collection_change", args=[pk]))
        if response.status_code == 200:
            form = response.content.decode()
            seen.collection_ids.add(pk)
            seen.document_ids |= {int(d) for d in ADMIN_DOCUMENT_LINK.findall(form)}  # the documents inline
            seen.texts.append(form)
        else:
            assert response.status_code == 302, (pk, response.status_code)
    return seen


API = "/api/rag"
OPEN_API = "/open/rag"  # tests/api/open_urls.py: the router mounted without auth


def _api_accepts(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def _key(user) -> str:
    if not hasattr(user, "property_test_key"):
        user.property_test_key = ApiKey.create_key(user, "property test")[1]
    return user.property_test_key


def _api_requests(user, method: str, path: str, **kwargs: Any) -> list[Any]:
    """What the API answers ``user`` for one request (a list, to include the open mount)."""
    return _api_requests_many(user, method, [path], **kwargs)[0]


def _api_requests_many(user, method: str, paths: list[str], **kwargs: Any) -> list[list[Any]]:
    """What the API answers ``user`` for each path: ``[response]``, or ``[401, open mount's]``.

    An active user calls as the world drew: a session (``force_login``) or an API key.
    Anyone else must get 401 (an inactive user's session and key alike); they then call
    the router mounted without auth, where they act as an anonymous visitor.
    """
    headers = {}
    if user is not None and user.is_authenticated and user.api_auth == "key":
        client, headers = Client(), {"Authorization": f"Bearer {_key(user)}"}
    else:
        client = _client_as(user)
    responses = [getattr(client, method)(API + path, headers=headers, **kwargs) for path in paths]
    if _api_accepts(user):
        return [[response] for response in responses]
    for response in responses:
        assert response.status_code == 401, (response.status_code, response.content[:500])
    client = _client_as(user)
    with override_settings(ROOT_URLCONF="tests.api.open_urls"):
        opened = [getattr(client, method)(OPEN_API + path, **kwargs) for path in paths]
    return [[response, open_response] for response, open_response in zip(responses, opened, strict=True)]


def _ok(responses: list[Any]) -> list[Any]:
    """The JSON bodies of the 200 responses (the 401s were checked to show nothing)."""
    bodies = []
    for response in responses:
        if response.status_code != 401:
            assert response.status_code == 200, (response.status_code, response.content[:500])
            bodies.append(response.json())
    return bodies


def _api_texts(responses: list[Any]) -> list[str]:
    return [r.content.decode() for r in responses]


@over_http
def via_api_search(user, query):
    responses = _api_requests(user, "get", "/search", data={"q": query, "k": 10})
    results = [r for body in _ok(responses) for r in body]
    return Seen(
        {r["chunk_id"] for r in results}, {r["document_id"] for r in results}, _api_texts(responses)
    )


@over_http
def via_api_ask(user, query):
    responses = _api_requests(user, "post", "/ask", data=json.dumps({"question": query}), content_type="application/json")
    seen = Seen()
    for body in _ok(responses):
        shown = body["citations"] + body["sources"]
        seen.chunk_ids |= {s["chunk_id"] for s in shown}
        seen.document_ids |= {s["document_id"] for s in shown}
        # The question (and its standalone form) echo what was asked, marker included:
        # everything else in the body is checked.
        assert body["question"] == query and body["standalone_question"] in ("", query)
        rest = {k: v for k, v in body.items() if k not in ("question", "standalone_question")}
        seen.texts.append(json.dumps(rest))
    seen.texts += [r.content.decode() for r in responses if r.status_code == 401]
    return seen


@over_http
def via_api_ask_stream(user, query):
    responses = _api_requests(
        user, "post", "/ask/stream", data=json.dumps({"question": query}), content_type="application/json"
    )
    seen = Seen()
    for response in responses:
        if response.status_code == 401:
            seen.texts.append(response.content.decode())
            continue
        assert response.status_code == 200 and response["Content-Type"] == "text/event-stream", response.status_code
        body = b"".join(response.streaming_content).decode()
        events = [
            (match.group(1), json.loads(match.group(2)))
            for match in re.finditer(r"event: (\w+)\ndata: (.*)\n\n", body)
        ]
        assert [kind for kind, _ in events][-2:] == ["sources", "done"], body
        sources = next(data["sources"] for kind, data in events if kind == "sources")
        seen.chunk_ids |= {s["chunk_id"] for s in sources}
        seen.document_ids |= {s["document_id"] for s in sources}
        seen.texts.append(body)
    return seen


@over_http
def via_api_documents(user, query):
    responses = _api_requests(user, "get", "/documents", data={"limit": 200})
    seen = Seen(texts=_api_texts(responses), complete=True)
    for body in _ok(responses):
        ids = {item["id"] for item in body["items"]}
        assert body["count"] == len(ids) == len(body["items"])  # the count reveals no more than the list
        seen.document_ids |= ids
    return seen


@over_http
def via_api_document_pages(user, query):
    """``GET /documents/{id}`` for every document in the world: a document the caller may not
    see is 404 with the very body of one that does not exist (never 403)."""
    missing = (Document.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000
    ids = list(Document.objects.values_list("pk", flat=True))
    absent_responses, *each = _api_requests_many(user, "get", [f"/documents/{pk}" for pk in [missing, *ids]])
    absent = _ok_or_404(absent_responses)
    assert absent and all(status == 404 for status, _ in absent)
    seen = Seen(texts=_api_texts(absent_responses), complete=True)
    for pk, responses in zip(ids, each, strict=True):
        seen.texts += _api_texts(responses)
        for (status, body), (_, nothing) in zip(_ok_or_404(responses), absent, strict=True):
            if status == 200:
                assert body["id"] == pk
                seen.document_ids.add(pk)
            else:
                assert body == nothing, body
    return seen


@over_http
def via_api_collections(user, query):
    responses = _api_requests(user, "get", "/collections")
    seen = Seen(texts=_api_texts(responses))
    for body in _ok(responses):
        seen.collection_ids |= {c["id"] for c in body}
        # A collection's count must not reveal documents the caller may not see.
        seen.collection_counts.update({c["id"]: c["document_count"] for c in body})
    return seen


def _ok_or_404(responses: list[Any]) -> list[tuple[int, Any]]:
    answers = []
    for response in responses:
        if response.status_code != 401:
            assert response.status_code in (200, 404), (response.status_code, response.content[:500])
            answers.append((response.status_code, response.json()))
    return answers


PATHS: list[Callable[[Any, str], Seen]] = [
    via_visible_to, via_search("semantic"), via_search("keyword"), via_search("hybrid"),
    via_ask, via_ask_cached, via_stream, via_aask, via_langchain_store,
    via_tag_rag_answer, via_tag_rag_search, via_admin_ask, via_admin_pages,
    via_api_search, via_api_ask, via_api_ask_stream, via_api_documents, via_api_document_pages, via_api_collections,
]

# --- the random world ---------------------------------------------------------------

users = st.lists(
    st.fixed_dictionaries({
        "superuser": st.sampled_from([False, False, True]),
        "active": st.sampled_from([True, True, True, False]),
        "groups": st.sets(st.integers(0, 2), max_size=2),
        # Staff may open the admin (its pages need the view permissions too); it grants no rows.
        "staff": st.sampled_from(["no", "viewer", "editor", "bare"]),
        "api_auth": st.sampled_from(["session", "key"]),
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
    viewing = Permission.objects.filter(
        content_type__app_label="django_rag", codename__in=["view_document", "view_chunk", "view_collection"]
    )
    editing = Permission.objects.filter(content_type__app_label="django_rag", codename__in=["change_document", "change_collection"])
    people = []
    for n, spec in enumerate(user_specs):
        user = User.objects.create(
            username=f"u{n}", is_superuser=spec["superuser"], is_active=spec["active"], is_staff=spec["staff"] != "no"
        )
        user.groups.set(groups[g] for g in spec["groups"])
        if spec["staff"] in ("viewer", "editor"):
            user.user_permissions.add(*viewing)
        if spec["staff"] == "editor":  # editable forms offer choices (the collection select)
            user.user_permissions.add(*editing)
        user.api_auth = spec["api_auth"]
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


def _context(texts: list[str], leaked: list[str]) -> list[str]:
    """Where each leaked marker appears, to read in the failure."""
    return [text[max(0, i - 300) : i + 200] for text in texts for m in leaked if (i := text.find(m)) >= 0]


cases: dict[str, Any] = {"worlds": 0, "checks": 0, "showing": {}, "seconds": {}}


@pytest.fixture
def article_rule(db, settings, rag_settings):
    # The API's throttle would refuse the many requests one example makes.
    rag_settings(API_THROTTLE={"key": None, "user": None, "anonymous": None, "failed_auth": None})
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
            allowed_collections = {c.pk for c in Collection.objects.all() if may_see_collection(user, c)}
            for path in PATHS:
                if user is None and getattr(path, "over_http", False):
                    continue
                started = time.perf_counter()
                seen = path(user, query)
                cases["seconds"][path.__name__] = cases["seconds"].get(path.__name__, 0) + time.perf_counter() - started
                where = f"{path.__name__} as {user!r}"
                assert seen.document_ids <= allowed, where
                if seen.complete:
                    assert seen.document_ids == allowed, where
                assert seen.chunk_ids <= allowed_chunks, where
                assert seen.collection_ids <= allowed_collections, where
                for collection_id, count in seen.collection_counts.items():
                    visible_in_it = Document.objects.filter(pk__in=allowed, collection_id=collection_id).count()
                    assert count == visible_in_it, f"{where}: collection {collection_id} counts {count}"
                leaked = [m for m in forbidden for text in seen.texts if m in text]
                assert not leaked, f"{where} showed {leaked}: {_context(seen.texts, leaked)}"
                cases["checks"] += 1
                if seen.document_ids or seen.chunk_ids or seen.collection_ids:  # it showed this user something
                    cases["showing"][path.__name__] = cases["showing"].get(path.__name__, 0) + 1
            # visible_to returns exactly the allowed chunks, not merely a subset.
            assert via_visible_to(user, query).chunk_ids == allowed_chunks
        cases["worlds"] += 1
        transaction.set_rollback(True)


def test_report_how_many_cases_ran():
    """Runs after the property test (file order): print and check how much it exercised."""
    print(f"\naccess properties: {cases['worlds']} random worlds, {cases['checks']} (user, path) checks")
    print("checks where the path showed something:", ", ".join(f"{k} {v}" for k, v in cases["showing"].items()))
    print("seconds per path:", ", ".join(f"{k} {v:.1f}" for k, v in cases["seconds"].items()))
    if cases["worlds"]:  # zero when this test is selected alone
        assert cases["worlds"] >= MAX_EXAMPLES // 2
