"""The envelope every object travels in, and the metadata rules shared by all kinds.

Names follow Kubernetes' DNS-subdomain rule (lower-case alphanumerics, ``-`` and ``.``, at most
253 characters, starting and ending alphanumeric) so they are safe in URLs, file names and labels.
Label keys and values follow Kubernetes' label syntax.
"""

import re
from datetime import datetime
from typing import Annotated, Final, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

API_VERSION: Final = "edgeorch.io/v1"

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_LABEL_KEY_RE = re.compile(r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _check_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use 1-253 lower-case letters, digits, '-' or '.', "
            "starting and ending with a letter or digit (for example 'edge-syd-01')"
        )
    return value


def _check_labels(value: dict[str, str]) -> dict[str, str]:
    for key, val in value.items():
        if not _LABEL_KEY_RE.match(key):
            raise ValueError(
                f"label key {key!r} is invalid: use an optional 'prefix/' and a name of 1-63 "
                "letters, digits, '-', '_' or '.', starting and ending alphanumeric"
            )
        if not _LABEL_VALUE_RE.match(val):
            raise ValueError(
                f"label value {val!r} for {key!r} is invalid: use at most 63 letters, digits, "
                "'-', '_' or '.', starting and ending alphanumeric"
            )
    return value


Name = Annotated[str, AfterValidator(_check_name)]
Labels = Annotated[dict[str, str], AfterValidator(_check_labels)]


class MetadataIn(BaseModel):
    """Metadata a client may set. ``resource_version``, when given on an update, must equal the
    stored one or the update is refused with 409."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    labels: Labels = Field(default_factory=dict)
    tenant: Name | None = None
    resource_version: int | None = Field(default=None, ge=0)


class Metadata(BaseModel):
    """Metadata as the server returns it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    tenant: str
    labels: dict[str, str] = Field(default_factory=dict)
    resource_version: int
    created_at: datetime
    updated_at: datetime


class ListMeta(BaseModel):
    """Metadata of a list: the store revision it was read at, and the cursor for the next page."""

    revision: int
    continue_: str | None = Field(default=None, alias="continue", serialization_alias="continue")
    remaining: int | None = None

    model_config = ConfigDict(populate_by_name=True)


ItemT = TypeVar("ItemT")


class ObjectList(BaseModel, Generic[ItemT]):
    """A page of objects of one kind."""

    api_version: Literal["edgeorch.io/v1"] = Field(
        default=API_VERSION, alias="apiVersion", serialization_alias="apiVersion"
    )
    kind: str
    metadata: ListMeta
    items: list[ItemT]

    model_config = ConfigDict(populate_by_name=True)
