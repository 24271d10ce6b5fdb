"""Errors the store raises, each carrying a message a user can act on.

::

    StoreError
    ├── NotFound                 no object matches the reference
    ├── AlreadyExists            the name is taken in that tenant (or the secret is in use)
    ├── Conflict                 stale resource_version, or a change the object refuses
    ├── AmbiguousReference       an id prefix matches several objects
    └── InvalidRequest           also a ValueError: the arguments themselves are wrong
        ├── InvalidContinueToken a continue token that this list did not hand out
        └── InvalidSelector      a label selector that does not parse

The API maps them to HTTP: 404, 409, 409, 409, 400 (422 for ``InvalidRequest`` in bodies).
"""

from collections.abc import Sequence


class StoreError(Exception):
    """Base of every error raised on purpose by the store."""


class NotFound(StoreError):
    """No object of that kind matches the reference in that tenant."""

    def __init__(self, kind: str, ref: str, tenant: str | None = None) -> None:
        where = f" in tenant {tenant!r}" if tenant is not None else ""
        super().__init__(
            f"{kind.lower()} {ref!r} not found{where}; list the {kind.lower()}s to see which exist"
        )
        self.kind = kind
        self.ref = ref
        self.tenant = tenant


class AlreadyExists(StoreError):
    """An object of that kind already has that name in that tenant."""

    def __init__(self, kind: str, name: str, tenant: str) -> None:
        super().__init__(
            f"{kind.lower()} {name!r} already exists in tenant {tenant!r}; "
            "choose another name or update the existing one"
        )
        self.kind = kind
        self.name = name
        self.tenant = tenant


class Conflict(StoreError):
    """The write was refused because of the object's current state (usually its version)."""

    @classmethod
    def stale(cls, kind: str, name: str, current: int, sent: int) -> "Conflict":
        """The conflict of an update sent with an out-of-date ``resource_version``."""
        return cls(
            f"{kind.lower()} {name!r} was modified (resource_version {current}, you sent "
            f"{sent}); read it again and retry"
        )


class AmbiguousReference(StoreError):
    """An id prefix matches more than one object."""

    def __init__(self, kind: str, ref: str, candidates: Sequence[str]) -> None:
        shown = ", ".join(candidates)
        super().__init__(
            f"{kind.lower()} reference {ref!r} is ambiguous, it matches: {shown}; "
            "use a longer id prefix or the name"
        )
        self.kind = kind
        self.ref = ref
        self.candidates = tuple(candidates)


class InvalidRequest(StoreError, ValueError):
    """The arguments are wrong whatever the stored state is (bad cursor, bad selector, ...)."""


class InvalidContinueToken(InvalidRequest):
    """A continue token that was not handed out by this kind of list, or was altered."""

    def __init__(self, token: str, kind: str) -> None:
        super().__init__(
            f"continue token {token!r} is not valid for a {kind.lower()} list; pass the "
            "'continue' value of the previous page unchanged, or omit it to start over"
        )


class InvalidSelector(InvalidRequest):
    """A label selector term that does not parse."""
