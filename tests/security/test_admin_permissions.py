"""Class 1 and the admin half of class 8: the admin is not a way around permissions.

Every django-rag ModelAdmin registered on ``admin.site`` is walked (the list is derived,
so a new admin is covered the day it is registered): its changelist, every link the
superuser's changelist offers (filters, date hierarchy, sort orders), the search box, the
add, change, history and delete pages of every row and of a missing id, every
autocomplete whose source or target is a django-rag model, every action (on every row,
the invisible ones included), and the extra URLs of ``get_urls()`` (the Ask page). It is
walked as a staff user with no permission, as one staff user per django-rag permission
(derived from the models, and checked against the ``Permission`` rows), and as a staff
user with all of them who is no superuser.

Everything the staff user may not see carries the marker ``zqhid`` (names, slugs, titles,
file names, questions, run names, key names), so a leak shows up in any response body or
redirect, wherever on the page it is. Nothing is mocked: real pages through the test
client, the real admin site, real PostgreSQL.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.test import Client, RequestFactory
from django.urls import URLPattern, reverse

import django_rag
from django_rag.models import ApiKey, Collection, Document, EmbedderState, EvalResult, EvalRun, QueryLog

pytestmark = pytest.mark.django_db

User = get_user_model()
APP = "django_rag"
MARK = "zqhid"
# A search term that matches every invisible row (all their names contain it) but is no
# marker itself: a page that echoes the term shows no marker by doing so.
TERM = "quorumvote"
MISSING_PK = 987654321


def rag_admins() -> list[tuple[type[models.Model], admin.ModelAdmin]]:
    return [(model, model_admin) for model, model_admin in admin.site._registry.items() if model._meta.app_label == APP]


def rag_permission_codenames() -> list[str]:
    """Every permission of the app's models, as Django's migrate creates them."""
    codenames = []
    for model in apps.get_app_config(APP).get_models():
        opts = model._meta
        codenames += [f"{action}_{opts.model_name}" for action in opts.default_permissions]
        codenames += [codename for codename, _name in opts.permissions]
    return sorted(codenames)


PERSONAS = ["no-permission", *rag_permission_codenames(), "every-permission"]


@dataclass
class World:
    staff: Any
    other: Any
    boss: Any
    hidden: dict[type[models.Model], list[int]] = field(default_factory=dict)
    visible: dict[type[models.Model], list[int]] = field(default_factory=dict)
    hidden_key_prefixes: list[str] = field(default_factory=list)

    def add(self, obj: models.Model, *, hidden: bool) -> models.Model:
        (self.hidden if hidden else self.visible).setdefault(type(obj), []).append(obj.pk)
        return obj


def make_staff(persona: str):
    staff = User.objects.create_user("staffer", password="pw", is_staff=True)
    permissions = Permission.objects.filter(content_type__app_label=APP)
    if persona == "every-permission":
        staff.user_permissions.add(*permissions)
    elif persona != "no-permission":
        staff.user_permissions.add(permissions.get(codename=persona))
    return staff


def build_world(staff) -> World:
    other = User.objects.create_user("colleague", password="pw")
    boss = User.objects.create_superuser("boss", password="pw")
    world = World(staff, other, boss)
    shelf = world.add(Collection.objects.create(name="Open shelf", slug="open-shelf"), hidden=False)
    board = world.add(Collection.objects.create(
        name="Zqhidcol quorumvote board", slug="zqhidcolslug", visibility="private", owner=other,
        description="zqhiddesc quorumvote",
    ), hidden=True)
    documents = [
        (Document(collection=shelf, title="Open leaflet", text="Opening hours: quorumvote nine to five."), False),
        (Document(collection=board, title="Zqhiddoc quorumvote minutes", text="zqhidchunk quorumvote the board met."), True),
        (Document(
            collection=shelf, title="Zqhidpriv quorumvote salaries", text="zqhidchunk quorumvote band C pays more.",
            visibility="private", owner=other, source_url="https://intranet.example/zqhidurl",
        ), True),
    ]
    # No title: the admin names it by its file name, which must not show either.
    untitled = Document(collection=None, visibility="private", owner=other)
    untitled.file.save("zqhidfile-quorumvote.txt", ContentFile(b"zqhidchunk quorumvote filed away."), save=False)
    documents.append((untitled, True))
    for document, hidden in documents:
        document.save()
        assert django_rag.ingest(document).status == "ingested"
        world.add(document, hidden=hidden)
        for chunk in document.chunks.all():
            world.add(chunk, hidden=hidden)

    # Question logs: the staff user's own, someone else's, an anonymous visitor's, and
    # the staff user's own about a collection they may no longer see.
    world.add(QueryLog.objects.create(user=staff, collection=shelf, question="My quorumvote question"), hidden=False)
    world.add(QueryLog.objects.create(user=other, collection=shelf, question="zqhidq quorumvote of a colleague"), hidden=True)
    world.add(QueryLog.objects.create(user=None, question="zqhidanon quorumvote"), hidden=True)
    world.add(QueryLog.objects.create(user=staff, collection=board, question="zqhidstale quorumvote"), hidden=True)

    def run(name: str, *, by, collection, hidden: bool) -> None:
        evaluation = world.add(EvalRun.objects.create(
            name=name, dataset=f"{name.split()[0].lower()}.jsonl", dataset_format="jsonl", mode="hybrid", k=5,
            status="finished", created_by=by, collection=collection,
        ), hidden=hidden)
        world.add(EvalResult.objects.create(
            run=evaluation, question_id=f"{name.split()[0].lower()}-1", question=f"{name} question",
        ), hidden=hidden)

    run("My quorumvote run", by=staff, collection=shelf, hidden=False)
    run("Zqhidrun quorumvote of a colleague", by=other, collection=None, hidden=True)
    run("Zqhidnobody quorumvote", by=None, collection=None, hidden=True)
    run("Zqhidstalerun quorumvote", by=staff, collection=board, hidden=True)

    # Embedders hold nothing of anyone's: whoever may view them sees them all, and nobody
    # writes them through the admin (rag_activate_embedder does).
    world.add(EmbedderState.objects.create(alias="default", identity="hashing:test", dimensions=384, active=True), hidden=False)
    world.add(ApiKey.create_key(staff, "My quorumvote key")[0], hidden=False)
    for owner, name in ((other, "zqhidkey quorumvote colleague"), (boss, "zqhidkey quorumvote boss")):
        key = world.add(ApiKey.create_key(owner, name)[0], hidden=True)
        world.hidden_key_prefixes.append(key.prefix)
    return world


def _url(model: type[models.Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


CHANGELIST_LINK = re.compile(r'href="(\?[^"]*)"')
STANDARD_VIEWS = {"changelist", "add", "history", "delete", "change"}


def changelist_links(client: Client, model: type[models.Model]) -> list[str]:
    """Every ``?...`` link of the changelist a superuser sees: each filter choice (those of
    invisible rows included), facet and date-hierarchy step. Sort orders are left to one
    request that sorts by every column."""
    response = client.get(_url(model, "changelist"))
    assert response.status_code == 200, (model, response.status_code)
    links = {html.unescape(link) for link in CHANGELIST_LINK.findall(response.content.decode())}
    return sorted(link for link in links if not link.startswith("?o="))


def view_on_site(model: type[models.Model], pk: int) -> str:
    """The admin's generic redirect to an object's ``get_absolute_url()``."""
    return reverse("admin:view_on_site", args=[ContentType.objects.get_for_model(model).pk, pk])


def custom_urls(model_admin: admin.ModelAdmin) -> list[str]:
    """The parameterless extra pages a ModelAdmin adds in ``get_urls()`` (the Ask page)."""
    base = {f"{model_admin.opts.app_label}_{model_admin.opts.model_name}_{view}" for view in STANDARD_VIEWS}
    found = []
    for pattern in model_admin.get_urls():
        if isinstance(pattern, URLPattern) and pattern.name and pattern.name not in base and not pattern.pattern.regex.groups:
            found.append(reverse(f"admin:{pattern.name}"))
    return found


def autocomplete_sources() -> list[tuple[str, str, str]]:
    """Every relation on a registered model whose source or target is a django-rag model."""
    sources = []
    for model in admin.site._registry:
        for relation in model._meta.get_fields():
            if not (relation.is_relation and relation.concrete and relation.related_model):
                continue
            if APP in (model._meta.app_label, relation.related_model._meta.app_label):
                sources.append((model._meta.app_label, model._meta.model_name, relation.name))
    return sources


def superuser_actions(world: World, model_admin: admin.ModelAdmin) -> list[str]:
    request = RequestFactory().get("/")
    request.user = world.boss
    return list(model_admin.get_actions(request))


@dataclass
class Walk:
    world: World
    client: Client
    problems: list[str] = field(default_factory=list)
    requests: int = 0

    def check(self, label: str, response) -> Any:
        self.requests += 1
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode("utf-8", "replace")
        shown = text + " " + response.get("Location", "")
        if response.status_code >= 500:
            self.problems.append(f"{label}: {response.status_code}")
        if MARK in shown.lower():
            at = shown.lower().index(MARK)
            self.problems.append(f"{label}: shows {shown[max(0, at - 200):at + 80]!r}")
        for prefix in self.world.hidden_key_prefixes:
            if prefix in shown:
                self.problems.append(f"{label}: shows the prefix of another user's API key")
        return response

    def get(self, url: str, data: Any = None, label: str = "") -> Any:
        return self.check(f"GET {url} {data or ''} {label}", self.client.get(url, data))

    def post(self, url: str, data: dict, label: str = "") -> Any:
        return self.check(f"POST {url} {label}", self.client.post(url, data))


def snapshot(world: World) -> dict[str, list[dict]]:
    """Every invisible row, as stored: an action or a form may not change or delete one."""
    return {
        model.__name__: list(model._base_manager.filter(pk__in=pks).order_by("pk").values())
        for model, pks in world.hidden.items()
    }


def walk_admin(walk: Walk, links: dict[type[models.Model], list[str]], actions: dict[type[models.Model], list[str]]) -> None:
    world = walk.world
    walk.get(reverse("admin:index"))
    walk.get(reverse("admin:app_list", args=[APP]))
    for model, model_admin in rag_admins():
        changelist = _url(model, "changelist")
        walk.get(changelist)
        for link in links[model]:
            walk.get(changelist + link)
        if model_admin.search_fields:
            walk.get(changelist, {"q": TERM})
        # One request sorting by every column: an ordering that breaks shows here.
        columns = len(model_admin.get_list_display(RequestFactory().get("/")))
        walk.get(changelist, {"o": ".".join(str(n) for n in range(1, columns + 1))})
        walk.get(_url(model, "add"))
        rows = world.hidden.get(model, []) + world.visible.get(model, []) + [MISSING_PK]
        for pk in rows:
            for view in ("change", "history", "delete"):
                walk.get(_url(model, view, pk))
            walk.get(view_on_site(model, pk))
        for url in custom_urls(model_admin):
            walk.get(url)
            for collection in Collection.objects.values_list("pk", flat=True):
                walk.get(url, {"question": TERM, "collection": collection})
        # Writes: each in a savepoint rolled back afterwards, so the next one meets the same world.
        before = snapshot(world)
        every_row = list(model._base_manager.values_list("pk", flat=True))
        # One row of each kind (tests the oracle test does not repeat: every hidden row).
        some = [*world.hidden.get(model, [])[:1], *world.visible.get(model, [])[:1], MISSING_PK]
        posts = [(_url(model, "add"), {}, "empty add form")]
        posts += [(_url(model, "change", pk), {}, "empty change form") for pk in some]
        posts += [(_url(model, "delete", pk), {"post": "yes"}, "confirmed delete") for pk in some]
        for action in actions[model]:
            chosen = {"action": action, "_selected_action": every_row, "index": "0"}
            posts.append((changelist, chosen, action))
            if action == "delete_selected":  # the confirmation page first, then the deletion
                posts.append((changelist, {**chosen, "post": "yes"}, f"{action} confirmed"))
        for url, data, label in posts:
            with transaction.atomic():
                walk.post(url, data, label)
                after = snapshot(world)
                if after != before:
                    walk.problems.append(f"POST {url} {label}: changed or deleted an invisible row")
                transaction.set_rollback(True)
    for app_label, model_name, field_name in autocomplete_sources():
        for term in ["", TERM]:
            walk.get(
                reverse("admin:autocomplete"),
                {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": term},
            )


def test_the_personas_cover_every_permission_of_the_app():
    """A new model, or a custom permission, becomes a persona of the walk by itself."""
    stored = set(Permission.objects.filter(content_type__app_label=APP).values_list("codename", flat=True))
    assert stored == set(rag_permission_codenames())
    assert {model for model, _ in rag_admins()} == set(apps.get_app_config(APP).get_models())


@pytest.fixture
def fast_sessions(settings):
    # Some 300 requests per persona: sessions in a signed cookie spare each one its
    # session-table reads and writes (the walk tests the admin, not the session backend).
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"


@pytest.mark.parametrize("persona", PERSONAS)
def test_walking_every_admin_url_shows_nothing_invisible_and_never_fails(fast_sessions, persona):
    world = build_world(make_staff(persona))
    boss = Client()
    boss.force_login(world.boss)
    # What a superuser is offered is what the others must not be able to use.
    links = {model: changelist_links(boss, model) for model, _ in rag_admins()}
    actions = {model: superuser_actions(world, model_admin) for model, model_admin in rag_admins()}
    assert any("collection__id__exact" in link for link in links[QueryLog])  # the walk sees the filters

    client = Client()
    client.force_login(world.staff)
    walk = Walk(world, client)
    walk_admin(walk, links, actions)
    assert not walk.problems, "\n".join(walk.problems[:40])
    assert walk.requests > 150


def _key_form(user) -> dict[str, str]:
    return {"name": "minted", "user": str(user.pk), "expires_at": ""}


@pytest.mark.parametrize("persona", ["add_apikey", "every-permission"])
def test_a_staff_user_cannot_mint_a_key_for_another_user(persona):
    world = build_world(make_staff(persona))
    client = Client()
    client.force_login(world.staff)
    page = client.get(_url(ApiKey, "add"))
    assert page.status_code == 200 and 'name="user"' not in page.content.decode()
    for target in (world.boss, world.other):
        response = client.post(_url(ApiKey, "add"), _key_form(target))
        assert response.status_code == 302, response.content.decode()[:2000]
    minted = ApiKey.objects.filter(name="minted")
    assert minted.count() == 2 and set(minted.values_list("user", flat=True)) == {world.staff.pk}


def test_a_superuser_mints_a_key_for_whom_they_choose_and_for_themselves_by_default():
    world = build_world(make_staff("no-permission"))
    client = Client()
    client.force_login(world.boss)
    page = client.get(_url(ApiKey, "add"))
    assert page.context["adminform"].form.initial["user"] == world.boss.pk
    assert client.post(_url(ApiKey, "add"), _key_form(world.other)).status_code == 302
    assert ApiKey.objects.get(name="minted").user == world.other


def test_without_the_change_permission_no_key_is_revoked():
    world = build_world(make_staff("view_apikey"))
    client = Client()
    client.force_login(world.staff)
    mine = world.visible[ApiKey]
    response = client.post(_url(ApiKey, "changelist"), {"action": "revoke_keys", "_selected_action": mine, "index": "0"})
    assert response.status_code == 200 and b"revoke_keys" not in response.content
    assert not ApiKey.objects.filter(revoked_at__isnull=False).exists()


def test_revoking_acts_on_ones_own_keys_only():
    world = build_world(make_staff("change_apikey"))
    client = Client()
    client.force_login(world.staff)
    every_key = list(ApiKey.objects.values_list("pk", flat=True))
    client.post(_url(ApiKey, "changelist"), {"action": "revoke_keys", "_selected_action": every_key, "index": "0"})
    revoked = set(ApiKey.objects.filter(revoked_at__isnull=False).values_list("pk", flat=True))
    assert revoked == set(world.visible[ApiKey])


def test_a_document_cannot_be_put_into_an_invisible_collection():
    world = build_world(make_staff("add_document"))
    client = Client()
    client.force_login(world.staff)
    board = Collection.objects.get(slug="zqhidcolslug")
    response = client.post(_url(Document, "add"), {
        "collection": board.pk, "title": "Planted", "text": "planted", "source_url": "", "language": "",
        "metadata": "{}", "visibility": "inherit",
    })
    assert response.status_code == 200 and "collection" in response.context["adminform"].form.errors
    assert not Document.objects.filter(title="Planted").exists()


def test_a_collection_holding_invisible_documents_cannot_be_deleted_by_one_who_cannot_see_them():
    """Deleting a collection deletes its documents: Django would list each one by name."""
    world = build_world(make_staff("every-permission"))
    client = Client()
    client.force_login(world.staff)
    shelf = Collection.objects.get(slug="open-shelf")  # holds the private salaries document
    page = client.get(_url(Collection, "delete", shelf.pk))
    assert page.status_code == 200 and b"documents you may not see" in page.content and b"Zqhid" not in page.content
    assert client.post(_url(Collection, "delete", shelf.pk), {"post": "yes"}).status_code == 403
    assert Collection.objects.filter(pk=shelf.pk).exists()
    # An empty collection, or one whose documents all show, deletes as usual.
    empty = Collection.objects.create(name="Empty", slug="empty")
    assert client.post(_url(Collection, "delete", empty.pk), {"post": "yes"}).status_code == 302
    assert not Collection.objects.filter(pk=empty.pk).exists()


# --- class 8: no existence oracle -----------------------------------------------------

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def _normalised(response, pk: int) -> tuple[int, str, str]:
    """Status, redirect target and the page the browser lands on, with the id left out."""
    location = response.get("Location", "")
    landed = response
    if response.status_code == 302:
        landed = response.client.get(location)
    # The message names the id asked for ("... with ID “42” doesn’t exist"); nothing else may differ.
    body = CSRF.sub("", landed.content.decode()).replace(f"“{pk}”", "“<id>”")
    return response.status_code, location, body


@pytest.mark.parametrize("persona", ["no-permission", "view_collection", "view_document", "every-permission"])
def test_an_invisible_row_answers_exactly_as_a_missing_one(persona):
    world = build_world(make_staff(persona))
    client = Client()
    client.force_login(world.staff)
    compared = 0
    for model, _model_admin in rag_admins():
        for pk in world.hidden.get(model, []):
            for view in ("change", "history", "delete"):
                for method in ("get", "post"):
                    missing = _normalised(getattr(client, method)(_url(model, view, MISSING_PK)), MISSING_PK)
                    hidden = _normalised(getattr(client, method)(_url(model, view, pk)), pk)
                    assert hidden == missing, (model.__name__, view, method, hidden[:2], missing[:2])
                    compared += 1
            missing = _normalised(client.get(view_on_site(model, MISSING_PK)), MISSING_PK)
            assert _normalised(client.get(view_on_site(model, pk)), pk) == missing, (model.__name__, "view on site")
    assert compared > 50


@pytest.mark.parametrize("persona", ["view_document", "view_querylog", "view_evalresult", "every-permission"])
def test_filtering_or_asking_by_an_invisible_id_answers_as_a_missing_one(persona):
    """``?collection__id__exact=<id>`` on every changelist, and the Ask page's collection."""
    world = build_world(make_staff(persona))
    boss = Client()
    boss.force_login(world.boss)
    client = Client()
    client.force_login(world.staff)
    compared = 0
    for model, _model_admin in rag_admins():
        for link in changelist_links(boss, model):
            found = re.fullmatch(r"\?(\w+)__id__exact=(\d+)", link)
            if not found or int(found.group(2)) not in world.hidden.get(model._meta.get_field(found.group(1)).related_model, []):
                continue
            pk = int(found.group(2))
            hidden = client.get(_url(model, "changelist"), {f"{found.group(1)}__id__exact": pk})
            missing = client.get(_url(model, "changelist"), {f"{found.group(1)}__id__exact": MISSING_PK})
            assert hidden.status_code == missing.status_code
            assert _page(hidden, pk) == _page(missing, MISSING_PK), (model.__name__, link)
            compared += 1
    for pk in world.hidden[Collection]:
        hidden = client.get(reverse("admin:django_rag_ask"), {"question": TERM, "collection": pk})
        missing = client.get(reverse("admin:django_rag_ask"), {"question": TERM, "collection": MISSING_PK})
        assert hidden.status_code == missing.status_code and _page(hidden, pk) == _page(missing, MISSING_PK)
        compared += 1
    assert compared >= 2


def _page(response, pk: int) -> str:
    """A page with the id it was asked for (as a parameter or attribute value), and the CSRF token, left out."""
    return re.sub(rf'(__exact=|__exact%3D|value="|“){pk}(?=\D)', r"\1<id>", CSRF.sub("", response.content.decode()))
