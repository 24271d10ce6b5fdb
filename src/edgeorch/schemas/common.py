"""Field types shared by several schemas: coordinates, country codes, capability words."""

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from edgeorch.domain.countries import normalize_country

API_VERSION_LITERAL = Literal["edgeorch.io/v1"]

Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, description="degrees")]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, description="degrees")]
CountryCode = Annotated[
    str, AfterValidator(normalize_country), Field(description="ISO 3166-1 alpha-2, e.g. DE")
]

_WORD_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _check_word(value: str) -> str:
    if not _WORD_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid capability: use 1-63 lower-case letters, digits or '_', "
            "starting with a letter (for example 'wasm_runtime')"
        )
    return value


Capability = Annotated[str, AfterValidator(_check_word)]

KNOWN_CAPABILITIES = (
    "wasm_runtime",
    "container_runtime",
    "vm_runtime",
    "process_runtime",
    "gpu_acceleration",
    "object_storage",
    "block_storage",
    "data_replication",
)


class Location(BaseModel):
    """A point on Earth in degrees (WGS 84)."""

    model_config = ConfigDict(extra="forbid")

    latitude: Latitude
    longitude: Longitude


class StrictModel(BaseModel):
    """Base for input models: unknown fields are refused and named."""

    model_config = ConfigDict(extra="forbid")
