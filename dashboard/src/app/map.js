// The world map: two stacked canvases. The base one holds the sphere, land and borders (Natural
// Earth 1:50m, from the bundled world-atlas) as Path2D objects cached in projected coordinates,
// so panning and zooming only change the canvas transform. The overlay holds user populations,
// their links to the instances that serve them, and the nodes. Nodes are drawn in screen space,
// in a handful of batches (one Path2D per colour and size), which keeps 10,000 nodes well under
// a frame.
import { countries50m, feature, geoGraticule10, geoNaturalEarth1, geoPath, mesh } from "./vendor.js";
import { MAP_COLORS, STATE_COLORS, UTIL_BUCKET_COLORS, UTIL_STEPS } from "./colors.js";

const DRAW_ORDER = { ready: 0, pending: 1, suspect: 2, down: 3 };
const MIN_K = 1;
const MAX_K = 64;
const HOVER_PX = 8;
const MAX_LINKS = 3000;
const SETTLE_MS = 120;

// A node's utilization on the map: the larger of CPU and memory, the one that binds first.
export function nodeUtil(node) {
  return Math.max(node.util[0] || 0, node.util[1] || 0);
}

export class WorldMap {
  constructor(container, fleet, { onHover, onSelect }) {
    this.container = container;
    this.fleet = fleet;
    this.onHover = onHover;
    this.onSelect = onSelect;
    this.mode = "status";
    this.k = 1;
    this.tx = 0;
    this.ty = 0;
    this.width = 0;
    this.height = 0;
    this.dpr = Math.max(1, window.devicePixelRatio || 1);
    this.base = container.querySelector("canvas.base");
    this.overlay = container.querySelector("canvas.overlay");
    this.selectedNode = null;
    this.highlight = new Set(); // node ids ringed in white (the selected workload's nodes)
    this.candidates = new Set(); // node ids ringed in blue (placement candidates)
    this.focusWorkload = null;
    this.links = []; // [{pop, node, workloadId}]
    this.linksDirty = true;
    this.hovered = null;
    this.stats = { draws: 0, lastDrawMs: 0, maxDrawMs: 0, drawn: 0 };
    const land = countries50m;
    this.countries = feature(land, land.objects.countries);
    this.borders = mesh(land, land.objects.countries, (a, b) => a !== b);
    this.projection = geoNaturalEarth1();
    this.installInput();
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
  }

  // -- geometry ---------------------------------------------------------------------------

  resize() {
    const rect = this.container.getBoundingClientRect();
    const w = Math.max(100, Math.floor(rect.width));
    const hgt = Math.max(100, Math.floor(rect.height));
    if (w === this.width && hgt === this.height) return;
    this.width = w;
    this.height = hgt;
    for (const canvas of [this.base, this.overlay]) {
      canvas.width = Math.round(w * this.dpr);
      canvas.height = Math.round(hgt * this.dpr);
      canvas.style.width = `${w}px`;
      canvas.style.height = `${hgt}px`;
    }
    this.projection.fitExtent(
      [
        [8, 8],
        [w - 8, hgt - 8],
      ],
      { type: "Sphere" },
    );
    const path = (geometry) => {
      const p = new Path2D();
      geoPath(this.projection, p)(geometry);
      return p;
    };
    this.spherePath = path({ type: "Sphere" });
    this.landPath = path(this.countries);
    this.borderPath = path(this.borders);
    this.graticulePath = path(geoGraticule10());
    this.fleet.nodesChanged = true;
    this.linksDirty = true;
    this.clampView();
    this.redrawAll();
  }

  project(node) {
    const p = this.projection([node.lon, node.lat]);
    node.px = p ? p[0] : NaN;
    node.py = p ? p[1] : NaN;
    node.plat = node.lat;
    node.plon = node.lon;
  }

  syncNodes() {
    if (!this.fleet.nodesChanged) return;
    const nodes = [...this.fleet.nodes.values()];
    for (const node of nodes) this.project(node);
    this.fleet.order = nodes;
    this.fleet.nodesChanged = false;
  }

  toScreen(px, py) {
    return [px * this.k + this.tx, py * this.k + this.ty];
  }

