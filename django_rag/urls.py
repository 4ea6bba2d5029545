"""django-rag's pages: include them in your site's URLconf::

    path("rag/", include("django_rag.urls")),

Every link to an uploaded file (citations, sources, the API, the admin) points here,
never at ``MEDIA_URL``; see docs/security.md.
"""

from django.urls import path

from . import views

app_name = "django_rag"

urlpatterns = [
    path("documents/<int:document_id>/file", views.document_file, name="document_file"),
]
