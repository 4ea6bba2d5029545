"""Adapters that let other libraries use django-rag (``langchain``: a LangChain VectorStore)."""
