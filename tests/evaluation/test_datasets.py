"""Both dataset formats, and malformed datasets refused with the file and line to fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from django_rag.evaluation import DatasetError, load_dataset

DATA = Path(__file__).parent / "data"


def test_beir_directory():
    dataset = load_dataset(DATA / "tiny-beir")
    assert (dataset.format, dataset.name, dataset.split) == ("beir", "tiny-beir", "test")
    # Only queries with judgments are questions, in qrels order, as BEIR scores them.
    assert [q.id for q in dataset.questions] == ["q1", "q2", "q3", "q4"]
    assert dataset.questions[0].relevant == {"d1": 2, "d8": 1}
    assert dataset.questions[0].question == "How many days of parental leave do employees get?"
    corpus = list(dataset.corpus())
    assert len(corpus) == 8
    assert corpus[0] == {
        "_id": "d1", "title": "Parental leave",
        "text": "Employees receive twenty days of paid parental leave after the birth or adoption of a child.",
    }


def test_questions_file():
    dataset = load_dataset(DATA / "questions.jsonl")
    assert (dataset.format, dataset.name) == ("questions", "questions")
    leave, remote, pension = dataset.questions
    assert (leave.id, leave.relevant, leave.reference_answer) == (
        "leave", {"parental-leave": 1}, "Twenty days of paid parental leave."
    )
    assert (remote.id, remote.relevant) == ("2", {"remote-work": 2})  # no id: its line number
    assert (pension.id, pension.reference_answer) == ("pension", "")  # a blank line is skipped


def write(tmp_path: Path, text: str, name: str = "questions.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"question": "ok"}\n{"question": "broken"\n', r"questions.jsonl, line 2: not valid JSON"),
        ('["a list"]\n', r"line 1: expected a JSON object, got list"),
        ('{"question": ""}\n', r'line 1: "question" must be a non-empty string'),
        ('{"reference_answer": "no question"}\n', r'line 1: "question" must be a non-empty string'),
        ('{"question": "a", "id": "x"}\n{"question": "b", "id": "x"}\n', r"line 2: duplicate id 'x'"),
        ('{"question": "a", "relevant_document_ids": "doc-1"}\n', r"line 1: \"relevant_document_ids\" must be a list"),
        ('{"question": "a", "relevant_document_ids": {"d": -1}}\n', r"line 1: the grade of 'd' must be a number >= 0"),
        ('{"question": "a", "relevant_document_ids": [null]}\n', r"line 1: \"relevant_document_ids\" holds None"),
        ('{"question": "a", "answer": "typo"}\n', r"line 1: unknown key\(s\) answer"),
        ("\n\n", r"no questions"),
    ],
)
def test_malformed_questions_file(tmp_path, text, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset(write(tmp_path, text))


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"question": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_dataset(path)


def test_missing_path(tmp_path):
    with pytest.raises(DatasetError, match="no such file or directory"):
        load_dataset(tmp_path / "nothing.jsonl")


@pytest.fixture
def beir_copy(tmp_path):
    target = tmp_path / "beir"
    shutil.copytree(DATA / "tiny-beir", target)
    return target


def test_beir_missing_files(beir_copy):
    (beir_copy / "queries.jsonl").unlink()
    with pytest.raises(DatasetError, match="not a BEIR dataset, queries.jsonl missing"):
        load_dataset(beir_copy)


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("query-id\tcorpus-id\tscore\nq1\td1\n", r"test.tsv, line 2: expected 3 tab-separated columns"),
        ("query-id\tcorpus-id\tscore\nq1\td1\thigh\n", r"test.tsv, line 2: score 'high' is not a number"),
        ("query-id\tcorpus-id\tscore\nq9\td1\t1\n", r"query id 'q9' is not in queries.jsonl"),
        ("query-id\tcorpus-id\tscore\n", r"no relevance judgments"),
    ],
)
def test_beir_malformed_qrels(beir_copy, qrels, message):
    (beir_copy / "qrels" / "test.tsv").write_text(qrels)
    with pytest.raises(DatasetError, match=message):
        load_dataset(beir_copy)


def test_beir_splits(beir_copy):
    shutil.copy(beir_copy / "qrels" / "test.tsv", beir_copy / "qrels" / "dev.tsv")
    assert load_dataset(beir_copy, split="dev").split == "dev"
    with pytest.raises(DatasetError, match=r"no split 'train' \(found: dev, test\)"):
        load_dataset(beir_copy, split="train")
    (beir_copy / "qrels" / "test.tsv").unlink()
    shutil.copy(beir_copy / "qrels" / "dev.tsv", beir_copy / "qrels" / "train.tsv")
    with pytest.raises(DatasetError, match="several splits"):
        load_dataset(beir_copy)


def test_beir_malformed_corpus_is_reported_when_read(beir_copy):
    corpus = beir_copy / "corpus.jsonl"
    corpus.write_text(corpus.read_text() + '{"_id": "d1", "text": "again"}\n{"_id": "d9"}\n')
    dataset = load_dataset(beir_copy)
    with pytest.raises(DatasetError, match=r"corpus.jsonl, line 9: duplicate _id 'd1'"):
        list(dataset.corpus())
    corpus.write_text('{"_id": "d9", "title": "", "text": " "}\n')
    with pytest.raises(DatasetError, match=r"line 1: document 'd9' has neither title nor text"):
        list(load_dataset(beir_copy).corpus())


def test_beir_malformed_query(beir_copy):
    (beir_copy / "queries.jsonl").write_text('{"_id": "q1", "text": "fine"}\n{"_id": "q2"}\n')
    with pytest.raises(DatasetError, match=r"queries.jsonl, line 2: \"text\" must be a non-empty string"):
        load_dataset(beir_copy)
