from django.contrib import admin
from django.urls import include, path

from tests.ninja_api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    # The example site's pages (example_project/site_pages), for the browser tests.
    path("example/", include("site_pages.urls")),
    path("api/", api.urls),
    # Uploaded files, served through django-rag's access-checked view.
    path("rag/", include("django_rag.urls")),
]
