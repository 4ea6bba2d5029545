from django.contrib import admin
from django.urls import include, path

from .api import api

urlpatterns = [
    path("", include("site_pages.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    # Uploaded files: served by django-rag's view, which checks who may see them and
    # never lets an uploaded HTML or SVG file run on this site. MEDIA is not served.
    path("rag/", include("django_rag.urls")),
]
