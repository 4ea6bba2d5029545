from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_rag.exceptions import DjangoRAGError
from django_rag.models import Collection
from django_rag.generation import ask

if TYPE_CHECKING:
    from django_rag.retrieval import Mode


class Command(BaseCommand):
    help = "Ask a question and print the answer with its cited sources."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("question")
        parser.add_argument("--collection", help="Search this collection (slug) only.")
        parser.add_argument(
            "--user", help="Ask as this user (username), seeing what they may see. Default: an anonymous visitor."
        )
        parser.add_argument("--k", type=int, help="Passages given to the LLM (default: DJANGO_RAG['ANSWER_K']).")
        parser.add_argument("--mode", choices=["hybrid", "semantic", "keyword"], default="hybrid")
        parser.add_argument("--llm", default="default", help="DJANGO_RAG['LLMS'] alias.")

    def handle(
        self, *args: Any, question: str, collection: str | None = None, user: str | None = None, k: int | None = None,
        mode: Mode = "hybrid", llm: str = "default", **options: Any,
    ) -> None:
        asker = None
        if user:
            User = get_user_model()
            try:
                asker = User.objects.get(**{User.USERNAME_FIELD: user})
            except User.DoesNotExist:
                raise CommandError(f"No user {user!r}.") from None
        try:
            answer = ask(question, user=asker, collection=collection, k=k, mode=mode, llm=llm)
        except Collection.DoesNotExist:
            # Also for a collection the --user may not see: the same answer as a missing one.
            raise CommandError(f"No collection with the slug {collection!r}.") from None
        except (ValueError, DjangoRAGError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(answer.text)
        if answer.citations:
            self.stdout.write("\nSources:")
            for source in answer.citations:
                where = f", page {source.page}" if source.page else ""
                link = f" <{source.url}>" if source.url else ""
                self.stdout.write(f"  [{source.number}] {source.title}{where}{link}")
