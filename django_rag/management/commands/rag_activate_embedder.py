from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_rag import reembed
from django_rag.exceptions import DjangoRAGError


class Command(BaseCommand):
    help = (
        "Make every search and ask() use this entry of DJANGO_RAG['EMBEDDERS'], in every process at once "
        "(within EMBEDDER_STATE_TTL seconds). Refused when it has no vector for some chunks, unless --force. "
        "Activating the previous one again is an instant rollback."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("alias", help="The embedder to activate.")
        parser.add_argument(
            "--force", action="store_true",
            help="Activate even with chunks missing (semantic search will not find them until re-embedded).",
        )

    def handle(self, *args: Any, alias: str, force: bool = False, **options: Any) -> None:
        try:
            activation = reembed.activate(alias, force=force)
        except DjangoRAGError as exc:
            raise CommandError(str(exc)) from exc
        counts = activation.coverage
        if activation.previous == alias:
            message = f"{alias!r} was already active."
        else:
            message = f"Searches now use {alias!r} (was {activation.previous!r}); roll back with " \
                      f"`rag_activate_embedder {activation.previous}`."
        if activation.forced:
            self.stdout.write(self.style.WARNING(
                f"{message} Forced: {counts['missing']} of {counts['total']} chunks have no vector of {alias!r}."
            ))
        else:
            self.stdout.write(self.style.SUCCESS(message))
