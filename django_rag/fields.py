from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.fields.files import FieldFile


if TYPE_CHECKING:
    from django.db.models.expressions import Combinable

    _CharField = models.CharField[str | Combinable, str]
else:
    _CharField = models.CharField  # not subscriptable at run time


class RegConfigField(_CharField):
    """A PostgreSQL ``regconfig`` column (a text search configuration such as ``english``).

    Stored as ``regconfig`` rather than text so that ``to_tsvector(language, content)``
    stays immutable and can back a generated column; PostgreSQL also rejects unknown
    configuration names on write, which keeps bad languages out of the table.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 63)
        super().__init__(*args, **kwargs)

    def db_type(self, connection: BaseDatabaseWrapper) -> str:
        return "regconfig"

    def cast_db_type(self, connection: BaseDatabaseWrapper) -> str:
        return "regconfig"

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        # regconfig prints schema-qualified names when they are not on the search_path.
        if isinstance(value, str) and value.startswith("pg_catalog."):
            return value[len("pg_catalog.") :]
        return value


class DocumentFieldFile(FieldFile):
    """``document.file``: its ``url`` is django-rag's serving view, never the storage's own URL.

    Every link Django builds from the field (the admin's "Currently:" link, templates,
    ``get_absolute_url()``) then goes through the access check and the safe headers of
    :func:`django_rag.views.document_file`. The storage URL stays available to site code
    as ``document.file.storage.url(document.file.name)``.
    """

    @property
    def url(self) -> str:
        self._require_file()  # type: ignore[attr-defined]  # FieldFile's own check, absent from django-stubs
        from .files import absolute_url, file_path

        return absolute_url(file_path(getattr(self.instance, "pk", None)))


class DocumentFileField(models.FileField):
    attr_class = DocumentFieldFile
