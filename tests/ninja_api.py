"""The test project's NinjaAPI, mounting django-rag's router as the docs tell a site to."""

from ninja import NinjaAPI

api = NinjaAPI(title="django-rag test site", urls_namespace="rag-api")
api.add_router("/rag/", "django_rag.api.router")
