"""The simulator's sharded connection pools."""

import asyncio
from collections import Counter

from edgeorch.sim.transport import NODES_PER_SHARD, ShardedTransport


def test_every_shard_holds_its_share_of_nodes_and_a_node_keeps_its_shard() -> None:
    transport = ShardedTransport(NODES_PER_SHARD * 8)
    ids = [f"{i:032x}" for i in range(NODES_PER_SHARD * 8)]
    first = {node_id: transport.shard(node_id) for node_id in ids}
    counts = Counter(id(pool) for pool in first.values())
    assert len(counts) == 8 and set(counts.values()) == {NODES_PER_SHARD}
    assert all(transport.shard(node_id) is first[node_id] for node_id in ids)
    asyncio.run(transport.aclose())
