"""Class 4: every number at the boundary is validated (docs/security.md).

Property tests draw integers (0, negatives, 2**31, 2**63, -2**63...), floats (NaN,
infinities, huge), text, None, booleans and lists for each numeric parameter of the
public Python functions, the QuerySet methods, the vector store, the template tags, the
commands and every operation of the REST API (found in its OpenAPI schema, so a new
endpoint is covered without editing this file). A valid value must work; an invalid one
must end in a ValueError / CommandError / TemplateSyntaxError / 422 that names the
parameter, never a database error, a TypeError from deep inside or a 500.

Everything runs for real: PostgreSQL, the hashing embedder, the extractive LLM, the
router through Django's test client with an API key.
"""

from __future__ import annotations

import json
import math
import numbers
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction
from django.template import Context, Template, TemplateSyntaxError
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import django_rag
from django_rag.conf import DEFAULTS
from django_rag.ingestion import ingest
from django_rag.integrations.langchain import DjangoRAGVectorStore
from django_rag.models import ApiKey, Chunk, Collection, Document, EvalRun

pytestmark = pytest.mark.django_db

MAX_K = DEFAULTS["MAX_K"]
MAX_CANDIDATES = DEFAULTS["MAX_CANDIDATES"]
INT4_MAX, INT8_MAX = 2**31 - 1, 2**63 - 1
LEAVE = "# Leave\n\nEmployees get twenty days of parental leave. Managers approve leave requests."

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

EDGES = [0, 1, -1, 2, 5, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, -2**63, -2**31, 10**30]
#: Anything a caller might pass where a number belongs.
anything = st.one_of(
    st.sampled_from(EDGES),
    st.integers(),
    st.integers(min_value=1, max_value=60),  # plenty of valid values too
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 0.5, 5.0]),
    st.text(max_size=8),
    st.sampled_from(["5", " 5 ", "-1", "1e3", "nan", "0x10", "٥"]),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


def is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_finite(value) -> bool:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def int_between(low, high):
    return lambda value: is_int(value) and low <= value <= high


def finite_at_least(low):
    return lambda value: is_finite(value) and value >= low


def outcome(call):
    """``"ok"`` or the exception, from inside a savepoint so one failure cannot abort the next."""
    try:
        with transaction.atomic():
            call()
    except Exception as exc:  # noqa: BLE001 - the test looks at which one it was
        return exc
    return "ok"


def assert_validated(result, valid: bool, name: str, value) -> None:
    """Valid: it worked. Invalid: a ValueError whose message names the parameter."""
    if valid:
        assert result == "ok", f"{name}={value!r} is valid but raised {result!r}"
        return
    assert not isinstance(result, DatabaseError), f"{name}={value!r} reached PostgreSQL: {result!r}"
    assert isinstance(result, ValueError), f"{name}={value!r} should be refused with a ValueError, got {result!r}"
    assert name.split("[")[0] in str(result), f"the message does not name {name}: {result}"


@pytest.fixture
def corpus(collection):
    document = Document.objects.create(collection=collection, title="Leave", text=LEAVE)
    ingest(document)
    return document


# --- the Python API and the QuerySet methods -------------------------------------------

# (parameter, where it is passed, which values are valid)
def or_none(valid):
    """None is the option's default."""
    return lambda value: value is None or valid(value)


SEARCH_PARAMETERS = [
    ("k", "k", int_between(1, MAX_K)),
    ("candidates", "candidates", or_none(int_between(1, MAX_CANDIDATES))),
    ("postings_per_term", "postings_per_term", or_none(int_between(1, INT4_MAX))),
    ("rrf_k", "rrf_k", or_none(finite_at_least(0))),
    ("min_score", "min_score", or_none(is_finite)),
    ("weights['semantic']", "semantic", finite_at_least(0)),
    ("weights['keyword']", "keyword", finite_at_least(0)),
]


def search_options(where: str, value) -> dict:
    if where in ("semantic", "keyword"):
        return {"weights": {where: value}}
    return {where: value}


