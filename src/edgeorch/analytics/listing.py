"""Reading whole object lists page by page (analytics need every node, workload, instance)."""

from collections.abc import Callable
from typing import Any, TypeVar

from edgeorch.store import Page

T = TypeVar("T")


def read_all(lister: Callable[..., Page[T]], **filters: Any) -> list[T]:
    """Every item ``lister`` returns for ``filters``, following continue tokens."""
    items: list[T] = []
    token: str | None = None
    while True:
        page = lister(limit=1000, continue_token=token, **filters)
        items.extend(page.items)
        token = page.continue_token
        if token is None:
            return items
