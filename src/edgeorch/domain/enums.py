"""The closed vocabularies of the system.

Each enum's values are the exact words used in the API, in manifests and on the CLI, so the
string value is the contract; never rename a value without a migration and a deprecation.
"""

from enum import StrEnum


class EdgeType(StrEnum):
    """Kind of site a node sits in; drives the access-latency model and fleet defaults."""

    MEC = "mec"
    CDN = "cdn"
    IOT = "iot"
    ONPREM = "onprem"
    TELCO = "telco"
    CLOUD = "cloud"


class Arch(StrEnum):
    """CPU architecture a node runs and a workload's artifact is built for."""

    X86_64 = "x86_64"
    ARM64 = "arm64"


class NetworkSlice(StrEnum):
    """5G network slices (3GPP TS 23.501 slice/service types)."""

    URLLC = "urllc"
    EMBB = "embb"
    MMTC = "mmtc"


class Runtime(StrEnum):
    """How an agent runs a workload's artifact."""

    PROCESS = "process"
    WASM = "wasm"
    CONTAINER = "container"
    VM = "vm"


class NodeState(StrEnum):
    """Health of a node as the control plane sees it.

    ``pending``: registered by an operator, no agent has joined as it yet.
    ``ready``: heartbeating. ``suspect``: missed heartbeats, inside the grace period.
    ``down``: missed heartbeats past the grace period; its instances are handled by their
    workload's disconnect policy.
    """

    PENDING = "pending"
    READY = "ready"
    SUSPECT = "suspect"
    DOWN = "down"


class NodeScheduling(StrEnum):
    """Operator intent for new placements on a node, independent of its health."""

    ENABLED = "enabled"
    CORDONED = "cordoned"
    DRAINING = "draining"


class InstanceState(StrEnum):
    """Actual state of one replica, as reported by its agent or decided by a controller."""

    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"
    LOST = "lost"
    UNKNOWN = "unknown"


class DisconnectReconcile(StrEnum):
    """Which copy survives when a disconnected node comes back and a replacement exists."""

    KEEP_ORIGINAL = "keep_original"
    KEEP_REPLACEMENT = "keep_replacement"
    BEST_SCORE = "best_score"


class SpreadLevel(StrEnum):
    """Topology level across which a workload's replicas are spread."""

    NODE = "node"
    ZONE = "zone"
    REGION = "region"


class TokenRole(StrEnum):
    """What a bearer token may do.

    ``admin``: everything, including tokens. ``operator``: read and write objects, no tokens.
    ``reader``: read only. ``join``: only ``POST /agent/join``. ``node``: only the agent API, and
    only as its own node.
    """

    ADMIN = "admin"
    OPERATOR = "operator"
    READER = "reader"
    JOIN = "join"
    NODE = "node"
