"""Resource quantities with explicit units: vCPU, MB, GB, Mbit/s and whole GPUs."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
NonNegInt = Annotated[int, Field(ge=0)]


class Resources(BaseModel):
    """An amount of each resource. cpu is in vCPU (fractions allowed), memory in MB, storage in
    GB, bandwidth in Mbit/s, gpus as whole devices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu: NonNegFloat = 0.0
    memory_mb: NonNegInt = 0
    storage_gb: NonNegFloat = 0.0
    bandwidth_mbps: NonNegFloat = 0.0
    gpus: NonNegInt = 0

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(
            cpu=self.cpu + other.cpu,
            memory_mb=self.memory_mb + other.memory_mb,
            storage_gb=self.storage_gb + other.storage_gb,
            bandwidth_mbps=self.bandwidth_mbps + other.bandwidth_mbps,
            gpus=self.gpus + other.gpus,
        )

    def scaled(self, factor: int) -> "Resources":
        """These resources times a whole number of replicas."""
        return Resources(
            cpu=self.cpu * factor,
            memory_mb=self.memory_mb * factor,
            storage_gb=self.storage_gb * factor,
            bandwidth_mbps=self.bandwidth_mbps * factor,
            gpus=self.gpus * factor,
        )
