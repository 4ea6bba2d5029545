from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DjangoRAGConfig(AppConfig):
    name = "django_rag"
    label = "django_rag"
    verbose_name = "RAG"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .vector_indexes import create_indexes_after_migrate

        post_migrate.connect(create_indexes_after_migrate, sender=self, dispatch_uid="django_rag.vector_indexes")

        from django.db.backends.postgresql.base import DatabaseWrapper
        from django.db.backends.signals import connection_created

        from .retrieval import configure_connection

        connection_created.connect(configure_connection, sender=DatabaseWrapper, dispatch_uid="django_rag.connection")

        from django.db.models.signals import post_delete, post_init, post_save

        from . import receivers
        from .models import Document

        post_init.connect(receivers.remember_source, sender=Document, dispatch_uid="django_rag.remember_source")
        post_save.connect(receivers.ingest_on_save, sender=Document, dispatch_uid="django_rag.ingest_on_save")
        post_delete.connect(receivers.delete_file, sender=Document, dispatch_uid="django_rag.delete_file")