@pytest.mark.parametrize(("name", "where", "valid"), SEARCH_PARAMETERS, ids=[p[0] for p in SEARCH_PARAMETERS])
@FUZZ
@given(value=anything)
@example(value=5e-324)
def test_search_validates_every_number(corpus, name, where, valid, value):
    result = outcome(lambda: django_rag.search("parental leave", **search_options(where, value)))
    assert_validated(result, valid(value), name, value)


QUERYSET_METHODS = {
    "semantic": ("candidates", "min_score"),
    "keyword": ("candidates", "postings_per_term", "min_score"),
    "hybrid": ("candidates", "rrf_k", "postings_per_term", "min_score", "semantic", "keyword"),
}
QUERYSET_CASES = [(method, p) for method, names in QUERYSET_METHODS.items() for p in SEARCH_PARAMETERS
                  if p[1] in names]


@pytest.mark.parametrize(("method", "parameter"), QUERYSET_CASES, ids=[f"{m}-{p[0]}" for m, p in QUERYSET_CASES])
@FUZZ
@given(value=anything)
@example(value=5e-324)  # as a weight: weight / (rrf_k + rank) underflowed in PostgreSQL
def test_queryset_methods_validate_every_number(corpus, method, parameter, value):
    name, where, valid = parameter
    search = getattr(Chunk.objects.all(), method)
    result = outcome(lambda: list(search("parental leave", **search_options(where, value))[:3]))
    assert_validated(result, valid(value), name, value)


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
@FUZZ
@given(value=anything)
def test_top_validates_k(corpus, mode, value):
    result = outcome(lambda: Chunk.objects.all().top("parental leave", value, mode=mode))
    assert_validated(result, int_between(1, MAX_K)(value), "k", value)


@FUZZ
@given(value=anything, position=st.integers(min_value=0, max_value=383))
@example(value=1e308, position=0)
@example(value=1e39, position=5)
@example(value=3e38, position=1)
@example(value=3.4e38, position=2)
def test_a_query_vector_must_hold_finite_numbers(corpus, value, position):
    from django_rag.embedders import get_embedder

    vector = [0.1] * get_embedder().dimensions
    vector[position % len(vector)] = value
    result = outcome(lambda: list(Chunk.objects.semantic(vector=vector)[:3]))
    try:  # any value float() reads (numpy's too, and numeric text) within float32's range
        valid = abs(float(value)) <= 3.4028234e38  # float32's largest, rounded down
    except (TypeError, ValueError, OverflowError):
        valid = False
    assert_validated(result, valid, "vector", value)


@pytest.mark.parametrize("entry", ["ask", "stream"])
@FUZZ
@given(value=anything)
@example(value=0)  # used to mean "the default"
def test_ask_and_stream_validate_k(corpus, entry, value):
    if entry == "ask":
        call = lambda: django_rag.ask("How many days of parental leave?", k=value, use_cache=False)  # noqa: E731
    else:
        call = lambda: list(django_rag.stream("How many days of parental leave?", k=value, use_cache=False))  # noqa: E731
    result = outcome(call)
    assert_validated(result, value is None or int_between(1, MAX_K)(value), "k", value)


@FUZZ
@given(value=anything)
def test_ask_forwards_search_numbers_validated(corpus, value):
    result = outcome(lambda: django_rag.ask("parental leave?", rrf_k=value, use_cache=False))
    assert_validated(result, or_none(finite_at_least(0))(value), "rrf_k", value)


@FUZZ
@given(value=anything)
def test_a_collection_is_an_instance_a_slug_or_an_id(corpus, value):
    """Never a DataError: an id out of range is simply not found, a float or a bool is refused."""
    search = outcome(lambda: django_rag.search("leave", collection=value))
    asked = outcome(lambda: django_rag.ask("leave?", collection=value, use_cache=False))
    if value is None or isinstance(value, str) or is_int(value):
        assert search == "ok"
        assert asked == "ok" or isinstance(asked, Collection.DoesNotExist)
    else:
        assert_validated(search, False, "collection", value)
        assert_validated(asked, False, "collection", value)


@FUZZ
@given(value=anything)
@example(value=2**31)  # its advisory-lock key, -2**31, used to overflow in the SQL
def test_ingest_takes_a_document_or_its_id(corpus, value):
    result = outcome(lambda: django_rag.ingest(value))
    if int_between(1, INT8_MAX)(value):
        assert result == "ok" or isinstance(result, Document.DoesNotExist), repr(result)
    else:
        assert_validated(result, False, "document", value)


