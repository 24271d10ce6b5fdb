"""Tenant: an isolation boundary; every object belongs to exactly one (``default`` exists)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edgeorch.domain.resources import Resources
from edgeorch.schemas.common import StrictModel
from edgeorch.schemas.envelope import API_VERSION, Metadata, MetadataIn

DEFAULT_TENANT = "default"


class TenantSpec(StrictModel):
    """A tenant's description and optional quota on the sum of its workloads' resources."""

    description: str = ""
    quota: Resources | None = None


class TenantCreate(StrictModel):
    """Body of ``POST /tenants``."""

    api_version: Literal["edgeorch.io/v1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Tenant"] = "Tenant"
    metadata: MetadataIn
    spec: TenantSpec = Field(default_factory=TenantSpec)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Tenant(BaseModel):
    """A tenant as the API returns it."""

    api_version: str = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Tenant"] = "Tenant"
    metadata: Metadata
    spec: TenantSpec
    status: dict[str, str] = Field(default_factory=dict)

    model_config = ConfigDict(populate_by_name=True)
