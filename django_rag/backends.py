"""Build backends from alias dicts, the way Django builds ``CACHES`` and ``STORAGES``.

``DJANGO_RAG["EMBEDDERS"]`` and ``DJANGO_RAG["LLMS"]`` map an alias to
``{"BACKEND": "dotted.path.Class", "OPTIONS": {...}}``. A :class:`BackendHandler`
builds each alias on first use and forgets every instance when ``DJANGO_RAG`` changes,
so ``override_settings`` gives tests fresh backends.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .conf import get_setting
from .exceptions import RAGImproperlyConfigured

T = TypeVar("T")


class BackendHandler(Generic[T]):
    #: The DJANGO_RAG key holding the alias dict ("EMBEDDERS" or "LLMS").
    setting_name: str

    def __init__(self, setting_name: str) -> None:
        self.setting_name = setting_name
        self._instances: dict[str, T] = {}
        setting_changed.connect(self._reset, dispatch_uid=f"django_rag.backends.{setting_name}")

    def _reset(self, *, setting: str, **kwargs: Any) -> None:
        if setting == "DJANGO_RAG":
            self._instances.clear()

    @property
    def configs(self) -> dict[str, dict[str, Any]]:
        value = get_setting(self.setting_name)
        if not isinstance(value, dict):
            raise RAGImproperlyConfigured(
                f'DJANGO_RAG["{self.setting_name}"] must be a dict of aliases, not {type(value).__name__}.'
            )
        return value

    def aliases(self) -> list[str]:
        return list(self.configs)

    def __getitem__(self, alias: str) -> T:
        try:
            return self._instances[alias]
        except KeyError:
            pass
        instance = self.create(alias)
        self._instances[alias] = instance
        return instance

    def __iter__(self):
        return iter(self.configs)

    def all(self) -> list[T]:
        return [self[alias] for alias in self.configs]

    def create(self, alias: str) -> T:
        where = f'DJANGO_RAG["{self.setting_name}"]["{alias}"]'
        try:
            config = self.configs[alias]
        except KeyError:
            raise RAGImproperlyConfigured(
                f"No {self.setting_name.lower()[:-1]} alias {alias!r}: add {where} to your settings "
                f"(configured aliases: {', '.join(self.configs) or 'none'})."
            ) from None
        if not isinstance(config, dict) or "BACKEND" not in config:
            raise RAGImproperlyConfigured(f'{where} must be a dict with a "BACKEND" dotted path.')
        options = config.get("OPTIONS", {})
        if not isinstance(options, dict):
            raise RAGImproperlyConfigured(f'{where}["OPTIONS"] must be a dict.')
        try:
            backend_class = import_string(config["BACKEND"])
        except ImportError as exc:
            # ImproperlyInstalled is an ImportError too: keep its "pip install" hint.
            if isinstance(exc, RAGImproperlyConfigured):
                raise
            raise RAGImproperlyConfigured(
                f'{where}["BACKEND"] = {config["BACKEND"]!r} could not be imported: {exc}'
            ) from exc
        try:
            return backend_class(alias=alias, **options)
        except TypeError as exc:
            raise RAGImproperlyConfigured(f'{where}["OPTIONS"] are not accepted by {config["BACKEND"]}: {exc}') from exc
