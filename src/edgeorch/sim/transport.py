"""Connection pools for thousands of simulated agents in one process.

httpx's pool looks through all its connections on every request, so one pool holding a
heartbeat and a long-poll connection for each of 10,000 agents made the simulator, not the
control plane, the bottleneck. :class:`ShardedTransport` gives every node a small pool of its
own shard (picked by the node id in the request path), so each request scans a few dozen
connections. Requests without a node id (joins, admin calls) share one more pool.
"""

import zlib

import httpx

NODES_PER_SHARD = 16


class ShardedTransport(httpx.AsyncBaseTransport):
    """Requests of one node always use the same small pool (by the node id in the path)."""

    def __init__(self, nodes: int) -> None:
        shards = max(1, nodes // NODES_PER_SHARD)
        size = 2 * NODES_PER_SHARD + 8  # a heartbeat and a watch per node may be in flight
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._shards = [httpx.AsyncHTTPTransport(limits=limits) for _ in range(shards)]
        shared = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self._shared = httpx.AsyncHTTPTransport(limits=shared)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through its node's shard."""
        path = request.url.path
        if "/nodes/" not in path:
            return await self._shared.handle_async_request(request)
        key = path.split("/nodes/", 1)[1].split("/", 1)[0]
        shard = self._shards[zlib.crc32(key.encode()) % len(self._shards)]
        return await shard.handle_async_request(request)

    async def aclose(self) -> None:
        """Close every pool."""
        for shard in (*self._shards, self._shared):
            await shard.aclose()
