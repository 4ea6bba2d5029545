"""Evaluation datasets: BEIR directories and question JSONL files.

Two formats, told apart by the path:

- **BEIR** (a directory): ``corpus.jsonl`` (``{"_id", "title", "text"}`` per line),
  ``queries.jsonl`` (``{"_id", "text"}``) and ``qrels/<split>.tsv`` (a header line, then
  ``query-id <tab> corpus-id <tab> score``). The corpus is ingested into a collection of
  its own; questions are the queries that have judgments in the split, as BEIR scores them.
- **Questions** (a ``.jsonl`` file): one ``{"question", "reference_answer",
  "relevant_document_ids"}`` object per line, asked against an existing collection.
  ``relevant_document_ids`` is a list of ids (relevance 1) or an ``{id: grade}`` object;
  ids name documents by primary key, another Document field (``id_field="title"``) or a
  metadata key (``id_field="metadata.slug"``).
  ``id`` is optional (default: the line number); ``reference_answer`` is optional and
  needed only by context recall.

Errors name the file and line: :class:`DatasetError` (a ``ValueError``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import DjangoRAGError

BEIR = "beir"
QUESTIONS = "questions"


class DatasetError(DjangoRAGError, ValueError):
    """A dataset that cannot be read: the message names the file and line to fix."""


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    #: Relevant document ids (BEIR corpus ids or the ``id_field`` values) -> graded relevance.
    relevant: dict[str, float] = field(default_factory=dict)
    reference_answer: str = ""


@dataclass
class Dataset:
    name: str
    format: str
    path: Path
    questions: list[EvalQuestion]
    #: BEIR only: the corpus file, read lazily by :meth:`corpus`.
    corpus_path: Path | None = None
    split: str = ""

    def corpus(self) -> Iterator[dict[str, str]]:
        """The BEIR corpus, one ``{"_id", "title", "text"}`` dict at a time."""
        if self.corpus_path is None:
            return iter(())
        return _read_corpus(self.corpus_path)


def load_dataset(path: str | Path, *, split: str | None = None) -> Dataset:
    """Read a BEIR directory or a questions ``.jsonl`` file (see the module docstring)."""
    path = Path(path).expanduser()
    if path.is_dir():
        return _load_beir(path, split)
    if path.is_file():
        if split:
            raise DatasetError(f"{path}: split applies to BEIR directories only.")
        return _load_questions(path)
    raise DatasetError(f"{path}: no such file or directory (expected a BEIR directory or a .jsonl file).")


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read: {exc.strerror or exc}.") from exc
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path}, line {number}: not valid JSON ({exc.msg}).") from None
                if not isinstance(record, dict):
                    raise DatasetError(f"{path}, line {number}: expected a JSON object, got {type(record).__name__}.")
                yield number, record
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{path}: not UTF-8 text ({exc.reason}).") from None


def _text(record: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key in {"_id", "id"}:
        return str(value)
    if not isinstance(value, str) or (required and not value.strip()):
        raise DatasetError(f'{where}: "{key}" must be a non-empty string.')
    return value.replace("\x00", " ")


def _read_corpus(path: Path) -> Iterator[dict[str, str]]:
    seen: set[str] = set()
    for number, record in _json_lines(path):
        where = f"{path}, line {number}"
        doc_id = _text(record, "_id", where)
        if doc_id in seen:
            raise DatasetError(f"{where}: duplicate _id {doc_id!r}.")
        seen.add(doc_id)
        text = _text(record, "text", where, required=False)
        title = _text(record, "title", where, required=False)
        if not (text.strip() or title.strip()):
            raise DatasetError(f"{where}: document {doc_id!r} has neither title nor text.")
        yield {"_id": doc_id, "title": title, "text": text}


def _load_beir(path: Path, split: str | None) -> Dataset:
    corpus, queries_file, qrels_dir = path / "corpus.jsonl", path / "queries.jsonl", path / "qrels"
    missing = [p.name for p in (corpus, queries_file, qrels_dir) if not p.exists()]
    if missing:
        raise DatasetError(
            f"{path}: not a BEIR dataset, {', '.join(missing)} missing "
            "(expected corpus.jsonl, queries.jsonl and qrels/<split>.tsv)."
        )
    splits = sorted(p.stem for p in qrels_dir.glob("*.tsv"))
    if split is None:
        # BEIR reports the test split; a dataset with one split has no choice to make.
        split = "test" if "test" in splits else (splits[0] if len(splits) == 1 else "")
        if not split:
            raise DatasetError(f"{qrels_dir}: several splits ({', '.join(splits) or 'none'}); choose one with split=.")
    elif split not in splits:
        raise DatasetError(f"{qrels_dir}: no split {split!r} (found: {', '.join(splits) or 'none'}).")
    qrels = _read_qrels(qrels_dir / f"{split}.tsv")
    texts: dict[str, str] = {}
    for number, record in _json_lines(queries_file):
        where = f"{queries_file}, line {number}"
        texts[_text(record, "_id", where)] = _text(record, "text", where)
    unknown = [query_id for query_id in qrels if query_id not in texts]
    if unknown:
        raise DatasetError(f"{qrels_dir / f'{split}.tsv'}: query id {unknown[0]!r} is not in {queries_file.name}.")
    questions = [EvalQuestion(id=qid, question=texts[qid], relevant=relevant) for qid, relevant in qrels.items()]
    return Dataset(name=path.name, format=BEIR, path=path, questions=questions, corpus_path=corpus, split=split)


def _read_qrels(path: Path) -> dict[str, dict[str, float]]:
    qrels: dict[str, dict[str, float]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.split()
            if not parts:
                continue
            if number == 1 and parts[0] in {"query-id", "query_id", "qid"}:
                continue  # BEIR's header line
            if len(parts) != 3:
                raise DatasetError(
                    f"{path}, line {number}: expected 3 tab-separated columns (query-id, corpus-id, score), "
                    f"got {len(parts)}."
                )
            query_id, doc_id, score = parts
            try:
                grade = float(score)
            except ValueError:
                raise DatasetError(f"{path}, line {number}: score {score!r} is not a number.") from None
            qrels.setdefault(query_id, {})[doc_id] = int(grade) if grade.is_integer() else grade
    if not qrels:
        raise DatasetError(f"{path}: no relevance judgments.")
    return qrels


def _load_questions(path: Path) -> Dataset:
    questions: list[EvalQuestion] = []
    ids: set[str] = set()
    for number, record in _json_lines(path):
        where = f"{path}, line {number}"
        unknown = set(record) - {"id", "question", "reference_answer", "relevant_document_ids"}
        if unknown:
            raise DatasetError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}.")
        question_id = _text(record, "id", where, required=False) or str(number)
        if question_id in ids:
            raise DatasetError(f"{where}: duplicate id {question_id!r}.")
        ids.add(question_id)
        questions.append(
            EvalQuestion(
                id=question_id,
                question=_text(record, "question", where),
                reference_answer=_text(record, "reference_answer", where, required=False),
                relevant=_relevant_ids(record.get("relevant_document_ids"), where),
            )
        )
    if not questions:
        raise DatasetError(f"{path}: no questions.")
    return Dataset(name=path.stem, format=QUESTIONS, path=path, questions=questions)


def _relevant_ids(value: Any, where: str) -> dict[str, float]:
    if value is None:
        return {}
    if isinstance(value, list):
        value = {item: 1 for item in value}
    if not isinstance(value, dict):
        raise DatasetError(f'{where}: "relevant_document_ids" must be a list of ids or an {{id: grade}} object.')
    relevant: dict[str, float] = {}
    for key, grade in value.items():
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise DatasetError(f'{where}: "relevant_document_ids" holds {key!r}; ids are strings or integers.')
        if not isinstance(grade, (int, float)) or isinstance(grade, bool) or grade < 0:
            raise DatasetError(f'{where}: the grade of {key!r} must be a number >= 0.')
        relevant[str(key)] = grade
    return relevant
