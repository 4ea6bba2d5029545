from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_rag import validation
from django_rag.evaluation.datasets import DatasetError
from django_rag.evaluation.runner import MODES, evaluate
from django_rag.exceptions import DjangoRAGError
from django_rag.management.progress import ProgressBar, raw_stream

COLUMNS = [
    ("ndcg", "nDCG@{k}"),
    ("recall", "recall@{k}"),
    ("mrr", "MRR@{k}"),
    ("faithfulness", "faithfulness"),
    ("answer_relevancy", "answer relevancy"),
    ("context_precision", "context precision"),
    ("context_recall", "context recall"),
]


class Command(BaseCommand):
    help = (
        "Evaluate retrieval (and answers) on a dataset: a BEIR directory (its corpus is ingested into a "
        "collection of its own) or a JSONL file of questions asked against an existing collection. "
        "Prints a table and stores one evaluation run per mode (see the admin)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="A BEIR directory or a questions .jsonl file.")
        parser.add_argument("--mode", choices=[*MODES, "all"], default="hybrid", help="Retrieval mode (default hybrid).")
        parser.add_argument("--k", type=int, default=10, help="Cut-off of recall@k, MRR@k and nDCG@k (default 10).")
        parser.add_argument(
            "--collection",
            help="Collection slug: searched for a questions file; for BEIR, where the corpus goes (default eval-<name>).",
        )
        parser.add_argument("--split", help="BEIR qrels split (default: test).")
        parser.add_argument(
            "--id-field", default="pk",
            help="How a questions file names documents: pk (default), a Document field (title...) or metadata.<key>.",
        )
        parser.add_argument("--limit", type=int, help="Evaluate only the first N questions.")
        parser.add_argument("--candidates", type=int, help="Chunks each search leg returns (default CANDIDATES).")
        parser.add_argument("--name", default="", help="A label for the stored runs.")
        answers = parser.add_mutually_exclusive_group()
        answers.add_argument(
            "--answers", dest="answers", action="store_true", default=None,
            help="Also generate answers and score them with the LLM judge (default: when the judge writes text).",
        )
        answers.add_argument("--no-answers", dest="answers", action="store_false", help="Retrieval metrics only.")
        parser.add_argument(
            "--embedder",
            help="Embedder alias whose vectors are searched (default: the active one); compare two before "
            "rag_activate_embedder.",
        )
        parser.add_argument("--llm", default="default", help="LLM alias that answers (default: default).")
        parser.add_argument("--judge-llm", help='LLM alias that judges (default: DJANGO_RAG["EVAL_JUDGE_LLM"] or --llm).')

    def handle(self, *args: Any, **options: Any) -> None:
        # call_command(k="5") skips argparse's type=int: check each number here too.
        try:
            validation.k_value(options["k"], name="--k")
            if options["limit"] is not None:
                validation.integer("--limit", options["limit"], maximum=validation.INT8_MAX)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        search = {"candidates": options["candidates"]} if options["candidates"] is not None else {}
        bars: dict[str, ProgressBar] = {}

        def progress(done: int, total: int, label: str) -> None:
            bar = bars.get(label)
            if bar is None:
                for previous in bars.values():
                    previous.close()
                bar = bars[label] = ProgressBar(total, stream=raw_stream(self.stderr), label=f"{label:<8} ")
            bar.advance()

        try:
            runs = evaluate(
                options["dataset"], mode=options["mode"], k=options["k"], collection=options["collection"],
                split=options["split"], id_field=options["id_field"], limit=options["limit"],
                answers=options["answers"], llm=options["llm"], judge_llm=options["judge_llm"],
                name=options["name"], progress=progress, embedder=options["embedder"], **search,
            )
        except (DatasetError, DjangoRAGError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for bar in bars.values():
                bar.close()
        self.stdout.write(self.report(runs))

    def report(self, runs: list[Any]) -> str:
        first = runs[0]
        columns = [(name, label.format(k=first.k)) for name, label in COLUMNS if any(getattr(r, name) is not None for r in runs)]
        headers = ["mode", *(label for _, label in columns), "p50 ms"]
        rows = [
            [run.mode, *(_cell(getattr(run, name)) for name, _ in columns), _cell(run.metrics.get("p50_ms"), 1)]
            for run in runs
        ]
        settings = first.settings_snapshot
        lines = [
            f"\n{first.dataset_format} dataset {settings['dataset']['name']}: {first.question_count} questions, "
            f"embedder {settings['embedder']['identity']}, {settings['search']['candidates']} candidates per leg"
            + (f", collection {first.collection.slug}" if first.collection else ""),
            "",
            markdown_table(headers, rows),
            "",
            f"Stored as evaluation run(s) {', '.join(str(run.pk) for run in runs)}.",
        ]
        errors = sum(1 for run in runs for _ in run.results.exclude(error=""))
        if errors:
            lines.append(self.style.WARNING(f"{errors} result(s) have errors; see the runs in the admin."))
        return "\n".join(lines)


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: readable in a terminal, pasteable into a document."""
    cells = [headers, *rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)
