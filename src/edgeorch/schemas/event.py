"""Event: a record of something the system did or saw, and why."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edgeorch.schemas.envelope import API_VERSION


class InvolvedObject(BaseModel):
    """The object an event is about."""

    kind: str
    id: str
    name: str


class Event(BaseModel):
    """An event as the API returns it; ``reason`` is a constant CamelCase word, ``message`` the
    human sentence."""

    api_version: str = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Event"] = "Event"
    id: str
    tenant: str
    revision: int
    time: datetime
    type: Literal["Normal", "Warning"] = "Normal"
    reason: str
    message: str
    involved_object: InvolvedObject

    model_config = ConfigDict(populate_by_name=True)
