"""Backends configured by alias, the way Django configures ``CACHES`` and ``STORAGES``.

``DJANGO_RAG["EMBEDDERS"]`` and ``DJANGO_RAG["LLMS"]`` map an alias to
``{"BACKEND": "dotted.path.Class", "OPTIONS": {...}}``. A :class:`BackendHandler`
builds each alias on first use and forgets every instance when ``DJANGO_RAG`` changes,
so ``override_settings`` gives tests fresh backends.

:class:`BaseBackend` is what an embedder and an LLM have in common: the alias, where
its settings live (to name them in messages), the secrets messages must not show,
number options, unknown options either passed on to a client library or refused, and
``repr()``. :class:`ClassOrInstance` is the LangChain adapters' "class" option (a dotted
path and its ``kwargs``) or, in code, an instance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from django.core.checks import CheckMessage
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .conf import get_setting
from .exceptions import RAGImproperlyConfigured
from .redaction import quote_error

T = TypeVar("T")


def option_number(
    value: Any, where: str, *, integer: bool = False, allow_none: bool = False, allow_zero: bool = False
) -> Any:
    """``value`` if it is a number the option at ``where`` accepts, else an error naming it."""
    if value is None and allow_none:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < 0 or (value == 0 and not allow_zero):
        kind = "an integer" if integer else "a number"
        bound = ">= 0" if allow_zero else "> 0"
        raise RAGImproperlyConfigured(f"{where} must be {kind} {bound}, not {value!r}.")
    return value


class BaseBackend:
    """What every embedder and LLM backend has: see the module docstring."""

    #: The DJANGO_RAG key holding this kind of backend's aliases ("EMBEDDERS", "LLMS").
    setting_name: ClassVar[str] = ""
    #: What messages call this kind of backend ("Embedder", "LLM").
    kind: ClassVar[str] = ""
    #: Short provider name used in the identity, e.g. "openai".
    provider: str = ""
    model_name: str = ""
    #: Backends that hand unknown OPTIONS on to a client library set this; the others
    #: reject them, so a misspelt option is an error rather than silently ignored.
    passthrough_options: bool = False

    def __init__(self, *, alias: str, **options: Any) -> None:
        self.alias = alias
        if options and not self.passthrough_options:
            raise TypeError(f"unexpected option(s) {', '.join(sorted(options))}")
        self.options = options
        # Guards what the backend builds on first use (a client, a model): one per backend.
        self._build_lock = threading.Lock()

    def built_once(self, attribute: str, build: Callable[[], T]) -> T:
        """``self.<attribute>``, made by ``build`` on first use; threads share the one built.

        Never at import or in the constructor: building may load a model or read keys
        that a check should report rather than a crash at startup.
        """
        value: T | None = getattr(self, attribute)
        if value is None:
            with self._build_lock:
                value = getattr(self, attribute)
                if value is None:
                    value = build()
                    setattr(self, attribute, value)
        return value

    @property
    def setting_path(self) -> str:
        return f'DJANGO_RAG["{self.setting_name}"]["{self.alias}"]'

    def option_path(self, name: str) -> str:
        return f'{self.setting_path}["OPTIONS"]["{name}"]'

    def option_number(
        self, value: Any, name: str, *, integer: bool = False, allow_none: bool = False, allow_zero: bool = False
    ) -> Any:
        """Validate the number option ``name`` (see :func:`option_number`)."""
        return option_number(
            value, self.option_path(name), integer=integer, allow_none=allow_none, allow_zero=allow_zero
        )

    @property
    def secrets(self) -> list[str]:
        """Values that must never appear in a message (read by ``redact``)."""
        return []

    @property
    def identity(self) -> str:
        """Names what the backend is, e.g. ``openai:gpt-4o-mini``."""
        return f"{self.provider}:{self.model_name}"

    def check(self) -> list[CheckMessage]:
        """System-check messages about this backend's configuration (none by default)."""
        return []

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__name__} alias={self.alias!r} {self.identity}>"


