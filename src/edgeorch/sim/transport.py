"""Connection pools for thousands of simulated agents in one process.

httpx's pool looks through all its connections on every request, so one pool holding a
heartbeat and a long-poll connection for each of 10,000 agents made the simulator, not the
control plane, the bottleneck. :class:`ShardedTransport` gives every node a small pool of its
own shard (picked by the node id in the request path), so each request scans about a dozen
connections. Requests without a node id (joins, admin calls) share one more pool.

Nodes are dealt to shards in the order they are first seen, round-robin, so no shard holds
more than its share. (Shards picked by a hash of the node id held up to twice their share:
their pools ran out of connections while long-polls held them for a minute, and heartbeats
queued behind those long-polls until the nodes were declared down.)
"""

import httpx

# httpcore checks every idle connection of a pool (a poll() each) before it sends a request:
# small pools keep that short. 4 nodes a shard: ~12 connections a pool.
NODES_PER_SHARD = 4


class ShardedTransport(httpx.AsyncBaseTransport):
    """Requests of one node always use the same small pool (by the node id in the path)."""

    def __init__(self, nodes: int) -> None:
        shards = max(1, nodes // NODES_PER_SHARD)
        # A watch, a heartbeat and a status report per node may be in flight at once.
        size = 3 * NODES_PER_SHARD + 4
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._shards = [httpx.AsyncHTTPTransport(limits=limits) for _ in range(shards)]
        shared = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self._shared = httpx.AsyncHTTPTransport(limits=shared)
        self._shard_of: dict[str, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through its node's shard."""
        path = request.url.path
        if "/nodes/" not in path:
            return await self._shared.handle_async_request(request)
        key = path.split("/nodes/", 1)[1].split("/", 1)[0]
        return await self.shard(key).handle_async_request(request)

    def shard(self, node_id: str) -> httpx.AsyncHTTPTransport:
        """The pool of ``node_id``: the next shard in turn the first time it is seen."""
        shard = self._shard_of.get(node_id)
        if shard is None:
            shard = self._shards[len(self._shard_of) % len(self._shards)]
            self._shard_of[node_id] = shard
        return shard

    async def aclose(self) -> None:
        """Close every pool."""
        for shard in (*self._shards, self._shared):
            await shard.aclose()
