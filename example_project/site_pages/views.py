"""The example site's pages: ask, upload, and watch documents being ingested.

Uploads are saved like any model form; django-rag's post_save receiver queues their
ingestion, and a worker (django-q2's `qcluster`, started by `make run`) does it.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from django_rag.models import Document

from .forms import UploadForm


def home(request):
    # The answer and the passages come from {% rag_answer %} and {% rag_search %} in
    # the template, for request.user.
    query = request.GET.get("q", "").strip()[:500]
    return render(request, "site_pages/home.html", {"query": query})


@login_required
def upload(request):
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if form.is_valid():
        form.save()
        return redirect("site_pages:documents")
    return render(request, "site_pages/upload.html", {"form": form})


def documents(request):
    visible = Document.objects.visible_to(request.user).select_related("collection")[:100]
    working = any(d.status in {Document.Status.PENDING, Document.Status.PROCESSING} for d in visible)
    return render(request, "site_pages/documents.html", {"documents": visible, "refresh": working})
