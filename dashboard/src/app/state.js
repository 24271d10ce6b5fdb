// The fleet as the dashboard knows it: built from GET /api/v1/dashboard/fleet, then kept in
// step with the change stream. Nodes, instances and workloads are plain objects in Maps keyed
// by id; `order` is the node draw order (rebuilt only when nodes come or go).

export const UTIL_FIELDS = ["cpu", "memory", "storage", "bandwidth"];
export const STATES = ["ready", "suspect", "down", "pending"];

export class Fleet {
  constructor() {
    this.revision = 0;
    this.nodes = new Map();
    this.instances = new Map();
    this.workloads = new Map();
    this.events = [];
    this.order = [];
    this.nodesChanged = true; // node set changed: positions and order need rebuilding
    this.listeners = [];
  }

  load(snapshot) {
    const n = snapshot.nodes;
    const v = n.vocab;
    this.nodes.clear();
    for (let i = 0; i < n.id.length; i++) {
      this.nodes.set(n.id[i], {
        id: n.id[i],
        name: n.name[i],
        region: v.region[n.region[i]],
        edge_type: v.edge_type[n.edge_type[i]],
        country: v.country[n.country[i]],
        lat: n.lat[i],
        lon: n.lon[i],
        state: v.state[n.state[i]],
        scheduling: v.scheduling[n.scheduling[i]],
        util: UTIL_FIELDS.map((_, f) => n.util[f][i]),
        instances: n.instances[i],
        cpu: n.cpu[i],
        memory_mb: n.memory_mb[i],
        last_heartbeat: null,
      });
    }
    this.workloads.clear();
    for (const w of snapshot.workloads) this.workloads.set(w.id, w);
    const s = snapshot.instances;
    const workloadIds = snapshot.workloads.map((w) => w.id);
    this.instances.clear();
    for (let i = 0; i < s.id.length; i++) {
      this.instances.set(s.id[i], {
        id: s.id[i],
        name: s.name[i],
        workload_id: s.workload[i] >= 0 ? workloadIds[s.workload[i]] : null,
        node_id: s.node[i] >= 0 ? n.id[s.node[i]] : null,
        replica: s.replica[i],
        state: s.vocab.state[s.state[i]],
        desired_state: s.desired[i] ? "running" : "stopped",
        score: s.score[i],
      });
    }
    this.revision = snapshot.revision;
    this.nodesChanged = true;
  }

  // Apply one stream message; answers which kinds it touched.
  apply(message) {
    const touched = new Set();
    for (const change of message.changes) {
      touched.add(change.kind);
      const obj = change.object;
      if (change.kind === "Node") this.applyNode(change.op, change.id, obj);
      else if (change.kind === "Instance") upsert(this.instances, change.op, change.id, obj);
      else if (change.kind === "Workload") upsert(this.workloads, change.op, change.id, obj);
      else if (change.kind === "Event" && obj) {
        // Alerts are not objects of the change feed; their controller's events say when one
        // fires or resolves.
        if (obj.reason.startsWith("Alert")) touched.add("Alert");
        this.events.push(obj);
        if (this.events.length > 200) this.events.splice(0, this.events.length - 200);
      }
    }
    this.revision = Math.max(this.revision, message.revision);
    return touched;
  }

  applyNode(op, id, obj) {
    const known = this.nodes.get(id);
    if (op === "deleted" || !obj) {
      if (known) {
        this.nodes.delete(id);
        this.nodesChanged = true;
      }
      return;
    }
    if (!known) {
      this.nodes.set(id, { ...obj });
      this.nodesChanged = true;
      return;
    }
    if (known.lat !== obj.lat || known.lon !== obj.lon) this.nodesChanged = true;
    Object.assign(known, obj);
  }

  counts() {
    const out = { ready: 0, suspect: 0, down: 0, pending: 0 };
    for (const node of this.nodes.values()) out[node.state] = (out[node.state] || 0) + 1;
    return out;
  }

  // Regions x resources: mean utilization over the region's ready nodes, plus node counts.
  regions() {
    const rows = new Map();
    for (const node of this.nodes.values()) {
      let row = rows.get(node.region);
      if (!row) {
        row = { region: node.region, nodes: 0, ready: 0, notReady: 0, sums: [0, 0, 0, 0] };
        rows.set(node.region, row);
      }
      row.nodes++;
      if (node.state === "ready") {
        row.ready++;
        for (let f = 0; f < 4; f++) row.sums[f] += node.util[f];
      } else if (node.state !== "pending") row.notReady++;
    }
    return [...rows.values()]
      .map((row) => ({ ...row, util: row.sums.map((s) => (row.ready ? s / row.ready : null)) }))
      .sort((a, b) => a.region.localeCompare(b.region));
  }

  instancesOf(workloadId) {
    const out = [];
    for (const inst of this.instances.values()) if (inst.workload_id === workloadId) out.push(inst);
    return out.sort((a, b) => a.replica - b.replica || a.name.localeCompare(b.name));
  }

  findNode(name) {
    for (const node of this.nodes.values()) if (node.name === name) return node;
    return null;
  }

  // Where a workload's users are: its placement.users points, and for each of its
  // user_regions the centroid of that region's ready nodes (as placement computes it).
  populations(workload) {
    const points = workload.users
      .filter(([, , w]) => w > 0)
      .map(([lat, lon, weight]) => ({ lat, lon, weight, label: `users ${lat.toFixed(1)}, ${lon.toFixed(1)}` }));
    for (const region of workload.user_regions || []) {
      const c = this.regionCentroid(region);
      if (c) points.push({ ...c, weight: 1, label: `users in ${region}` });
    }
    return points;
  }

  regionCentroid(region) {
    let x = 0;
    let y = 0;
    let z = 0;
    let n = 0;
    for (const node of this.nodes.values()) {
      if (node.region !== region || node.state !== "ready") continue;
      const la = (node.lat * Math.PI) / 180;
      const lo = (node.lon * Math.PI) / 180;
      x += Math.cos(la) * Math.cos(lo);
      y += Math.cos(la) * Math.sin(lo);
      z += Math.sin(la);
      n++;
    }
    if (!n) return null;
    const r = Math.hypot(x, y, z) || 1;
    return { lat: (Math.asin(z / r) * 180) / Math.PI, lon: (Math.atan2(y, x) * 180) / Math.PI };
  }
}

function upsert(map, op, id, obj) {
  if (op === "deleted" || !obj) map.delete(id);
  else map.set(id, obj);
}
