"""Visibility rules enforced in SQL on every read path (docs/permissions.md)."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

import django_rag
from django_rag.models import Chunk, Collection, Document, QueryLog
from tests.access_oracle import visible_document_ids
from tests.retrieval.test_filtered import big_table  # noqa: F401  (fixture: 3,000 chunks, 1% in "rare")

User = get_user_model()
VISIBILITIES = ["public", "users", "private"]


@pytest.fixture
def people(db):
    staff = Group.objects.create(name="staff")
    people = {
        "owner": User.objects.create(username="owner"),
        "member": User.objects.create(username="member"),
        "stranger": User.objects.create(username="stranger"),
        "inactive": User.objects.create(username="inactive", is_active=False),
        "root": User.objects.create(username="root", is_superuser=True, is_staff=True),
        "anonymous": AnonymousUser(),
        "none": None,
    }
    people["member"].groups.add(staff)
    people["inactive"].groups.add(staff)
    people["staff"] = staff
    return people


@pytest.mark.django_db
def test_every_combination_of_collection_and_document_visibility(people):
    """Each user sees exactly what the rules (restated in tests/access_oracle.py) allow."""
    documents = []
    for n, (collection_visibility, document_visibility) in enumerate(
        itertools.product(VISIBILITIES, ["inherit", *VISIBILITIES])
    ):
        collection = Collection.objects.create(
            name=f"c{n}", slug=f"c{n}", visibility=collection_visibility, owner=people["owner"]
        )
        collection.groups.add(people["staff"])
        # The document is owned by someone else: the collection's owner gets no pass to it.
        document = Document.objects.create(
            collection=collection, title=f"d{n}", visibility=document_visibility, owner=people["member"]
        )
        documents.append(document)
    Document.objects.create(title="no collection", visibility="private", owner=people["owner"])
    Document.objects.create(title="no collection, public")
    for name in ["owner", "member", "stranger", "inactive", "root", "anonymous", "none"]:
        user = people[name]
        seen = set(Document.objects.visible_to(user).values_list("pk", flat=True))
        assert seen == visible_document_ids(user), name
    # Spot checks of the rules themselves, so the oracle cannot drift with the code.
    titles = lambda user: set(Document.objects.visible_to(user).values_list("title", flat=True))  # noqa: E731
    assert titles(people["anonymous"]) == {"d0", "d1", "no collection, public"}
    assert titles(people["root"]) == set(Document.objects.values_list("title", flat=True))
    assert titles(people["inactive"]) == titles(people["anonymous"]) == titles(people["none"])
    assert "d11" not in titles(people["owner"])  # private collection he owns, private document he does not
    assert "d11" in titles(people["member"])  # shared group for the collection, owner of the document


@pytest.mark.django_db
def test_collections_visible_to_and_groups_do_not_duplicate_rows(people):
    staff, other = people["staff"], Group.objects.create(name="other")
    people["member"].groups.add(other)
    shared = Collection.objects.create(name="Shared", slug="shared", visibility="private")
    shared.groups.add(staff, other)
    Collection.objects.create(name="Mine", slug="mine", visibility="private", owner=people["owner"])
    Collection.objects.create(name="Open", slug="open")
    slugs = lambda user: list(Collection.objects.visible_to(user).values_list("slug", flat=True))  # noqa: E731
    assert slugs(people["member"]) == ["open", "shared"]  # once, though two of his groups match
    assert slugs(people["owner"]) == ["mine", "open"]
    assert slugs(people["anonymous"]) == ["open"]
    assert Collection.objects.visible_to(people["root"]).count() == 3


@pytest.mark.django_db
def test_one_percent_visibility_filter_still_returns_k_results(big_table):  # noqa: F811
    """Only the 30 chunks of the one document in "rare" (1% of 3,000) are visible to alice."""
    alice, bob = User.objects.create(username="alice"), User.objects.create(username="bob")
    Collection.objects.exclude(pk=big_table.pk).update(visibility="private", owner=bob)
    Collection.objects.filter(pk=big_table.pk).update(visibility="private", owner=alice)
    visible = Chunk.objects.visible_to(alice)
    assert visible.count() == 30
    for method in ["semantic", "keyword", "hybrid"]:  # one loop: the 3,000-chunk fixture is slow to build
        results = list(getattr(visible, method)("leave policy for the team", candidates=10)[:10])
        assert len(results) == 10, method
        assert {c.document.collection_id for c in results} == {big_table.pk}, method
        found = django_rag.search("leave policy for the team", user=alice, mode=method, k=10, candidates=10)
        assert len(found) == 10 and {c.document.collection_id for c in found} == {big_table.pk}, method


@pytest.fixture
def hr(db, people):
    """A private HR collection shared with staff, beside a public one."""
    hr = Collection.objects.create(name="HR", slug="hr", visibility="private")
    hr.groups.add(people["staff"])
    public = Collection.objects.create(name="Public", slug="public")
    django_rag.ingest(Document.objects.create(collection=hr, title="salaries", text="The salary bands for engineers are secret."))
    django_rag.ingest(Document.objects.create(collection=public, title="holidays", text="The office closes for holidays in August."))
    return hr


@pytest.mark.django_db
def test_search_filters_by_user_in_every_mode(hr, people):
    for mode in ["semantic", "keyword", "hybrid"]:
        titles = lambda user: {c.document.title for c in django_rag.search("salary holidays", user=user, mode=mode)}  # noqa: E731
        assert titles(people["member"]) == {"salaries", "holidays"}
        assert titles(people["stranger"]) == titles(people["anonymous"]) == titles(None) == {"holidays"}
        # A collection argument cannot widen what the user sees.
        assert django_rag.search("salary", user=people["stranger"], collection="hr", mode=mode) == []


@pytest.fixture
def locmem_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "access-tests"}}
    from django.core.cache import caches

    caches["default"].clear()


@pytest.mark.django_db
def test_answers_cite_only_visible_documents_and_cache_by_visibility(hr, people, locmem_cache):
    member, stranger = people["member"], people["stranger"]
    answer = django_rag.ask("What are the salary bands?", user=member)
    assert {c.title for c in answer.citations} == {"salaries"}
    # The stranger asks the same question: not the member's cached answer, and no trace of HR.
    other = django_rag.ask("What are the salary bands?", user=stranger)
    assert not other.cached and "salar" not in other.text.lower()
    assert {s.title for s in other.sources} <= {"holidays"}
    # Anonymous visitors see the same rows, so they share cached answers; superusers too.
    first = django_rag.ask("When does the office close?", user=AnonymousUser())
    assert django_rag.ask("When does the office close?", user=None).cached and not first.cached
    django_rag.ask("When does the office close?", user=people["root"])
    twin = User.objects.create(username="root2", is_superuser=True)
    assert django_rag.ask("When does the office close?", user=twin).cached


@pytest.mark.django_db
def test_a_cached_answer_is_not_served_once_its_source_is_hidden(hr, people, locmem_cache):
    member = people["member"]
    assert django_rag.ask("What are the salary bands?", user=member).citations
    assert django_rag.ask("What are the salary bands?", user=member).cached
    # Visibility edits do not touch chunks, so the index version stays the same...
    member.groups.clear()
    again = django_rag.ask("What are the salary bands?", user=member)
    # ...but the cached answer's sources are re-checked through the member's filter.
    assert not again.cached and "salar" not in again.text.lower()
    assert all(s.title != "salaries" for s in again.sources)


@pytest.mark.django_db
def test_stream_and_aask_filter_by_user(hr, people):
    events = list(django_rag.stream("What are the salary bands?", user=people["stranger"], use_cache=False))
    sources = next(e for e in events if e["type"] == "sources")["sources"]
    assert all(s["title"] != "salaries" for s in sources)
    assert "salar" not in "".join(e["text"] for e in events if e["type"] == "token").lower()

    from asgiref.sync import async_to_sync

    answer = async_to_sync(django_rag.aask)("What are the salary bands?", user=people["member"], use_cache=False)
    assert {c.title for c in answer.citations} == {"salaries"}


def tenant_policy(user):
    """A site's own rule: documents tagged with the user's tenant, plus the built-in rules' public rows."""
    tenant = getattr(user, "last_name", "") or None
    return Q(metadata__tenant=tenant) if tenant else Q(pk__in=[])


