"""LangChain's standard test suites, run against ``DjangoRAGVectorStore`` and its retriever.

``langchain-tests`` (the ``dev`` extra) provides them. Their ``async def`` tests run under
the anyio plugin (``pytestmark``) with committed data (see ``conftest.py``), so no global
asyncio mode is needed.
"""

from __future__ import annotations

import pytest

from django_rag.integrations.langchain import DjangoRAGVectorStore
from django_rag.models import Collection

integration_tests = pytest.importorskip("langchain_tests.integration_tests")

pytestmark = pytest.mark.anyio


@pytest.mark.django_db
class TestVectorStoreStandard(integration_tests.VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self):
        collection = Collection.objects.create(name="Standard suite", slug="standard-suite")
        return DjangoRAGVectorStore(collection, embedding=self.get_embeddings())


@pytest.mark.django_db
class TestRetrieverStandard(integration_tests.RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def corpus(self):
        DjangoRAGVectorStore("handbook").add_texts(
            [
                "Parental leave is twenty days, paid in full.",
                "Expense reports are due within thirty days.",
                "Remote work needs a manager's approval.",
                "Sick leave needs a doctor's note after three days.",
                "The office is closed on public holidays.",
            ]
        )

    @property
    def retriever_constructor(self):
        # The suite calls this with k=...: the store's own as_retriever() is what we test.
        def as_retriever(*, k: int = 4, **search_kwargs):
            return DjangoRAGVectorStore("handbook").as_retriever(search_kwargs={"k": k, **search_kwargs})

        return as_retriever

    @property
    def retriever_query_example(self) -> str:
        return "how many days of leave"
