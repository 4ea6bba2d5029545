"""Retrieval SQL: the semantic leg, the BM25 keyword leg and their fusion.

Each search is one SQL statement. ``Chunk.objects.<filters>.hybrid(q)`` compiles the
filters placed before the call into both legs (so a narrow filter still yields a full
list of candidates), ranks candidates in a derived table, and joins that table back to
``django_rag_chunk`` with :class:`RankingJoin`, so the result is an ordinary, chainable
QuerySet of ``Chunk`` rows annotated with ``score`` and each leg's rank.

Keyword leg (BM25, the SQL function ``django_rag_bm25_search`` of migration 0009): the
query is tokenised with ``to_tsvector(config, query)`` for each text search
configuration in the corpus (or the one asked for), which never raises on user input and
drops stop words; each term's best postings come from the ``(config, lexeme, impact
DESC)`` index; scores are ``sum(idf * impact)``. Reading only
each term's ``postings_per_term`` best postings bounds the cost on common terms; the
postings it skips are those whose contribution is smallest (see docs/retrieval.md).

Semantic leg: ``ORDER BY embedding::vector(N) <=> query LIMIT n`` over the embedder's
own rows, served by its partial HNSW index (``halfvec(N)`` where that index is built on
half precision, see :mod:`django_rag.vector_indexes`). Filtered HNSW scans would under-return, so
pgvector 0.8's iterative scans are turned on for every connection
(``DJANGO_RAG["HNSW_ITERATIVE_SCAN"]``).

Fusion: Reciprocal Rank Fusion, ``sum(weight / (rrf_k + rank))`` over the legs.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Literal

from django.db.models import FloatField, IntegerField
from django.db.models.expressions import Expression, RawSQL
from django.db.models.sql.constants import INNER

from . import validation
from .conf import get_setting
from .embedders import BaseEmbedder, get_embedder
from .vector_indexes import vector_type

if TYPE_CHECKING:
    from django.db.models.expressions import BaseExpression

CHUNK_TABLE = "django_rag_chunk"
RANKING_ALIAS = "rag_ranking"
#: Columns a search leaves unloaded: results are read for their text, not their vectors.
SEARCH_DEFERRED_FIELDS = ("embedding", "search_vector")
#: A search: both legs fused, or one of them.
Mode = Literal["hybrid", "semantic", "keyword"]
MODES: tuple[Mode, ...] = ("hybrid", "semantic", "keyword")


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}.")


def resolve_embedder(embedder: BaseEmbedder | str | None) -> BaseEmbedder:
    """The embedder given (an alias or an instance), else the active one (``rag_activate_embedder``)."""
    if embedder is None:
        from .embedder_state import active_alias

        return get_embedder(active_alias())
    if isinstance(embedder, str):
        return get_embedder(embedder)
    return embedder


#: The largest magnitude each pgvector type holds (float32, float16).
VECTOR_LIMITS = {"vector": 3.4028234e38, "halfvec": 65504.0}


def vector_literal(vector: Sequence[float], kind: str = "vector") -> str:
    """pgvector's text form of ``vector``; a ``ValueError`` for what pgvector would refuse.

    NaN, infinities and values past the type's range would otherwise end the search in
    a ``DataError``. The checks scan the text rather than the floats: a finite float's
    repr never holds an "n" ("nan" and "inf" do), and only magnitudes from 1e16 up are
    written with a "+" ("1e+16"). One-character searches are memchr scans (~0.1 us,
    timed by hand; not a figure of benchmarks/RESULTS.md).
    """
    try:
        floats = [float(x) for x in vector]
    except (TypeError, ValueError, OverflowError):
        raise ValueError("vector must be a sequence of numbers.") from None
    literal = "[" + ",".join(map(repr, floats)) + "]"
    if "n" in literal:
        raise ValueError("vector must hold finite numbers (no NaN or infinity).")
    limit = VECTOR_LIMITS.get(kind, VECTOR_LIMITS["vector"])
    if ("+" in literal or kind == "halfvec") and floats and max(map(abs, floats)) > limit:
        raise ValueError(f"vector holds a value beyond what pgvector's {kind} holds (±{limit:g}).")
    return literal


#: The options each search takes besides its query (its method's keyword arguments).
MODE_OPTIONS: dict[str, frozenset[str]] = {
    "semantic": frozenset({"vector", "embedder", "candidates", "min_score"}),
    "keyword": frozenset({"language", "candidates", "postings_per_term", "min_score"}),
    "hybrid": frozenset(
        {"vector", "embedder", "language", "candidates", "rrf_k", "weights", "postings_per_term", "min_score"}
    ),
}


@dataclass(frozen=True, kw_only=True)
class SearchOptions:
    """The options of one search as given: what ``ask()`` hands to ``QuerySet.top()``.

    ``None`` means "not given" (the setting's value, the active embedder, the query
    embedded). :meth:`check` says which a mode takes; the numbers are checked where the
    search uses them (:class:`RankingOptions`, ``min_score``).
    """

    vector: Sequence[float] | None = None
    embedder: BaseEmbedder | str | None = None
    language: str | None = None
    candidates: int | None = None
    rrf_k: float | None = None
    weights: dict[str, float] | None = None
    postings_per_term: int | None = None
    min_score: float | None = None

    def given(self) -> dict[str, Any]:
        """The options that were given (not ``None``), by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def check(self, mode: str) -> None:
        """A ``TypeError`` for an option given that a ``mode`` search does not take."""
        unexpected = sorted(set(self.given()) - MODE_OPTIONS[mode])
        if unexpected:
            raise TypeError(
                f"A {mode} search got unexpected option(s) {', '.join(unexpected)}; "
                f"it takes {', '.join(sorted(MODE_OPTIONS[mode]))}."
            )

    def override(self, **values: Any) -> SearchOptions:
        """These options with ``values`` that are not ``None`` in place of their own."""
        given = {name: value for name, value in values.items() if value is not None}
        return replace(self, **given) if given else self

    def fill(self, **defaults: Any) -> SearchOptions:
        """These options with ``defaults`` for those not given."""
        missing = {name: value for name, value in defaults.items() if getattr(self, name) is None}
        return replace(self, **missing) if missing else self