  clampView() {
    const w = this.width;
    const hgt = this.height;
    this.k = Math.min(MAX_K, Math.max(MIN_K, this.k));
    // Keep at least half of the viewport on the world.
    const minX = w / 2 - w * this.k;
    const minY = hgt / 2 - hgt * this.k;
    this.tx = Math.min(w / 2, Math.max(minX, this.tx));
    this.ty = Math.min(hgt / 2, Math.max(minY, this.ty));
    if (this.k === 1) {
      this.tx = 0;
      this.ty = 0;
    }
  }

  zoomAt(factor, mx, my) {
    const k = Math.min(MAX_K, Math.max(MIN_K, this.k * factor));
    this.tx = mx - ((mx - this.tx) * k) / this.k;
    this.ty = my - ((my - this.ty) * k) / this.k;
    this.k = k;
    this.clampView();
    this.interact();
  }

  panBy(dx, dy) {
    this.tx += dx;
    this.ty += dy;
    this.clampView();
    this.interact();
  }

  resetView() {
    this.k = 1;
    this.clampView();
    this.redrawAll();
  }

  // Centre the view on [lon, lat] at zoom k (used when a node is picked from a list).
  focusOn(lon, lat, k = 6) {
    const p = this.projection([lon, lat]);
    if (!p) return;
    this.k = Math.max(this.k, k);
    this.tx = this.width / 2 - p[0] * this.k;
    this.ty = this.height / 2 - p[1] * this.k;
    this.clampView();
    this.redrawAll();
  }

  // -- input ------------------------------------------------------------------------------

