"""Named setups for the docs' examples (``<!-- example: setup=NAME -->`` in a page).

A setup creates what the page takes for granted (a user's request, a collection with
documents, an uploaded file...) and returns the names the example uses without defining
them. It gets the runner (tests/docs/test_examples.py): ``runner.request`` is pytest's
request (for fixtures), ``runner.workdir`` the example's working directory, and cleanups
appended to ``runner.namespace["_cleanups"]`` run after the example.
"""

from __future__ import annotations

import json

from django.contrib.auth.models import Group, Permission
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory

import django_rag
from django_rag.models import ApiKey, Collection, Document

LEAVE = (
    "# Leave policy\n\nEmployees get 20 days of paid parental leave. "
    "They apply with form B, a month before the leave starts.\n"
)
REMOTE = "# Remote work\n\nStaff may work from home two days a week, on days agreed with their team.\n"


def _user(name: str = "reader", **fields):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(name, password="docs-example", **fields)


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def _ingested(collection: Collection, title: str, text: str, **fields) -> Document:
    document = Document.objects.create(collection=collection, title=title, text=text, **fields)
    result = django_rag.ingest(document)
    assert result.status == "ingested", result.error
    return document


def collection_with_documents(runner) -> dict:
    """Collections ``hr`` and ``handbook`` with a leave policy and a remote-work page,
    ingested, and a signed-in user's request."""
    hr = Collection.objects.create(name="HR", slug="hr")
    handbook = Collection.objects.create(name="HR handbook", slug="handbook")
    for collection in (hr, handbook):
        document = _ingested(collection, "Leave policy", LEAVE, source_url="https://intranet.example.com/leave")
        _ingested(collection, "Remote work", REMOTE)
    user = _user()
    return {
        "hr": hr, "handbook": handbook, "document": document, "user": user, "request": _request(user),
        "question": "How many days of parental leave do I get?",
    }


def uploaded_file(runner) -> dict:
    """What a view receives from a form's file field (``uploaded_file``), and the same
    as plain file content (``upload``), with the collection ``handbook``."""
    data = LEAVE.encode()
    return {
        "uploaded_file": SimpleUploadedFile("leave.md", data, content_type="text/markdown"),
        "upload": ContentFile(data, name="leave.md"),
        "handbook": Collection.objects.create(name="HR handbook", slug="handbook"),
    }


def users_and_groups(runner) -> dict:
    """``alice``, and a group ``HR staff`` for permissions.md's sharing example."""
    Group.objects.create(name="HR staff")
    return {"alice": _user("alice"), "Group": Group}


def ninja_api(runner) -> dict:
    """A NinjaAPI the page mounts routers on (``api``), and a JWT decoder of the site's own."""
    from ninja import NinjaAPI

    def decode_my_jwt(token):
        return None

    return {"api": NinjaAPI(urls_namespace=f"docs-{id(runner)}"), "decode_my_jwt": decode_my_jwt}


def api_server(runner) -> dict:
    """The test project served by a live server (the API at /api/rag/), a writer's API key
    in ``$KEY``, document 42 ("Leave policy", collection ``handbook``) ingested, and
    ``leave.pdf`` in the working directory."""
    from tests.ingestion.pdfs import make_pdf

    live_server = runner.request.getfixturevalue("live_server")
    names = collection_with_documents(runner)
    handbook = names["handbook"]
    Document.objects.filter(collection=handbook, title="Leave policy").delete()
    leave = Document.objects.create(pk=42, collection=handbook, title="Leave policy", text=LEAVE)
    assert django_rag.ingest(leave).status == "ingested"
    writer = names["user"]
    writer.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="django_rag", codename__in=["add_document", "change_document", "delete_document"],
    ))
    _, key = ApiKey.create_key(writer, "docs examples")
    (runner.workdir / "leave.pdf").write_bytes(make_pdf([LEAVE.replace("# ", "").splitlines()]))
    return {"live_server": live_server, "KEY": key, "handbook": handbook}


def news_app(runner) -> dict:
    """A site app ``news`` whose models module has the test project's ``Article``
    (tests/testapp: title, summary, body, slug, published, get_absolute_url)."""
    from django_rag.registry import unregister
    from tests.testapp.models import Article

    package = runner.modules_dir / "news"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").touch()
    (package / "models.py").write_text("from tests.testapp.models import Article  # noqa: F401\n")
    runner.packages.add("news")
    runner.namespace.setdefault("_cleanups", []).append(lambda: unregister(Article, missing_ok=True))
    return {}


def registered_articles(runner) -> dict:
    """The page's own ``news/apps.py`` made ready (it registers ``Article``), two published
    articles ingested, and a signed-in user's request."""
    import importlib

    from tests.testapp.models import Article

    news = importlib.import_module("news")
    importlib.import_module("news.apps").NewsConfig("news", news).ready()
    for slug, title, body in [
        ("harbour-reopens", "The harbour reopens", "The harbour reopens on Monday; harbour ferries sail every hour."),
        ("new-library", "A new library", "The city library moves to the old post office in spring."),
    ]:
        Article.objects.create(slug=slug, title=title, body=body, published=True)
    django_rag.reindex_model(Article)
    user = _user()
    return {"Article": Article, "request": _request(user)}


