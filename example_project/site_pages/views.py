from django.shortcuts import render

from django_rag.models import Chunk, Document


def home(request):
    query = request.GET.get("q", "").strip()[:500]
    results = []
    if query:
        results = list(Chunk.objects.select_related("document").semantic(query)[:5])
    return render(
        request,
        "site_pages/home.html",
        {"query": query, "results": results, "documents": Document.objects.select_related("collection")[:50]},
    )
