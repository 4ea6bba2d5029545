"""Async tests here (marked ``anyio`` in their modules) run with committed data.

The store's ``a*`` methods run the sync ones through asgiref's ``sync_to_async``: in a
test that is asgiref's executor thread, with a database connection of its own, which
sees only committed rows. So every ``async def`` test in this package gets
``django_db(transaction=True)``; the sync ones keep the cheaper rolled-back transaction
(flushing every table after each of them would add seconds to the suite).
"""

from __future__ import annotations

import inspect
from pathlib import Path

import anyio
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        function = getattr(item, "function", None)
        if HERE in item.path.parents and inspect.iscoroutinefunction(function):
            item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.fixture(scope="session")
def anyio_backend():
    # asgiref's sync_to_async needs asyncio; anyio would also try trio were it installed.
    return "asyncio"


@pytest.fixture(autouse=True)
def _close_executor_connection(request):
    """Close the executor thread's connection after an async test.

    asgiref's executor thread lives as long as the process, and so would its connection:
    PostgreSQL refuses to drop the test database while a session is connected to it,
    and pytest-django then only warns ("Error when trying to teardown test databases").
    """
    yield
    if inspect.iscoroutinefunction(getattr(request.node, "function", None)):
        anyio.run(sync_to_async(connections.close_all))