def files_on_disk(runner) -> dict:
    """Files to ingest in the working directory: ``docs/``, ``notes/**/*.md``,
    ``handbook.pdf`` and a folder ``handbook/``."""
    from tests.ingestion.pdfs import make_pdf

    work = runner.workdir
    for path, text in [
        ("docs/install.md", "# Installation\n\ndjango-rag needs PostgreSQL with pgvector.\n"),
        ("notes/2026/leave.md", LEAVE),
        ("handbook/leave.md", LEAVE),
        ("handbook/remote.txt", REMOTE),
    ]:
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)
    (work / "handbook.pdf").write_bytes(make_pdf([["Employee handbook", "Parental leave is twenty days."]]))
    return {}


def handbook_collection(runner) -> dict:
    """An empty collection ``handbook``."""
    return {"handbook": Collection.objects.create(name="HR handbook", slug="handbook")}


def _evaluation_dataset(runner, id_of) -> dict:
    names = collection_with_documents(runner)
    for document in Document.objects.filter(collection=names["handbook"]):
        document.metadata = {"slug": document.title.lower().replace(" ", "-")}
        document.save()
    (runner.workdir / "eval").mkdir()
    questions = [
        ("How many days of parental leave do employees get?", "Leave policy"),
        ("How often may staff work from home?", "Remote work"),
    ]
    (runner.workdir / "eval" / "questions.jsonl").write_text("".join(
        json.dumps({"question": question, "relevant_document_ids": [id_of(title)]}) + "\n" for question, title in questions
    ))
    return {}


def evaluation_dataset(runner) -> dict:
    """``eval/questions.jsonl`` in the working directory: questions about the handbook
    collection's documents, whose ids are the documents' ``metadata["slug"]``."""
    return _evaluation_dataset(runner, lambda title: title.lower().replace(" ", "-"))


def evaluation_dataset_by_title(runner) -> dict:
    """The same questions, whose ids are the documents' titles."""
    return _evaluation_dataset(runner, lambda title: title)


def vector_store(runner) -> dict:
    """langchain.md's store over the ``handbook`` collection, with its leave policy added,
    and a query ``q``."""
    from django.db.models import Q

    from django_rag.integrations.langchain import DjangoRAGVectorStore

    Collection.objects.create(name="HR handbook", slug="handbook")
    store = DjangoRAGVectorStore("handbook")
    store.add_texts(["Parental leave is twenty days, paid in full."], metadatas=[{"team": "hr", "year": 2024,
                    "tags": ["policy"], "title": "Leave policy"}], ids=["leave-policy"])
    return {"store": store, "q": "parental leave", "Q": Q}


def a_user_to_notify(runner) -> dict:
    """queue.md's ``notify(user, message)``: the site's own way to tell someone; here it keeps the messages."""
    sent = []
    return {"notify": lambda who, message: sent.append((who, message)), "sent": sent}


def in_house_service(runner) -> dict:
    """The site's own embedding and chat service, which embedders.md's and llms.md's
    backends call, on 127.0.0.1 at ``$ACME_URL``:

    - ``POST /embed`` ``{"model", "texts"}`` answers ``{"vectors"}``: 256 dimensions, a
      deterministic vector per text (``fake_vector``);
    - ``POST /chat`` ``{"model", "messages", "max_tokens", "temperature"}`` answers
      ``{"text", "usage"}``: the extractive backend's answer, so it quotes the sources it is given.

    Anything else is a 404; a body that is not JSON, a 400."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from django_rag.llms.extractive import LLM as Extractive
    from tests.fake_providers import fake_vector

    answerer = Extractive(alias="in-house")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            except ValueError:
                return self.reply(400, {"error": "not JSON"})
            if self.path == "/embed":
                return self.reply(200, {"vectors": [fake_vector(text, 256) for text in body["texts"]]})
            if self.path == "/chat":
                completion = answerer.generate(body["messages"])
                words_in = sum(len(message["content"].split()) for message in body["messages"])
                usage = {"input_tokens": words_in, "output_tokens": len(completion.text.split())}
                return self.reply(200, {"text": completion.text, "usage": usage})
            return self.reply(404, {"error": f"no {self.path}"})

        def reply(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):  # noqa: A002 - quiet: the test's output is not a server log
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()

    runner.namespace.setdefault("_cleanups", []).append(stop)
    runner.monkeypatch.setenv("ACME_URL", f"http://127.0.0.1:{server.server_port}")
    return {}


SETUPS = {
    "collection_with_documents": collection_with_documents,
    "uploaded_file": uploaded_file,
    "users_and_groups": users_and_groups,
    "ninja_api": ninja_api,
    "api_server": api_server,
    "news_app": news_app,
    "registered_articles": registered_articles,
    "files_on_disk": files_on_disk,
    "handbook_collection": handbook_collection,
    "evaluation_dataset": evaluation_dataset,
    "evaluation_dataset_by_title": evaluation_dataset_by_title,
    "vector_store": vector_store,
    "a_user_to_notify": a_user_to_notify,
    "in_house_service": in_house_service,
}
