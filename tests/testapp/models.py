"""Host-site models for the tests: what a site would register with django_rag."""

from __future__ import annotations

import uuid

from django.db import models


class Article(models.Model):
    """A news article: indexed by django_rag.register() in tests/test_registry.py."""

    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    slug = models.SlugField(max_length=200)
    published = models.BooleanField(default=False)

    class Meta:
        app_label = "testapp"

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return f"/news/{self.slug}/"


class Note(models.Model):
    """A model keyed by UUID: registered documents store their source's key as text."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    text = models.TextField()

    class Meta:
        app_label = "testapp"
