"""A URLconf mounting the router with authentication turned off (what W003 warns about)."""

from django.urls import path
from ninja import NinjaAPI

api = NinjaAPI(urls_namespace="open-rag")
api.add_router("/rag/", "django_rag.api.router", auth=None)

urlpatterns = [path("open/", api.urls)]