def not_a_q(user):
    return True


@pytest.mark.django_db
def test_access_policy_replaces_the_built_in_rules(rag_settings, people):
    acme = User.objects.create(username="a", last_name="acme")
    Document.objects.create(title="acme doc", metadata={"tenant": "acme"}, visibility="private")
    Document.objects.create(title="globex doc", metadata={"tenant": "globex"})
    rag_settings(ACCESS_POLICY="tests.test_access.tenant_policy")
    assert list(Document.objects.visible_to(acme).values_list("title", flat=True)) == ["acme doc"]
    assert not Document.objects.visible_to(AnonymousUser()).exists()
    assert django_rag.search("doc", user=AnonymousUser()) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "message"),
    [("tests.test_access.not_a_q", "must return a Q object"), ("tests.nowhere.policy", "cannot be imported")],
)
def test_a_broken_access_policy_is_a_clear_configuration_error(rag_settings, policy, message):
    rag_settings(ACCESS_POLICY=policy)
    with pytest.raises(ImproperlyConfigured, match=message):
        Document.objects.visible_to(AnonymousUser())


@pytest.mark.django_db
def test_admin_lists_only_visible_rows_and_own_questions(hr, people, client):
    from django.contrib.auth.models import Permission

    clerk = User.objects.create(username="clerk", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(content_type__app_label="django_rag", codename__startswith="view_"))
    django_rag.ask("salary bands?", user=people["member"])
    django_rag.ask("holidays?", user=clerk)
    client.force_login(clerk)
    page = client.get("/admin/django_rag/querylog/").content.decode()
    assert "holidays?" in page and "salary bands?" not in page
    page = client.get("/admin/django_rag/document/").content.decode()
    assert "holidays" in page and "salaries" not in page
    page = client.get("/admin/django_rag/collection/").content.decode()
    public = Collection.objects.get(slug="public")
    assert f"/collection/{public.pk}/change/" in page and f"/collection/{hr.pk}/change/" not in page
    client.force_login(people["root"])
    assert "salary bands?" in client.get("/admin/django_rag/querylog/").content.decode()
    assert QueryLog.objects.count() == 2