@dataclass(frozen=True)
class RankingOptions:
    """The numbers a ranking statement uses: the options given, else the settings', checked."""

    candidates: int
    rrf_k: float
    semantic_weight: float
    keyword_weight: float
    postings_per_term: int

    @classmethod
    def build(
        cls,
        *,
        candidates: int | None = None,
        rrf_k: float | None = None,
        weights: dict[str, float] | None = None,
        postings_per_term: int | None = None,
        embedder: BaseEmbedder | None = None,
    ) -> RankingOptions:
        # Weights: the argument, else the setting, else the embedder's own default for
        # its semantic leg (0 for the lexical hashing embedder) and 1 for the keyword leg.
        # Every number is checked here (django_rag.validation): these go into the SQL.
        default_weights = {"semantic": embedder.hybrid_weight if embedder else 1.0, "keyword": 1.0}
        configured_weights = {
            **validation.weights(default_weights), **validation.weights(get_setting("HYBRID_WEIGHTS")),
            **validation.weights(weights),
        }
        return cls(
            candidates=validation.integer(
                "candidates", get_setting("CANDIDATES") if candidates is None else candidates,
                maximum=get_setting("MAX_CANDIDATES"), setting="MAX_CANDIDATES",
            ),
            rrf_k=validation.number("rrf_k", get_setting("RRF_K") if rrf_k is None else rrf_k, minimum=0),
            semantic_weight=configured_weights["semantic"],
            keyword_weight=configured_weights["keyword"],
            postings_per_term=validation.integer(
                "postings_per_term",
                get_setting("KEYWORD_POSTINGS_PER_TERM") if postings_per_term is None else postings_per_term,
            ),
        )


_ITERATIVE_SCAN_MODES = {"relaxed_order", "strict_order", "off"}


