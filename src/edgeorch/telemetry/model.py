"""The wire model of request statistics, as an agent reports them in its heartbeat."""

from typing import Self

from pydantic import Field, field_validator, model_validator

from edgeorch.schemas.common import StrictModel
from edgeorch.telemetry.histogram import BUCKETS


class RequestStats(StrictModel):
    """Requests one instance served through the agent's ingress since the last heartbeat the
    control plane acknowledged: counts, errors (HTTP 5xx or no answer), and response times as
    counts per :data:`~edgeorch.telemetry.histogram.BOUNDS_MS` bucket."""

    instance_id: str = Field(min_length=1, max_length=64)
    workload: str = Field(min_length=1, max_length=253)
    requests: int = Field(ge=0)
    errors: int = Field(ge=0)
    latency_sum_ms: float = Field(ge=0, allow_inf_nan=False)
    buckets: list[int]

    @field_validator("buckets")
    @classmethod
    def _shape(cls, value: list[int]) -> list[int]:
        if len(value) != BUCKETS or any(c < 0 for c in value):
            raise ValueError(f"buckets needs {BUCKETS} non-negative counts, got {value!r}")
        return value

    @model_validator(mode="after")
    def _counted(self) -> Self:
        if sum(self.buckets) != self.requests:
            raise ValueError(
                f"the buckets count {sum(self.buckets)} requests but requests is {self.requests}"
            )
        if self.errors > self.requests:
            raise ValueError(f"errors ({self.errors}) exceed requests ({self.requests})")
        return self