  installInput() {
    const el = this.overlay;
    let drag = null;
    el.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        const r = el.getBoundingClientRect();
        this.zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
      },
      { passive: false },
    );
    el.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, tx: this.tx, ty: this.ty, moved: false };
      el.setPointerCapture(e.pointerId);
    });
    el.addEventListener("pointermove", (e) => {
      const r = el.getBoundingClientRect();
      if (drag) {
        const dx = e.clientX - drag.x;
        const dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        if (drag.moved) {
          this.panBy(drag.tx + dx - this.tx, drag.ty + dy - this.ty);
          return;
        }
      }
      this.hoverAt(e.clientX - r.left, e.clientY - r.top, e.clientX, e.clientY);
    });
    el.addEventListener("pointerup", (e) => {
      const r = el.getBoundingClientRect();
      if (drag && !drag.moved) {
        const node = this.nodeNear(e.clientX - r.left, e.clientY - r.top);
        this.onSelect(node);
      }
      drag = null;
    });
    el.addEventListener("pointerleave", () => {
      this.hovered = null;
      this.onHover(null);
    });
    el.addEventListener("dblclick", (e) => {
      const r = el.getBoundingClientRect();
      this.zoomAt(2, e.clientX - r.left, e.clientY - r.top);
    });
  }

  nodeNear(x, y) {
    let best = null;
    let bestD = HOVER_PX * HOVER_PX;
    for (const node of this.fleet.order) {
      const dx = node.sx - x;
      const dy = node.sy - y;
      const d = dx * dx + dy * dy;
      // Later (higher draw order) nodes sit on top: prefer them on ties.
      if (d < bestD || (d === bestD && best && DRAW_ORDER[node.state] > DRAW_ORDER[best.state])) {
        best = node;
        bestD = d;
      }
    }
    return best;
  }

  hoverAt(x, y, clientX, clientY) {
    const node = this.nodeNear(x, y);
    this.overlay.style.cursor = node ? "pointer" : "grab";
    this.hovered = node;
    this.onHover(node, clientX, clientY);
  }

  // -- styles -----------------------------------------------------------------------------

  setMode(mode) {
    this.mode = mode;
    this.drawOverlay();
  }

  radius(node) {
    // Bigger dots for small fleets; at 10,000 nodes small ones keep regions readable.
    const n = this.fleet.order.length;
    const size = n < 300 ? 4.0 : n < 3000 ? 2.8 : 2.0;
    const base = Math.min(size * 2, size * (1 + 0.3 * Math.log2(this.k)));
    const r = base * (0.8 + 0.8 * nodeUtil(node));
    // A node in trouble is never a speck: at least as big as a busy one.
    return node.state === "down" || node.state === "suspect" ? Math.max(r, base * 1.5) : r;
  }

  // { fill, ring } of a node: fill by state (status mode) or by utilization (util mode, ready
  // nodes); in util mode a node that is not ready is a ring of its state's colour.
  style(node) {
    if (this.mode === "util") {
      if (node.state === "ready") {
        return { fill: UTIL_BUCKET_COLORS[Math.round(nodeUtil(node) * UTIL_STEPS)], ring: null };
      }
      return { fill: "#0b0f17", ring: STATE_COLORS[node.state] || STATE_COLORS.pending };
    }
    return { fill: STATE_COLORS[node.state] || STATE_COLORS.pending, ring: null };
  }

  // -- links ------------------------------------------------------------------------------

  invalidateLinks() {
    this.linksDirty = true;
  }

  // Each user population is linked to the workload's nearest placed instance: the one that
  // serves it. Only workloads that name users (placement.users or user_regions) have links.
  computeLinks() {
    const fleet = this.fleet;
    const links = [];
    const pops = [];
    for (const workload of fleet.workloads.values()) {
      const points = fleet.populations(workload);
      if (!points.length) continue;
      const placed = [];
      for (const inst of fleet.instances.values()) {
        if (inst.workload_id !== workload.id || !inst.node_id) continue;
        const node = fleet.nodes.get(inst.node_id);
        if (node && inst.desired_state === "running") placed.push(node);
      }
      for (const pop of points) {
        pops.push({ ...pop, workloadId: workload.id });
        let best = null;
        let bestD = Infinity;
        for (const node of placed) {
          const d = greatCircle(pop.lat, pop.lon, node.lat, node.lon);
          if (d < bestD) {
            bestD = d;
            best = node;
          }
        }
        if (best && links.length < MAX_LINKS) links.push({ pop, node: best, workloadId: workload.id });
      }
    }
    this.links = links;
    this.pops = pops;
    const line = (l) => ({
      type: "LineString",
      coordinates: [
        [l.pop.lon, l.pop.lat],
        [l.node.lon, l.node.lat],
      ],
    });
    this.linkPath = new Path2D();
    this.focusLinkPath = new Path2D();
    const all = geoPath(this.projection, this.linkPath);
    const focus = geoPath(this.projection, this.focusLinkPath);
    for (const l of links) {
      if (this.focusWorkload && l.workloadId === this.focusWorkload) focus(line(l));
      else all(line(l));
    }
    this.linksDirty = false;
  }

  setFocus(workloadId, nodeIds) {
    this.focusWorkload = workloadId;
    this.highlight = new Set(nodeIds);
    this.linksDirty = true;
    this.drawOverlay();
  }

  setCandidates(nodeIds) {
    this.candidates = new Set(nodeIds);
    this.drawOverlay();
  }

  // -- drawing ----------------------------------------------------------------------------

  redrawAll() {
    this.snapshot = null;
    this.drawBase();
    this.drawOverlay();
  }

  // While the view moves (drag, wheel, buttons), each step only moves and scales a picture of
  // both layers taken when the gesture began; the real redraw comes once the view has been
  // still for SETTLE_MS. A full redraw of the 1:50m land and 10,000 nodes costs tens of
  // milliseconds of rasterisation; moving a bitmap costs about one.
  interact() {
    const started = performance.now();
    if (!this.snapshot) this.takeSnapshot();
    this.drawPreview();
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => this.redrawAll(), SETTLE_MS);
    this.stats.lastFrameMs = performance.now() - started;
  }

  takeSnapshot() {
    const copy = document.createElement("canvas");
    copy.width = this.base.width;
    copy.height = this.base.height;
    const ctx = copy.getContext("2d");
    ctx.drawImage(this.base, 0, 0);
    ctx.drawImage(this.overlay, 0, 0);
    this.snapshot = { canvas: copy, k: this.k, tx: this.tx, ty: this.ty };
    for (const node of this.fleet.order) node.sx = node.sy = -1e9; // no hovering mid-gesture
  }

  drawPreview() {
    const { canvas, k, tx, ty } = this.snapshot;
    const scale = this.k / k;
    const ctx = this.base.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.base.width, this.base.height);
    const x = (this.tx - tx * scale) * this.dpr;
    const y = (this.ty - ty * scale) * this.dpr;
    ctx.drawImage(canvas, x, y, canvas.width * scale, canvas.height * scale);
    const overlay = this.overlay.getContext("2d");
    overlay.setTransform(1, 0, 0, 1, 0, 0);
    overlay.clearRect(0, 0, this.overlay.width, this.overlay.height);
  }

  drawBase() {
    const ctx = this.base.getContext("2d");
    const { dpr, k } = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.base.width, this.base.height);
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * this.tx, dpr * this.ty);
    ctx.fillStyle = MAP_COLORS.sphere;
    ctx.fill(this.spherePath);
    ctx.strokeStyle = MAP_COLORS.graticule;
    ctx.lineWidth = 0.6 / k;
    ctx.stroke(this.graticulePath);
    ctx.fillStyle = MAP_COLORS.land;
    ctx.fill(this.landPath);
    ctx.strokeStyle = MAP_COLORS.border;
    ctx.lineWidth = 0.6 / k;
    ctx.stroke(this.borderPath);
  }

  drawOverlay() {
    if (this.snapshot) return; // mid-gesture: the settle redraw paints the latest state
    const started = performance.now();
    this.syncNodes();
    if (this.linksDirty) this.computeLinks();
    const ctx = this.overlay.getContext("2d");
    const { dpr, k, width, height } = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);

    // Links and populations, in projected coordinates under the view transform.
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * this.tx, dpr * this.ty);
    ctx.lineWidth = 1 / k;
    const quiet = this.focusWorkload || (this.pops && this.pops.length > 20);
    ctx.strokeStyle = quiet ? MAP_COLORS.linkFaint : MAP_COLORS.link;
    ctx.stroke(this.linkPath);
    ctx.lineWidth = 1.8 / k;
    ctx.strokeStyle = MAP_COLORS.link;
    ctx.stroke(this.focusLinkPath);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.drawPopulations(ctx);

    // Nodes, in screen space, batched by style; states that need attention drawn last.
    const batches = new Map();
    let drawn = 0;
    const order = this.fleet.order;
    for (const node of order) {
      if (node.plat !== node.lat || node.plon !== node.lon) this.project(node);
      const sx = node.px * k + this.tx;
      const sy = node.py * k + this.ty;
      node.sx = sx;
      node.sy = sy;
      if (!(sx > -10 && sy > -10 && sx < width + 10 && sy < height + 10)) {
        node.sx = node.sy = -1e9; // off screen: never hovered
        continue;
      }
      const r = Math.round(this.radius(node) * 2) / 2;
      const { fill, ring } = this.style(node);
      const key = `${DRAW_ORDER[node.state] ?? 1}|${fill}|${ring}|${r}`;
      let batch = batches.get(key);
      if (!batch) {
        batch = { order: DRAW_ORDER[node.state] ?? 1, fill, ring, r, path: new Path2D() };
        batches.set(key, batch);
      }
      batch.path.moveTo(sx + r, sy);
      batch.path.arc(sx, sy, r, 0, Math.PI * 2);
      node.fill = ring || fill;
      drawn++;
    }
    const sorted = [...batches.values()].sort((a, b) => a.order - b.order);
    ctx.lineWidth = 0.7;
    ctx.strokeStyle = "rgba(6,10,18,0.85)";
    for (const b of sorted) {
      ctx.fillStyle = b.fill;
      ctx.fill(b.path);
      if (b.ring) {
        ctx.lineWidth = 1.6;
        ctx.strokeStyle = b.ring;
        ctx.stroke(b.path);
        ctx.lineWidth = 0.7;
        ctx.strokeStyle = "rgba(6,10,18,0.85)";
      } else if (b.order >= 2 || k >= 3) {
        ctx.stroke(b.path);
      }
    }
    this.drawRings(ctx);
    this.drawLabels(ctx);
    const ms = performance.now() - started;
    this.stats.draws++;
    this.stats.lastDrawMs = ms;
    this.stats.maxDrawMs = Math.max(this.stats.maxDrawMs, ms);
    this.stats.drawn = drawn;
    this.stats.lastPaintAt = Date.now();
    this.container.dataset.nodesDrawn = String(drawn);
    this.container.dataset.nodesTotal = String(order.length);
    this.container.dataset.draws = String(this.stats.draws);
  }

  drawPopulations(ctx) {
    if (!this.pops || !this.pops.length) return;
    const maxW = Math.max(...this.pops.map((p) => p.weight), 1);
    for (const pop of this.pops) {
      const p = this.projection([pop.lon, pop.lat]);
      if (!p) continue;
      const [x, y] = this.toScreen(p[0], p[1]);
      // Strong for the selected workload; with none selected, present but quiet when there
      // are many, so they do not hide the nodes.
      const focused = this.focusWorkload
        ? pop.workloadId === this.focusWorkload
        : this.pops.length <= 20;
      const r = 4 + 7 * Math.sqrt(pop.weight / maxW);
      ctx.beginPath();
      ctx.arc(x, y, r, 0, Math.PI * 2);
      ctx.fillStyle = focused ? "rgba(199,125,255,0.22)" : "rgba(199,125,255,0.06)";
      ctx.fill();
      ctx.lineWidth = focused ? 1.4 : 0.8;
      ctx.strokeStyle = focused ? MAP_COLORS.population : "rgba(199,125,255,0.35)";
      ctx.stroke();
    }
  }

  drawRings(ctx) {
    const ring = (ids, color, extra) => {
      if (!ids.size) return;
      const path = new Path2D();
      for (const id of ids) {
        const node = this.fleet.nodes.get(id);
        if (!node || node.sx < -1e8) continue;
        const r = this.radius(node) + extra;
        path.moveTo(node.sx + r, node.sy);
        path.arc(node.sx, node.sy, r, 0, Math.PI * 2);
      }
      ctx.lineWidth = 1.6;
      ctx.strokeStyle = color;
      ctx.stroke(path);
    };
    ring(this.candidates, MAP_COLORS.candidate, 4.5);
    ring(this.highlight, MAP_COLORS.highlight, 2.5);
    if (this.selectedNode) ring(new Set([this.selectedNode]), "#facc15", 4);
  }

  drawLabels(ctx) {
    if (this.k < 5) return;
    const visible = this.fleet.order.filter((n) => n.sx > 0 && n.sy > 0 && n.sx < this.width && n.sy < this.height);
    if (visible.length > 150) return;
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "rgba(226,232,240,0.85)";
    for (const node of visible) ctx.fillText(node.name, node.sx + this.radius(node) + 3, node.sy + 4);
  }

  // For tests and benchmarks: where a node is on the page and what colour it is drawn in.
  describeNode(name) {
    const node = this.fleet.findNode(name);
    if (!node) return null;
    const rect = this.overlay.getBoundingClientRect();
    return {
      id: node.id,
      state: node.state,
      fill: node.fill,
      x: node.sx,
      y: node.sy,
      pageX: rect.left + node.sx,
      pageY: rect.top + node.sy,
      visible: node.sx > -1e8,
    };
  }

  // The pixel the overlay shows at a node's centre, as [r, g, b, a].
  pixelAt(name) {
    const d = this.describeNode(name);
    if (!d || !d.visible) return null;
    const ctx = this.overlay.getContext("2d");
    const px = ctx.getImageData(Math.round(d.x * this.dpr), Math.round(d.y * this.dpr), 1, 1).data;
    return [px[0], px[1], px[2], px[3]];
  }

  // describeNode, the pixel at its centre, and whether another node's dot covers it, all
  // read in one go (the state may change between two calls).
  probe(name) {
    const d = this.describeNode(name);
    if (!d || !d.visible) return d;
    const node = this.fleet.nodes.get(d.id);
    let isolated = true; // no other dot (or its outline) covers this node's centre
    for (const other of this.fleet.order) {
      const reach = this.radius(other) + 2;
      if (other !== node && Math.hypot(other.sx - d.x, other.sy - d.y) < reach) isolated = false;
    }
    return { ...d, pixel: this.pixelAt(name), isolated };
  }
}

function greatCircle(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const a =
    Math.sin(((lat2 - lat1) * rad) / 2) ** 2 +
    Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * Math.asin(Math.min(1, Math.sqrt(a)));
}