@FUZZ
@given(value=anything)
def test_ingest_many_validates_batch_size_and_ids(corpus, value):
    result = outcome(lambda: django_rag.ingest_many([corpus], batch_size=value))
    assert_validated(result, value is None or int_between(1, INT4_MAX)(value), "batch_size", value)
    result = outcome(lambda: django_rag.ingest_many([value]))
    if int_between(1, INT8_MAX)(value):
        assert result == "ok"  # a missing id comes back as a failed result, not an exception
    else:
        assert_validated(result, False, "document", value)


def test_a_document_id_past_two_to_the_31_can_be_ingested(collection):
    """The advisory lock's key for such an id is -2**31, which client-side binding used to
    write as ``-2147483648::int4``: PostgreSQL reads that as ``-(2147483648::int4)``."""
    document = Document.objects.create(pk=2**31, collection=collection, title="Leave", text=LEAVE)
    assert django_rag.ingest(document).ok
    assert django_rag.ingest_many([Document.objects.create(pk=2**32 + 2**31, title="Other", text=LEAVE)])[0].ok


@pytest.fixture
def questions_file(tmp_path, corpus):
    path = tmp_path / "questions.jsonl"
    path.write_text(json.dumps({"question": "parental leave days?", "relevant_document_ids": [str(corpus.pk)]}) + "\n")
    return path


EVALUATE_PARAMETERS = [
    ("k", int_between(1, MAX_K)),
    ("limit", lambda value: value is None or int_between(1, INT8_MAX)(value)),
    ("candidates", or_none(int_between(1, MAX_CANDIDATES))),
    ("rrf_k", or_none(finite_at_least(0))),
]


