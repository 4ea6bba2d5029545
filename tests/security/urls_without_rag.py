"""A URLconf without django_rag.urls: files must then get no link at all (never MEDIA)."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
