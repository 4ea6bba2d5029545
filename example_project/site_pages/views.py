from django.shortcuts import render

import django_rag
from django_rag.models import Document


def home(request):
    query = request.GET.get("q", "").strip()[:500]
    answer, results = None, []
    if query:
        answer = django_rag.ask(query, user=request.user)
        results = django_rag.search(query, k=5)
    return render(
        request,
        "site_pages/home.html",
        {
            "query": query,
            "answer": answer,
            "results": results,
            "documents": Document.objects.select_related("collection")[:50],
        },
    )