@pytest.mark.parametrize(("name", "valid"), EVALUATE_PARAMETERS, ids=[p[0] for p in EVALUATE_PARAMETERS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=anything)
def test_evaluate_validates_its_numbers_before_storing_a_run(questions_file, name, valid, value):
    runs_before = EvalRun.objects.count()
    result = outcome(lambda: django_rag.evaluate(questions_file, mode="hybrid", answers=False, **{name: value}))
    assert_validated(result, valid(value), name, value)
    if not valid(value):
        assert EvalRun.objects.count() == runs_before


# --- the LangChain vector store ----------------------------------------------------------

STORE_PARAMETERS = [
    ("k", lambda store, v: store.similarity_search("parental leave", k=v), int_between(1, MAX_K)),
    ("k", lambda store, v: store.similarity_search_with_score("leave", k=v, mode="keyword"), int_between(1, MAX_K)),
    ("candidates", lambda store, v: store.similarity_search("leave", candidates=v),
     or_none(int_between(1, MAX_CANDIDATES))),
    ("fetch_k", lambda store, v: store.max_marginal_relevance_search("leave", k=2, fetch_k=v), int_between(1, MAX_K)),
    ("lambda_mult", lambda store, v: store.max_marginal_relevance_search("leave", lambda_mult=v),
     lambda v: is_finite(v) and 0 <= v <= 1),
]


@pytest.mark.parametrize(("name", "call", "valid"), STORE_PARAMETERS, ids=[f"{p[0]}-{n}" for n, p in enumerate(STORE_PARAMETERS)])
@FUZZ
@given(value=anything)
def test_the_vector_store_validates_its_numbers(corpus, name, call, valid, value):
    store = DjangoRAGVectorStore()
    assert_validated(outcome(lambda: call(store, value)), valid(value), name, value)


# --- template tags: numbers often arrive as text from the query string ------------------

def as_text_value(value):
    """What ``k="5"`` becomes: an int when the text is a plain whole number."""
    if isinstance(value, str) and value.strip().lstrip("+-").isascii() and value.strip().lstrip("+-").isdigit():
        text = value.strip()
        if text[:1] in "+-" and text[1:2] in "+-":
            return value
        return int(text)
    return value


def render(source: str, **context) -> str:
    return Template("{% load django_rag %}" + source).render(Context(context))


@FUZZ
@given(value=anything)
@example(value="5")
@example(value=" 7 ")
@example(value="five")
def test_rag_search_tag_converts_or_refuses_k(corpus, value):
    converted = as_text_value(value)
    valid = value is None or int_between(1, MAX_K)(converted)
    try:
        with transaction.atomic():
            html = render("{% rag_search 'parental leave' k=k as results %}{{ results|length }}", k=value)
    except TemplateSyntaxError as exc:
        assert not valid, f"k={value!r} is valid but the tag raised {exc}"
        assert "rag_search: k" in str(exc)
    else:
        assert valid, f"k={value!r} rendered {html!r}"
        assert html == "1"


@FUZZ
@given(value=anything)
@example(value="3")
def test_rag_answer_tag_shows_a_clear_error_for_a_bad_k(corpus, value):
    converted = as_text_value(value)
    valid = value is None or int_between(1, MAX_K)(converted)
    with transaction.atomic():
        html = render("{% rag_answer 'How many days of parental leave?' k=k %}", k=value)
    if valid:
        assert "twenty days" in html
    else:
        assert "k must" in html, html


@FUZZ
@given(value=anything)
def test_rag_search_tag_converts_float_options(corpus, value):
    valid = is_finite(value) and value >= 0
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        valid = math.isfinite(number) and number >= 0
    if value is None:
        valid = True
    try:
        with transaction.atomic():
            render("{% rag_search 'parental leave' rrf_k=v as results %}", v=value)
    except TemplateSyntaxError as exc:
        assert not valid, f"rrf_k={value!r} is valid but the tag raised {exc}"
        assert "rrf_k" in str(exc)
    else:
        assert valid, f"rrf_k={value!r} was accepted"


# --- management commands -------------------------------------------------------------

COMMAND_OPTIONS = [
    ("rag_ask", ["How many days of parental leave?"], "k", int_between(1, MAX_K)),
    ("rag_eval", None, "k", int_between(1, MAX_K)),
    ("rag_eval", None, "limit", int_between(1, INT8_MAX)),
    ("rag_eval", None, "candidates", int_between(1, MAX_CANDIDATES)),
]


@pytest.mark.parametrize(("command", "arguments", "option", "valid"), COMMAND_OPTIONS,
                         ids=[f"{c[0]}-{c[2]}" for c in COMMAND_OPTIONS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=anything)
def test_commands_validate_their_numbers(questions_file, command, arguments, option, valid, value, capsys):
    arguments = arguments or [str(questions_file), "--no-answers"]
    # As a shell passes it (text through argparse), and as call_command(k=...) passes it (as is).
    for how in ("argv", "keyword"):
        if how == "argv":
            if value is None:
                continue
            call = lambda: call_command(command, *arguments, f"--{option}={value}")  # noqa: E731
            try:  # argparse's type=int: Python's int() of the text
                expected_valid = valid(int(str(value)))
            except ValueError:
                expected_valid = False
        else:
            if value is None:
                continue  # the option's default
            call = lambda: call_command(command, *arguments, **{option: value})  # noqa: E731
            expected_valid = valid(value)
        result = outcome(call)
        capsys.readouterr()
        if expected_valid:
            assert result == "ok", f"--{option}={value!r} ({how}) is valid but raised {result!r}"
        else:
            assert isinstance(result, CommandError), f"--{option}={value!r} ({how}) raised {result!r}"


# --- the REST API, every operation of its OpenAPI schema ----------------------------------

@pytest.fixture
def api(corpus, django_user_model, rag_settings):
    rag_settings(API_THROTTLE=None)
    user = django_user_model.objects.create_superuser("numbers")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {ApiKey.create_key(user, 'numbers')[1]}")
    schema = client.get("/api/openapi.json").json()
    return {"client": client, "schema": schema, "document": corpus}


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _numeric(node: dict) -> dict | None:
    """The integer/number branch of a property schema (``anyOf`` with null for optional ones)."""
    for branch in node.get("anyOf", [node]):
        if branch.get("type") in ("integer", "number"):
            return branch
    return None


def numeric_parameters(schema: dict) -> list[dict]:
    """Every numeric path, query or JSON body parameter of every operation."""
    found = []
    for path, methods in schema["paths"].items():
        if not path.startswith("/api/rag/"):
            continue
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                numeric = _numeric(_resolve(schema, parameter["schema"]))
                if numeric:
                    found.append({"path": path, "method": method, "in": parameter["in"], "name": parameter["name"],
                                  "schema": numeric, "required": parameter.get("required", False)})
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                for name, node in _resolve(schema, body["schema"]).get("properties", {}).items():
                    numeric = _numeric(_resolve(schema, node))
                    if numeric:
                        found.append({"path": path, "method": method, "in": "body", "name": name, "schema": numeric,
                                      "required": False})
    return found


def test_the_schema_enumeration_finds_every_numeric_parameter(api):
    names = {(p["method"], p["path"], p["name"]) for p in numeric_parameters(api["schema"])}
    assert {
        ("get", "/api/rag/search", "k"), ("get", "/api/rag/documents", "limit"), ("get", "/api/rag/documents", "offset"),
        ("get", "/api/rag/documents/{document_id}", "document_id"), ("post", "/api/rag/ask", "k"),
        ("post", "/api/rag/ask/stream", "k"), ("delete", "/api/rag/documents/{document_id}", "document_id"),
        ("post", "/api/rag/documents/{document_id}/reingest", "document_id"),
    } <= names
    # Every numeric parameter declares both bounds: nothing reaches PostgreSQL unbounded.
    for parameter in numeric_parameters(api["schema"]):
        assert "minimum" in parameter["schema"] and "maximum" in parameter["schema"], parameter


# What a query string or a path segment can hold where a number belongs.
query_text = st.one_of(
    st.sampled_from(EDGES).map(str),
    st.integers().map(str),
    st.integers(min_value=1, max_value=60).map(str),
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not (math.isfinite(f) and f.is_integer())).map(repr),
    st.sampled_from(["true", "false", "nan", "inf", "-inf", "1e3", "0x10", "٥", "abc", "[]", "None", "1,2"]),
)
json_value = st.one_of(
    st.sampled_from(EDGES), st.integers(), st.integers(min_value=1, max_value=60),
    st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(),
    st.sampled_from(["5", "x", "1e3", [], {}, [1]]), st.text(max_size=5),
)


def expected_valid(value, bounds: dict, *, location: str) -> bool:
    low, high = bounds["minimum"], bounds["maximum"]
    if location == "body":
        if value is None:
            return True  # the optional field's default
        if isinstance(value, bool):
            return False
        if isinstance(value, float):
            return value.is_integer() and low <= value <= high
        if isinstance(value, str):
            return value.strip().lstrip("-").isdigit() and value.isascii() and low <= int(value) <= high
        return is_int(value) and low <= value <= high
    try:  # pydantic's reading of an integer in text: Python's int(), ASCII digits only
        number = int(value) if value.isascii() else None
    except ValueError:
        return False
    return number is not None and low <= number <= high


def call_operation(api, parameter: dict, value):
    client, document = api["client"], api["document"]
    path = parameter["path"].removeprefix("/api")
    path_value = quote(value, safe="") if parameter["in"] == "path" else str(document.pk)
    url = "/api" + path.replace("{document_id}", path_value)
    query = {"q": "parental leave"} if parameter["path"].endswith("/search") else {}
    if parameter["in"] == "query":
        query[parameter["name"]] = value
    body = None
    if parameter["method"] == "post" and "ask" in parameter["path"]:
        body = {"question": "How many days of parental leave?"}
        if parameter["in"] == "body":
            body[parameter["name"]] = value
    method = getattr(client, parameter["method"])
    if body is not None:
        return method(url + ("?" + "&".join(f"{k}={quote(v)}" for k, v in query.items()) if query else ""),
                      data=json.dumps(body), content_type="application/json")
    return method(url, query) if parameter["method"] == "get" else method(
        url + ("?" + "&".join(f"{k}={quote(v)}" for k, v in query.items()) if query else ""))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_numeric_api_parameter_answers_422_or_works(api, data):
    parameters = numeric_parameters(api["schema"])
    parameter = data.draw(st.sampled_from(parameters), label="parameter")
    value = data.draw(json_value if parameter["in"] == "body" else query_text, label="value")
    with transaction.atomic():
        response = call_operation(api, parameter, value)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        transaction.set_rollback(True)  # a DELETE of the corpus document must not affect the next example
    label = f"{parameter['method'].upper()} {parameter['path']} {parameter['name']}={value!r}"
    assert response.status_code < 500, f"{label}: {response.status_code} {body[:300]!r}"
    if expected_valid(value, parameter["schema"], location=parameter["in"]):
        assert response.status_code != 422, f"{label} is valid: {body[:300]!r}"
    else:
        assert response.status_code == 422, f"{label}: {response.status_code} {body[:300]!r}"
        error = json.loads(body)
        assert error["code"] == "invalid"
        assert any(parameter["name"] in [str(part) for part in item["loc"]] for item in error["detail"]), error


def test_the_search_endpoint_answers_400_past_max_k(api, rag_settings):
    """k within the schema's bound (50) but above a site's lower DJANGO_RAG["MAX_K"]."""
    rag_settings(API_THROTTLE=None, MAX_K=10)
    response = api["client"].get("/api/rag/search", {"q": "leave", "k": "20"})
    assert response.status_code == 400 and "MAX_K" in response.json()["detail"]
    response = api["client"].post("/api/rag/ask", data={"question": "leave?", "k": 20}, content_type="application/json")
    assert response.status_code == 400 and "MAX_K" in response.json()["detail"]


# --- settings ------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "check_id"), [
    ({"MAX_K": 0}, "django_rag.E060"),
    ({"MAX_K": 10**9}, "django_rag.E060"),
    ({"MAX_CANDIDATES": -1}, "django_rag.E060"),
    ({"RRF_K": math.nan}, "django_rag.E060"),
    ({"RRF_K": -1}, "django_rag.E060"),
    ({"NO_ANSWER_MIN_SIMILARITY": math.inf}, "django_rag.E060"),
    ({"KEYWORD_POSTINGS_PER_TERM": 2**31}, "django_rag.E060"),
    ({"PROCESSING_TIMEOUT": math.nan}, "django_rag.E060"),
    ({"ANSWER_CACHE_TIMEOUT": -5}, "django_rag.E060"),
    ({"HNSW_M": 1}, "django_rag.E060"),
    ({"ANSWER_K": 20, "MAX_K": 10}, "django_rag.E061"),
    ({"CANDIDATES": 500, "MAX_CANDIDATES": 100}, "django_rag.E061"),
    ({"HYBRID_WEIGHTS": {"semantic": math.nan}}, "django_rag.E062"),
    ({"HYBRID_WEIGHTS": {"semantic": -1.0}}, "django_rag.E062"),
    ({"HYBRID_WEIGHTS": {"dense": 1.0}}, "django_rag.E062"),
    ({"HNSW_M": 48, "HNSW_EF_CONSTRUCTION": 64}, "django_rag.E063"),
])
def test_numeric_settings_are_checked(rag_settings, overrides, check_id):
    from django_rag.checks import check_settings

    assert not check_settings()  # the defaults pass
    rag_settings(**overrides)
    assert check_id in {message.id for message in check_settings()}


@pytest.mark.parametrize("overrides", [{"RRF_K": math.nan}, {"CANDIDATES": 2**40}, {"HYBRID_WEIGHTS": {"keyword": math.inf}}])
def test_a_bad_numeric_setting_fails_a_search_clearly(corpus, rag_settings, overrides):
    rag_settings(**overrides)
    with pytest.raises(ValueError) as raised:
        django_rag.search("parental leave")
    assert not isinstance(raised.value, TypeError)


# --- the admin: Django reads ?p= and ?o=; none of their values may be a server error ----

@pytest.mark.parametrize("model", ["document", "chunk", "collection", "querylog", "evalrun", "apikey"])
@pytest.mark.parametrize("query", ["p=0", "p=-1", "p=abc", f"p={2**63}", "p=nan", "o=99", "o=-1.5", f"o={2**63}", "o=x.1"])
def test_admin_lists_take_any_page_and_ordering_number(admin_client, corpus, model, query):
    response = admin_client.get(f"/admin/django_rag/{model}/?{query}")
    assert response.status_code in (200, 302), (model, query, response.status_code)