def configure_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Turn on pgvector's iterative index scans for each new PostgreSQL connection.

    Without them, an HNSW scan returns at most ``hnsw.ef_search`` rows (40) *before* the
    WHERE clause, so a filter that keeps 1% of rows leaves a search with almost nothing.
    The setting only changes filtered HNSW scans; other queries are unaffected.

    The signal fires for every connection Django *hands out*: with Django's pool
    (``OPTIONS["pool"]``) that is every request, while the session keeps the setting
    for as long as the server connection lives. So the ``SET`` runs once per server
    connection (remembered per psycopg connection), and not at all when the connection
    string already sets it (``OPTIONS["options"] = "-c hnsw.iterative_scan=..."``).
    """
    mode = get_setting("HNSW_ITERATIVE_SCAN")
    if not mode:
        return
    if mode not in _ITERATIVE_SCAN_MODES:
        raise ValueError(f'DJANGO_RAG["HNSW_ITERATIVE_SCAN"] must be one of {sorted(_ITERATIVE_SCAN_MODES)} or None.')
    raw = connection.connection
    if _configured_connections.get(raw) == mode:
        return
    startup_options = str((connection.settings_dict.get("OPTIONS") or {}).get("options", "")).replace(" ", "")
    if f"hnsw.iterative_scan={mode}" not in startup_options:
        with connection.cursor() as cursor:
            # A custom "hnsw.*" setting is accepted before pgvector is loaded, and ignored
            # by pgvector versions older than 0.8.
            cursor.execute(f"SET hnsw.iterative_scan = {mode}")
    _configured_connections[raw] = mode


#: psycopg connection -> the HNSW_ITERATIVE_SCAN mode its session was given.
_configured_connections: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


# --- the legs, as SQL fragments -------------------------------------------------------


def semantic_leg(
    vector: Sequence[float], embedder: BaseEmbedder, limit: int, chunk_filter: ChunkFilter | None,
    *, side_table: bool = False,
) -> tuple[str, list[Any]]:
    """``(id, rank, distance)`` of the ``limit`` nearest chunks.

    The filter is a plain ``IN (subquery)``: the planner weighs it against the HNSW scan
    and picks an exact scan of the admitted rows when they are few (the figures for
    broad and narrow filters: benchmarks/RESULTS.md). ``side_table``: the embedder's
    vectors are in ``django_rag_chunk_embedding`` (re-embedded, see
    :mod:`django_rag.reembed`), searched the same way through its own partial index.
    """
    dims, kind = int(embedder.dimensions), vector_type(embedder)
    if side_table:
        from .embedder_state import SIDE_TABLE

        # The predicate is the partial index's (django_rag.reembed.ensure_side_index).
        table, alias, chunk_id, where = SIDE_TABLE, "e", "e.chunk_id", "e.embedder = %s AND e.embedding IS NOT NULL"
    else:
        table, alias, chunk_id, where = CHUNK_TABLE, "c", "c.id", "c.embedder = %s"
    params: list[Any] = [vector_literal(vector, kind), embedder.identity]
    if chunk_filter is not None:
        where += f" AND {chunk_id} IN ({chunk_filter.sql})"
        params.extend(chunk_filter.params)
    params.append(limit)
    sql = (
        "SELECT id, row_number() OVER (ORDER BY distance, id) AS rank, distance FROM ("
        f"SELECT {chunk_id} AS id, ({alias}.embedding::{kind}({dims}) <=> %s::{kind}({dims})) AS distance "
        f"FROM {table} {alias} WHERE {where} ORDER BY distance LIMIT %s) nearest"
    )
    # The vector literal comes first in the SELECT list, before the WHERE parameters.
    return sql, params


def keyword_leg(
    query: str,
    limit: int,
    postings_per_term: int,
    language: str | None,
    chunk_filter: ChunkFilter | None,
) -> tuple[str, list[Any]]:
    """``(id, rank, score)`` of the ``limit`` best chunks by BM25.

    Without a filter: the SQL function ``django_rag_bm25_search`` (migration 0009), each
    query term's best postings summed; being a function, its statement is planned once
    per connection rather than once per search. With a filter, evaluating the ORM filter
    over every chunk it admits would cost more than the search itself, so it runs in two
    passes. First, the unfiltered candidates are checked best first by a correlated
    subquery until ``limit`` pass (a few probes for a broad filter). Only if too few
    pass (a narrow filter) does the second pass run: it materialises the admitted chunk
    ids, which are few, and reads each term's best postings among them.
    """
    search = "SELECT id, rank, score FROM django_rag_bm25_search(%s, %s::regconfig, %s, %s)"
    if chunk_filter is None:
        return search, [query, language or None, postings_per_term, limit]

    params: list[Any] = [query, language or None, postings_per_term]
    # Enough unfiltered candidates to fill `limit` unless the filter admits under ~10%.
    params.append(limit * 10)
    correlated_sql, correlated_params = chunk_filter.correlated('"rag_candidate"."id"')
    params.extend(correlated_params)
    params.append(limit)
    config_filter = ""
    params.append(query)
    if language:
        config_filter = "WHERE s.config = %s::regconfig"
        params.append(language)
    params.extend(chunk_filter.params)
    params.extend([postings_per_term, limit, limit, limit])
    sql = (
        f"WITH candidates AS MATERIALIZED ({search}),"
        # A scalar subquery is never flattened into a join, so it runs per row, in the
        # candidates' score order, and the LIMIT stops it early.
        " first_pass AS MATERIALIZED ("
        "  SELECT id, score FROM candidates rag_candidate"
        f"  WHERE ({correlated_sql}) IS NOT NULL ORDER BY rank LIMIT %s"
        " ),"
        # The second pass: django_rag_bm25_search's statement, reading only the postings
        # of admitted chunks. weighted_terms is MATERIALIZED so idf is computed once per
        # term, not per posting, and in float8 (numeric ln() per row is slow).
        " query_terms AS ("
        "  SELECT DISTINCT s.config, t.lexeme, s.chunks"
        "  FROM django_rag_corpus s CROSS JOIN LATERAL unnest(to_tsvector(s.config, %s)) AS t "
        f" {config_filter}"
        " ), weighted_terms AS MATERIALIZED ("
        "  SELECT config, lexeme, idf, idf / max(idf) OVER () AS share FROM ("
        "   SELECT q.config, q.lexeme,"
        "          ln(1.0::float8 + (q.chunks - t.df + 0.5::float8) / (t.df + 0.5::float8)) AS idf"
        "   FROM query_terms q JOIN django_rag_term t ON t.config = q.config AND t.lexeme = q.lexeme"
        "   WHERE t.df > 0) idfs"
        " ),"
        f" admitted AS MATERIALIZED ({chunk_filter.sql}),"
        " second_pass AS ("
        "  SELECT p.chunk_id AS id, sum(w.idf * p.impact) AS score"
        "  FROM weighted_terms w CROSS JOIN LATERAL ("
        "   SELECT p.chunk_id, p.impact FROM django_rag_posting p"
        "   WHERE p.config = w.config AND p.lexeme = w.lexeme AND p.chunk_id IN (SELECT pk FROM admitted)"
        # Each term reads postings in proportion to its idf: the rarest term gets the
        # whole budget, a common one (long list, small weight) a fraction of it.
        "   ORDER BY p.impact DESC LIMIT ceil(%s * w.share)::int"
        "  ) p GROUP BY p.chunk_id ORDER BY score DESC, id LIMIT %s"
        " ),"
        " scored AS ("
        "  SELECT id, score FROM first_pass WHERE (SELECT count(*) FROM first_pass) >= %s"
        "  UNION ALL"
        "  SELECT id, score FROM second_pass WHERE (SELECT count(*) FROM first_pass) < %s"
        " )"
        " SELECT id, row_number() OVER (ORDER BY score DESC, id) AS rank, score FROM scored"
    )
    return sql, params


def fusion_weight(weight: float, rrf_k: float) -> float:
    """``weight`` as bound into the fusion, ``weight / (rrf_k + rank)``.

    A weight so small that the quotient is below the smallest float (``5e-324`` with
    ``rrf_k`` 60) is 0 in IEEE arithmetic, but PostgreSQL raises "value out of range:
    underflow" for it instead. Such a weight is bound as 0, the score it would have
    given. A rank is a row number of a leg's LIMIT, an int4, hence the bound.
    """
    return weight if weight / (rrf_k + 2**31) > 0 else 0.0


def hybrid_sql(
    *,
    semantic: tuple[str, list[Any]] | None,
    keyword: tuple[str, list[Any]] | None,
    options: RankingOptions,
    top: int | None = None,
) -> tuple[str, list[Any]]:
    """Fuse the legs with weighted Reciprocal Rank Fusion into ``(id, score, ...)``.

    ``top``: only the best ``top`` rows will be read (``QuerySet.top()``). A leg
    weighted 0 adds nothing to any score, so its rows can only follow every row of the
    other leg; when the other leg finds ``top`` rows, none of them is read. The leg then
    runs only if the other finds fewer (a one-time filter: PostgreSQL does not start
    its scan otherwise). The hashing embedder's semantic leg is weighted 0 by default.
    """
    parts, params = [], []
    legs = {"semantic": semantic, "keyword": keyword}
    weights = {"semantic": options.semantic_weight, "keyword": options.keyword_weight}
    gated = None
    if top is not None and semantic and keyword:
        gated = next((name for name in legs if weights[name] == 0 and weights[_other(name)] > 0), None)
    for name in sorted(legs, key=lambda name: name == gated):  # a gated leg after the other
        leg = legs[name]
        if not leg:
            continue
        if name == gated:
            assert top is not None  # a leg is gated only when top is given
            parts.append(
                f"{name} AS MATERIALIZED (SELECT * FROM ({leg[0]}) leg"
                f" WHERE (SELECT count(*) FROM {_other(name)}) < %s)"
            )
            params.extend([*leg[1], int(top)])
        else:
            parts.append(f"{name} AS MATERIALIZED ({leg[0]})")
            params.extend(leg[1])
    k = options.rrf_k
    if semantic and keyword:
        body = (
            "SELECT coalesce(s.id, k.id) AS id,"
            " coalesce(%s::float8 / (%s::float8 + s.rank), 0) + coalesce(%s::float8 / (%s::float8 + k.rank), 0) AS score,"
            " s.rank AS semantic_rank, k.rank AS keyword_rank, s.distance, k.score AS keyword_score,"
            # Ties in score (rows of a leg weighted 0 all score 0) go to the row one of
            # the legs ranked better, rather than to the lower id.
            " least(s.rank, k.rank) AS best_rank"
            " FROM semantic s FULL OUTER JOIN keyword k ON k.id = s.id"
        )
        params.extend([
            fusion_weight(options.semantic_weight, k), k,
            fusion_weight(options.keyword_weight, k), k,
        ])
    elif semantic:
        body = (
            "SELECT id, 1 - distance AS score, rank AS semantic_rank, NULL::bigint AS keyword_rank,"
            " distance, NULL::float8 AS keyword_score, rank AS best_rank FROM semantic"
        )
    else:
        body = (
            "SELECT id, score, NULL::bigint AS semantic_rank, rank AS keyword_rank,"
            " NULL::float8 AS distance, score AS keyword_score, rank AS best_rank FROM keyword"
        )
    return f"WITH {', '.join(parts)} {body}", params


def _other(leg: str) -> str:
    return "keyword" if leg == "semantic" else "semantic"


# --- attaching a ranking to a QuerySet ----------------------------------------------


def _quoter(compiler: Any) -> Any:
    """Quote table aliases exactly as this Django version's compiler does elsewhere.

    Django 6.1 quotes every alias (``compiler.quote_name``) and deprecates
    ``quote_name_unless_alias``; Django 5.2 leaves aliases such as ``T3`` unquoted. The
    join's ON clause must spell an alias the same way as the FROM clause does.
    """
    return getattr(compiler, "quote_name", None) or compiler.quote_name_unless_alias


class RankingJoin:
    """``INNER JOIN (<ranking SQL>) rag_ranking ON rag_ranking.id = django_rag_chunk.id``.

    Django has no public API to join a derived table; this object speaks the protocol
    of ``django.db.models.sql.datastructures.Join`` that the SQL compiler relies on
    (``as_sql``, ``relabeled_clone``, ``equals``...), so the QuerySet stays chainable.
    """

    filtered_relation = None
    join_type = INNER
    nullable = False

    def __init__(
        self, sql: str, params: Sequence[Any], parent_alias: str, table_alias: str = RANKING_ALIAS,
        table_name: str | None = None,
    ) -> None:
        self.sql, self.params = sql, tuple(params)
        self.parent_alias = parent_alias
        self.table_alias = table_alias
        # Query.table_map is keyed by table_name, which must survive relabelling (a
        # search used as a subquery has its aliases renamed to U0, U1...).
        self.table_name = table_name or table_alias

    @property
    def identity(self) -> tuple[Any, ...]:
        return (type(self), self.sql, self.params, self.parent_alias, self.table_name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RankingJoin) and self.identity == other.identity

    def __hash__(self) -> int:
        return hash(self.identity)

    def equals(self, other: object) -> bool:
        return self == other

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        qn = _quoter(compiler)
        return (
            f"INNER JOIN ({self.sql}) {qn(self.table_alias)} "
            f"ON ({qn(self.table_alias)}.id = {qn(self.parent_alias)}.id)",
            self.params,
        )

    def relabeled_clone(self, change_map: dict[str, str]) -> RankingJoin:
        return RankingJoin(
            self.sql,
            self.params,
            change_map.get(self.parent_alias, self.parent_alias),
            change_map.get(self.table_alias, self.table_alias),
            table_name=self.table_name,
        )

    class join_field:  # noqa: N801 - mimics Join.join_field, read by QuerySet internals
        class related_model:  # noqa: N801
            class _meta:  # noqa: N801
                local_concrete_fields = ()


class RankingColumn(Expression):
    """A column of the joined ranking, relabelled along with the join."""

    def __init__(self, alias: str, column: str, output_field: Any) -> None:
        super().__init__(output_field=output_field)
        self.alias, self.column = alias, column

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        qn = _quoter(compiler)
        return f"{qn(self.alias)}.{connection.ops.quote_name(self.column)}", ()

    def relabeled_clone(self, change_map: Mapping[str, str]) -> RankingColumn:
        return RankingColumn(change_map.get(self.alias, self.alias), self.column, self.output_field)

    def get_group_by_cols(self) -> list[BaseExpression]:
        return [self]

    def __repr__(self) -> str:
        return f"RankingColumn({self.alias}.{self.column})"


RANKING_COLUMNS = {
    "score": FloatField(),
    "semantic_rank": IntegerField(),
    "keyword_rank": IntegerField(),
    "distance": FloatField(),
    "keyword_score": FloatField(),
    "best_rank": IntegerField(),
}


@dataclass
class ChunkFilter:
    """The filters of a Chunk QuerySet, compiled for use inside the legs' SQL."""

    queryset: Any
    sql: str
    params: list[Any]

    @classmethod
    def from_queryset(cls, queryset: Any) -> ChunkFilter | None:
        """``None`` when the queryset has no filters (the fast, unfiltered path)."""
        if not queryset.query.where:
            return None
        inner = queryset.order_by().values("pk")
        inner.query.clear_limits()
        sql, params = inner.query.get_compiler(using=queryset.db).as_sql()
        return cls(queryset, sql, list(params))

    def correlated(self, outer_id_column: str) -> tuple[str, list[Any]]:
        """``SELECT 1 ... WHERE <filters> AND id = <outer column> LIMIT 1``."""
        inner = self.queryset.order_by().filter(pk=RawSQL(outer_id_column, ())).values("pk")[:1]
        sql, params = inner.query.get_compiler(using=self.queryset.db).as_sql()
        return sql, list(params)


def attach_ranking(queryset: Any, sql: str, params: Sequence[Any], *, min_score: float | None = None) -> Any:
    """Join a ranking ``(id, score, ...)`` to ``queryset`` and order by score."""
    qs = queryset._chain()
    query = qs.query
    parent = query.get_initial_alias()
    alias = RANKING_ALIAS
    n = 1
    while alias in query.alias_map:  # a second search on the same queryset
        n += 1
        alias = f"{RANKING_ALIAS}{n}"
    query.alias_map[alias] = RankingJoin(sql, params, parent, alias)
    query.alias_refcount[alias] = 1
    query.table_map.setdefault(alias, []).append(alias)
    qs = qs.annotate(**{name: RankingColumn(alias, name, field) for name, field in RANKING_COLUMNS.items()})
    if min_score is not None:
        qs = qs.filter(score__gte=min_score)
    return qs.order_by("-score", "best_rank", "pk")