@dataclass(frozen=True)
class ClassOrInstance:
    """A LangChain object a backend wraps: an instance given in code, or a class to build.

    Made by :meth:`from_options`, which reads the backend's "class", "kwargs" and
    instance options; :meth:`build` makes the object from the class.
    """

    instance: Any
    cls: type | None
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: The default model name: the instance's class or the dotted path.
    name: str = ""

    @classmethod
    def from_options(
        cls,
        backend: BaseBackend,
        options: dict[str, Any],
        *,
        instance: Any,
        instance_option: str,
        kwargs: Any,
        base: type,
        described: str,
        expected: str,
    ) -> ClassOrInstance:
        """``options`` are the backend's OPTIONS left after its named ones: "class" only.

        ``base`` is the LangChain class the object must be (``described`` in messages);
        ``expected`` lists the keys the backend accepts, for the unknown-key message.
        """
        # "class" is a Python keyword, so it arrives in **options.
        class_path = options.pop("class", None)
        if options:
            # A misspelt "kwargs" would otherwise be ignored without a word.
            raise RAGImproperlyConfigured(
                f'{backend.setting_path}["OPTIONS"] has unknown keys {sorted(options)}; expected {expected}.'
            )
        if (instance is None) == (class_path is None):
            raise RAGImproperlyConfigured(
                f'{backend.setting_path}["OPTIONS"] needs exactly one of "class" (a dotted path to a {described} '
                f'class) or, in code, "{instance_option}" (an instance).'
            )
        if kwargs is not None and not isinstance(kwargs, dict):
            raise RAGImproperlyConfigured(f"{backend.option_path('kwargs')} must be a dict of keyword arguments.")
        if instance is not None:
            if not isinstance(instance, base):
                raise RAGImproperlyConfigured(
                    f"{backend.option_path(instance_option)} must be a {described} instance, "
                    f"not {type(instance).__name__}."
                )
            name = f"{type(instance).__module__}.{type(instance).__qualname__}"
            return cls(instance=instance, cls=None, kwargs=dict(kwargs or {}), name=name)
        imported = import_class(class_path, backend.option_path("class"), base, described)
        return cls(instance=None, cls=imported, kwargs=dict(kwargs or {}), name=class_path)

    def build(self, backend: BaseBackend) -> Any:
        """A new object of :attr:`cls`, built with :attr:`kwargs`."""
        assert self.cls is not None
        try:
            return self.cls(**self.kwargs)
        except Exception as exc:
            # Not chained: the client's exception may quote the key it was given.
            raise RAGImproperlyConfigured(
                f"{backend.option_path('kwargs')} were not accepted by {self.cls.__name__}: "
                f"{type(exc).__name__}: {quote_error(exc, backend.secrets)}"
            ) from None


def import_class(class_path: Any, where: str, base: type, described: str) -> type:
    """The class named by the dotted path ``class_path`` (the option at ``where``), which
    must subclass ``base`` (``described`` in messages)."""
    if not isinstance(class_path, str):
        raise RAGImproperlyConfigured(f"{where} must be a dotted path string.")
    # Importing is local work (no network): failing here reports the bad path as a system
    # check error at startup rather than on first use.
    try:
        imported = import_string(class_path)
    except ImportError as exc:
        raise RAGImproperlyConfigured(f"{where} = {class_path!r} could not be imported: {exc}") from exc
    if not (isinstance(imported, type) and issubclass(imported, base)):
        raise RAGImproperlyConfigured(f"{where} = {class_path!r} is not a {described} subclass.")
    return imported


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

    def __iter__(self) -> Iterator[str]:
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
            backend: T = backend_class(alias=alias, **options)
        except TypeError as exc:
            raise RAGImproperlyConfigured(f'{where}["OPTIONS"] are not accepted by {config["BACKEND"]}: {exc}') from exc
        return backend