@pytest.mark.django_db
def test_langchain_store_given_a_user_sees_what_the_user_sees(hr, people):
    from django_rag.integrations.langchain import DjangoRAGVectorStore

    everything = DjangoRAGVectorStore(mode="keyword")
    assert {d.metadata["title"] for d in everything.similarity_search("salary holidays", k=5)} == {"salaries", "holidays"}
    stranger = DjangoRAGVectorStore(mode="keyword", user=people["stranger"])
    assert {d.metadata["title"] for d in stranger.similarity_search("salary holidays", k=5)} == {"holidays"}


@pytest.mark.django_db
def test_no_filter_while_nothing_is_restricted(make_document):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    document = make_document("Parental leave is twenty days.", title="Leave")
    django_rag.ingest(document)

    def search_sql(user):
        with CaptureQueriesContext(connection) as queries:
            results = django_rag.search("parental leave", user=user)
        return results, [q["sql"] for q in queries.captured_queries if "rag_ranking" in q["sql"]]

    def filters_on_visibility(sql):
        return '"visibility" IN' in sql or '"visibility" =' in sql

    results, (sql,) = search_sql(None)
    assert [c.document_id for c in results] == [document.pk]
    assert not filters_on_visibility(sql)  # all public: the search runs unfiltered

    document.visibility = "users"
    document.save(update_fields=["visibility"])
    results, (sql,) = search_sql(None)
    assert results == [] and filters_on_visibility(sql)
    member = get_user_model().objects.create(username="member")
    assert [c.document_id for c in search_sql(member)[0]] == [document.pk]
