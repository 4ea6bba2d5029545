"""The site's REST API: django-rag's router under /api/rag/ (docs at /api/docs)."""

from ninja import NinjaAPI

api = NinjaAPI(title="Example site API")
api.add_router("/rag/", "django_rag.api.router")
