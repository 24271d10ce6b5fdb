// Built from dashboard/src/app by dashboard/build.mjs; edit the sources there.

// src/app/api.js
var TOKEN_KEY = "edgeorch.token";
var Unauthorized = class extends Error {
};
var NotAvailable = class extends Error {
};
function takeTokenFromUrl() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}
function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}
function headers(extra = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY) || "";
  return { Authorization: `Bearer ${token}`, ...extra };
}
async function problemText(response) {
  try {
    const body = await response.json();
    return body.detail || body.title || response.statusText;
  } catch {
    return response.statusText;
  }
}
async function api(path, { method = "GET", body } = {}) {
  const init = { method, headers: headers() };
  if (body !== void 0) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(`/api/v1${path}`, init);
  if (response.status === 401) throw new Unauthorized(await problemText(response));
  if (response.status === 404 || response.status === 405) {
    throw new NotAvailable(await problemText(response));
  }
  if (!response.ok) throw new Error(`${method} ${path}: ${await problemText(response)}`);
  return response.json();
}
async function followStream(since, onEvent, signal) {
  const response = await fetch(`/api/v1/stream?since=${since}`, {
    headers: headers({ Accept: "text/event-stream" }),
    cache: "no-store",
    signal
  });
  if (response.status === 401) throw new Unauthorized(await problemText(response));
  if (!response.ok) throw new Error(`stream: ${await problemText(response)}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (; ; ) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message = parseBlock(block);
      if (message) onEvent(message.event, message.data, message.id);
    }
  }
}
function parseBlock(block) {
  let event = "message";
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  return { event, id, data: JSON.parse(data.join("\n")) };
}

// src/app/dom.js
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === void 0 || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style") el.style.cssText = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}
function append(el, children) {
  for (const child of children) {
    if (child === void 0 || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}
function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}
function $(selector) {
  return document.querySelector(selector);
}
function pct(x) {
  return `${Math.round((x || 0) * 100)}%`;
}
function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const s = Math.max(0, (now - Date.parse(iso)) / 1e3);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
function clock(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}
function perFrame(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}
function debounce(fn, ms) {
  let timer = null;
  let first = 0;
  return () => {
    const now = performance.now();
    if (timer === null) first = now;
    clearTimeout(timer);
    const wait = now - first > ms * 4 ? 0 : ms;
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, wait);
  };
}

// src/app/map.js
import { countries50m, feature, geoGraticule10, geoNaturalEarth1, geoPath, mesh } from "./vendor.js";

// src/app/colors.js
var STATE_COLORS = {
  ready: "#2fb26e",
  suspect: "#f5a524",
  down: "#ef3e36",
  pending: "#8d97a8"
};
var MAP_COLORS = {
  sphere: "#0d1422",
  land: "#232d40",
  border: "#36425b",
  graticule: "rgba(120,140,170,0.08)",
  population: "#c77dff",
  link: "rgba(199,125,255,0.55)",
  linkFaint: "rgba(199,125,255,0.18)",
  highlight: "#ffffff",
  candidate: "#38bdf8"
};
var RAMP = [
  [0, [44, 123, 182]],
  [0.3, [0, 166, 202]],
  [0.5, [144, 235, 157]],
  [0.7, [249, 208, 87]],
  [0.85, [242, 140, 40]],
  [1, [215, 25, 28]]
];
function utilColor(u) {
  const x = Math.min(Math.max(u || 0, 0), 1);
  for (let i = 1; i < RAMP.length; i++) {
    const [x1, c1] = RAMP[i];
    if (x <= x1) {
      const [x0, c0] = RAMP[i - 1];
      const t = (x - x0) / (x1 - x0);
      const c = c0.map((v, k) => Math.round(v + (c1[k] - v) * t));
      return `rgb(${c[0]},${c[1]},${c[2]})`;
    }
  }
  return "rgb(215,25,28)";
}
function textOn(rgb) {
  const [r, g, b] = rgb.match(/\d+/g).map(Number);
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#0b1220" : "#f1f5f9";
}
var UTIL_STEPS = 10;
var UTIL_BUCKET_COLORS = Array.from({ length: UTIL_STEPS + 1 }, (_, i) => utilColor(i / UTIL_STEPS));

// src/app/map.js
var DRAW_ORDER = { ready: 0, pending: 1, suspect: 2, down: 3 };
var MIN_K = 1;
var MAX_K = 64;
var HOVER_PX = 8;
var MAX_LINKS = 3e3;
var SETTLE_MS = 120;
function nodeUtil(node) {
  return Math.max(node.util[0] || 0, node.util[1] || 0);
}
var WorldMap = class {
  constructor(container, fleet2, { onHover, onSelect }) {
    this.container = container;
    this.fleet = fleet2;
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
    this.highlight = /* @__PURE__ */ new Set();
    this.candidates = /* @__PURE__ */ new Set();
    this.focusWorkload = null;
    this.links = [];
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
        [w - 8, hgt - 8]
      ],
      { type: "Sphere" }
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
    this.tx = mx - (mx - this.tx) * k / this.k;
    this.ty = my - (my - this.ty) * k / this.k;
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
        this.zoomAt(Math.exp(-e.deltaY * 15e-4), e.clientX - r.left, e.clientY - r.top);
      },
      { passive: false }
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
      if (d < bestD || d === bestD && best && DRAW_ORDER[node.state] > DRAW_ORDER[best.state]) {
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
    const n = this.fleet.order.length;
    const size = n < 300 ? 4 : n < 3e3 ? 2.8 : 2;
    const base = Math.min(size * 2, size * (1 + 0.3 * Math.log2(this.k)));
    const r = base * (0.8 + 0.8 * nodeUtil(node));
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
    const fleet2 = this.fleet;
    const links = [];
    const pops = [];
    for (const workload of fleet2.workloads.values()) {
      const points = fleet2.populations(workload);
      if (!points.length) continue;
      const placed = [];
      for (const inst of fleet2.instances.values()) {
        if (inst.workload_id !== workload.id || !inst.node_id) continue;
        const node = fleet2.nodes.get(inst.node_id);
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
        [l.node.lon, l.node.lat]
      ]
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
    for (const node of this.fleet.order) node.sx = node.sy = -1e9;
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
    if (this.snapshot) return;
    const started = performance.now();
    this.syncNodes();
    if (this.linksDirty) this.computeLinks();
    const ctx = this.overlay.getContext("2d");
    const { dpr, k, width, height } = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * this.tx, dpr * this.ty);
    ctx.lineWidth = 1 / k;
    const quiet = this.focusWorkload || this.pops && this.pops.length > 20;
    ctx.strokeStyle = quiet ? MAP_COLORS.linkFaint : MAP_COLORS.link;
    ctx.stroke(this.linkPath);
    ctx.lineWidth = 1.8 / k;
    ctx.strokeStyle = MAP_COLORS.link;
    ctx.stroke(this.focusLinkPath);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.drawPopulations(ctx);
    const batches = /* @__PURE__ */ new Map();
    let drawn = 0;
    const order = this.fleet.order;
    for (const node of order) {
      if (node.plat !== node.lat || node.plon !== node.lon) this.project(node);
      const sx = node.px * k + this.tx;
      const sy = node.py * k + this.ty;
      node.sx = sx;
      node.sy = sy;
      if (!(sx > -10 && sy > -10 && sx < width + 10 && sy < height + 10)) {
        node.sx = node.sy = -1e9;
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
      const focused = this.focusWorkload ? pop.workloadId === this.focusWorkload : this.pops.length <= 20;
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
    if (this.selectedNode) ring(/* @__PURE__ */ new Set([this.selectedNode]), "#facc15", 4);
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
      visible: node.sx > -1e8
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
    let isolated = true;
    for (const other of this.fleet.order) {
      const reach = this.radius(other) + 2;
      if (other !== node && Math.hypot(other.sx - d.x, other.sy - d.y) < reach) isolated = false;
    }
    return { ...d, pixel: this.pixelAt(name), isolated };
  }
};
function greatCircle(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const a = Math.sin((lat2 - lat1) * rad / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin((lon2 - lon1) * rad / 2) ** 2;
  return 2 * Math.asin(Math.min(1, Math.sqrt(a)));
}

// src/app/state.js
var UTIL_FIELDS = ["cpu", "memory", "storage", "bandwidth"];
var STATES = ["ready", "suspect", "down", "pending"];
var Fleet = class {
  constructor() {
    this.revision = 0;
    this.nodes = /* @__PURE__ */ new Map();
    this.instances = /* @__PURE__ */ new Map();
    this.workloads = /* @__PURE__ */ new Map();
    this.events = [];
    this.order = [];
    this.nodesChanged = true;
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
        last_heartbeat: null
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
        score: s.score[i]
      });
    }
    this.revision = snapshot.revision;
    this.nodesChanged = true;
  }
  // Apply one stream message; answers which kinds it touched.
  apply(message) {
    const touched = /* @__PURE__ */ new Set();
    for (const change of message.changes) {
      touched.add(change.kind);
      const obj = change.object;
      if (change.kind === "Node") this.applyNode(change.op, change.id, obj);
      else if (change.kind === "Instance") upsert(this.instances, change.op, change.id, obj);
      else if (change.kind === "Workload") upsert(this.workloads, change.op, change.id, obj);
      else if (change.kind === "Event" && obj) {
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
    const rows = /* @__PURE__ */ new Map();
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
    return [...rows.values()].map((row) => ({ ...row, util: row.sums.map((s) => row.ready ? s / row.ready : null) })).sort((a, b) => a.region.localeCompare(b.region));
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
    const points = workload.users.filter(([, , w]) => w > 0).map(([lat, lon, weight]) => ({ lat, lon, weight, label: `users ${lat.toFixed(1)}, ${lon.toFixed(1)}` }));
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
      const la = node.lat * Math.PI / 180;
      const lo = node.lon * Math.PI / 180;
      x += Math.cos(la) * Math.cos(lo);
      y += Math.cos(la) * Math.sin(lo);
      z += Math.sin(la);
      n++;
    }
    if (!n) return null;
    const r = Math.hypot(x, y, z) || 1;
    return { lat: Math.asin(z / r) * 180 / Math.PI, lon: Math.atan2(y, x) * 180 / Math.PI };
  }
};
function upsert(map2, op, id, obj) {
  if (op === "deleted" || !obj) map2.delete(id);
  else map2.set(id, obj);
}

// src/app/panels.js
var INSTANCE_COLORS = {
  running: STATE_COLORS.ready,
  starting: "#60a5fa",
  pending: STATE_COLORS.pending,
  stopping: "#a78bfa",
  stopped: "#64748b",
  failed: STATE_COLORS.down,
  lost: "#f97316",
  unknown: STATE_COLORS.suspect
};
var MAX_INSTANCE_CHIPS = 24;
var MAX_WORKLOAD_ROWS = 200;
function dot(color, title) {
  return h("span", { class: "dot", style: `background:${color}`, title });
}
function stateDot(state) {
  return dot(STATE_COLORS[state] || STATE_COLORS.pending, state);
}
function bar(fraction, color) {
  const f = Math.min(Math.max(fraction || 0, 0), 1);
  return h("span", { class: "bar" }, h("span", { style: `width:${(f * 100).toFixed(1)}%;background:${color}` }));
}
function renderHeader(fleet2) {
  const counts = fleet2.counts();
  replace(
    document.getElementById("counts"),
    STATES.map((s) => h("span", { class: "count", dataset: { state: s } }, stateDot(s), ` ${counts[s] || 0} ${s}`)),
    h("span", { class: "count muted" }, `${fleet2.workloads.size} workloads \xB7 ${fleet2.instances.size} instances`)
  );
  document.getElementById("revision").textContent = `rev ${fleet2.revision}`;
  const legend = document.getElementById("legend-counts");
  if (legend) {
    replace(legend, STATES.map((s) => h("span", {}, stateDot(s), ` ${s} ${counts[s] || 0}`)));
  }
}
function renderHeatmap(fleet2, onRegion) {
  const rows = fleet2.regions();
  const body = document.getElementById("heatmap");
  if (!rows.length) {
    replace(body, h("p", { class: "empty" }, "No nodes yet."));
    return;
  }
  const head = h(
    "tr",
    {},
    h("th", {}, "region"),
    h("th", { class: "num" }, "nodes"),
    UTIL_FIELDS.map((f) => h("th", { class: "num" }, { cpu: "cpu", memory: "mem", storage: "disk", bandwidth: "net" }[f]))
  );
  const trs = rows.map(
    (row) => h(
      "tr",
      { onclick: () => onRegion(row.region), title: `zoom to ${row.region}` },
      h(
        "td",
        { class: "region" },
        row.region,
        row.notReady ? h("span", { class: "down-count", title: `${row.notReady} suspect or down` }, String(row.notReady)) : null
      ),
      h("td", { class: "num", title: "ready / all nodes" }, `${row.ready}/${row.nodes}`),
      row.util.map((u) => {
        if (u === null) return h("td", { class: "cell na" }, "\u2013");
        const bg = utilColor(u);
        return h("td", { class: "cell", style: `background:${bg};color:${textOn(bg)}` }, pct(u));
      })
    )
  );
  replace(body, h("table", { class: "heat" }, h("thead", {}, head), h("tbody", {}, trs)));
}
function renderTopology(fleet2, selectedWorkload, onWorkload, onNode) {
  const body = document.getElementById("topology");
  const workloads = [...fleet2.workloads.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (!workloads.length) {
    replace(body, h("p", { class: "empty" }, "No workloads yet."));
    return;
  }
  const byWorkload = /* @__PURE__ */ new Map();
  for (const inst of fleet2.instances.values()) {
    if (!byWorkload.has(inst.workload_id)) byWorkload.set(inst.workload_id, []);
    byWorkload.get(inst.workload_id).push(inst);
  }
  const items = workloads.slice(0, MAX_WORKLOAD_ROWS).map((w) => {
    const insts = (byWorkload.get(w.id) || []).sort((a, b) => a.replica - b.replica);
    const running = insts.filter((i) => i.state === "running").length;
    const desired = w.desired || w.replicas || 0;
    const chips = insts.slice(0, MAX_INSTANCE_CHIPS).map((inst) => {
      const node = inst.node_id ? fleet2.nodes.get(inst.node_id) : null;
      return h(
        "button",
        {
          class: "chip",
          title: `${inst.name}: ${inst.state}${node ? ` on ${node.name} (${node.state})` : ", not bound"}`,
          onclick: (e) => {
            e.stopPropagation();
            if (node) onNode(node);
          }
        },
        dot(INSTANCE_COLORS[inst.state] || STATE_COLORS.pending, inst.state),
        `r${inst.replica} `,
        h("span", { class: "arrow" }, "\u2192 "),
        node ? [stateDot(node.state), ` ${node.name}`] : h("span", { class: "muted" }, "unbound")
      );
    });
    const more = insts.length > MAX_INSTANCE_CHIPS ? h("span", { class: "muted" }, ` +${insts.length - MAX_INSTANCE_CHIPS} more`) : null;
    return h(
      "li",
      {
        class: `workload${w.id === selectedWorkload ? " selected" : ""}`,
        onclick: () => onWorkload(w.id),
        dataset: { workload: w.name }
      },
      h(
        "div",
        { class: "wl-head" },
        h("strong", {}, w.name),
        h("span", { class: "tag" }, w.runtime),
        h("span", { class: running < desired ? "warn" : "ok" }, `${running}/${desired} running`),
        w.users.length || w.user_regions.length ? h("span", { class: "tag pop", title: "user populations" }, `${w.users.length + w.user_regions.length} pop.`) : null
      ),
      h("div", { class: "chips" }, chips, more)
    );
  });
  const rest = workloads.length > MAX_WORKLOAD_ROWS ? h("p", { class: "muted" }, `${workloads.length - MAX_WORKLOAD_ROWS} more workloads not shown`) : null;
  replace(body, h("ul", { class: "topology" }, items), rest);
}
function renderExplanation(fleet2, workloadId, analysis, handlers) {
  const body = document.getElementById("explain");
  const select = h(
    "select",
    { id: "explain-select", onchange: (e) => handlers.onWorkload(e.target.value || null) },
    h("option", { value: "" }, "choose a workload\u2026"),
    [...fleet2.workloads.values()].sort((a, b) => a.name.localeCompare(b.name)).map((w2) => h("option", { value: w2.id, selected: w2.id === workloadId }, w2.name))
  );
  const w = workloadId ? fleet2.workloads.get(workloadId) : null;
  if (!w) {
    replace(body, h("div", { class: "explain-bar" }, select), h("p", { class: "empty" }, "Pick a workload to see why its replicas run where they do."));
    return;
  }
  const insts = fleet2.instancesOf(w.id);
  const analyse = h("button", { class: "btn", onclick: () => handlers.onAnalyze(w) }, "analyse now");
  const rows = insts.map((inst) => {
    const node = inst.node_id ? fleet2.nodes.get(inst.node_id) : null;
    return h(
      "tr",
      { class: inst.id === handlers.selectedInstance ? "selected" : "", onclick: () => handlers.onInstance(inst.id) },
      h("td", {}, `r${inst.replica}`),
      h("td", {}, node ? [stateDot(node.state), ` ${node.name}`] : "\u2013"),
      h("td", {}, dot(INSTANCE_COLORS[inst.state] || STATE_COLORS.pending), ` ${inst.state}`),
      h("td", { class: "num" }, inst.score === null || inst.score === void 0 ? "\u2013" : inst.score.toFixed(3))
    );
  });
  const parts = [
    h("div", { class: "explain-bar" }, select, analyse),
    h(
      "p",
      { class: "muted" },
      `${w.runtime} \xB7 ${w.running}/${w.desired} running`,
      w.max_latency_ms ? ` \xB7 SLA ${w.max_latency_ms} ms` : "",
      ` \xB7 ${fleet2.populations(w).length} user population(s)`,
      w.message ? ` \xB7 ${w.message}` : ""
    ),
    insts.length ? h("table", { class: "list" }, h("thead", {}, h("tr", {}, h("th", {}, "replica"), h("th", {}, "node"), h("th", {}, "state"), h("th", { class: "num" }, "score"))), h("tbody", {}, rows)) : h("p", { class: "empty" }, "No instances placed.")
  ];
  if (handlers.instanceDetail) parts.push(renderInstanceDetail(fleet2, handlers.instanceDetail));
  if (analysis) parts.push(renderAnalysis(analysis));
  replace(body, parts);
}
function renderInstanceDetail(fleet2, inst) {
  const ex = inst.status?.explanation || {};
  if (!ex.candidates) {
    return h("div", { class: "why" }, h("h4", {}, `Why ${inst.metadata.name}`), h("p", { class: "muted" }, "This instance carries no placement explanation (it was placed before explanations were recorded, or by hand)."));
  }
  const name = (id) => fleet2.nodes.get(id)?.name || id.slice(0, 8);
  return h(
    "div",
    { class: "why", dataset: { instance: inst.metadata.name } },
    h("h4", {}, `Why ${inst.metadata.name} runs on ${name(ex.node_id)}`),
    h(
      "p",
      { class: "muted" },
      `score ${fmt(ex.score)}`,
      ex.latency_ms !== null && ex.latency_ms !== void 0 ? ` \xB7 est. latency ${fmt(ex.latency_ms, 1)} ms` : "",
      ` \xB7 ${ex.feasible_nodes} of ${ex.total_nodes} nodes feasible`,
      ex.reason ? ` \xB7 placed for: ${ex.reason} replica` : ""
    ),
    renderFilters(ex.filters || [], ex.total_nodes),
    renderCandidates(
      (ex.candidates || []).map((c) => ({ ...c, node_name: name(c.node_id) })),
      ex.weights,
      ex.node_id
    )
  );
}
function renderAnalysis(a) {
  if (a.error) return h("div", { class: "why" }, h("p", { class: "warn" }, a.error));
  return h(
    "div",
    { class: "why", id: "analysis" },
    h("h4", {}, a.placeable ? "Analysis now: placeable" : "Analysis now: NOT placeable"),
    h("p", { class: "muted" }, `${a.feasible_nodes} of ${a.total_nodes} nodes feasible \xB7 decided in ${fmt(a.decision_ms, 1)} ms \xB7 revision ${a.revision}`),
    renderFilters(a.filters || [], a.total_nodes),
    renderCandidates(a.candidates || [], a.weights, null),
    (a.blocking || []).length ? h("p", { class: "warn" }, `blocking: ${a.blocking.join(", ")}`) : null,
    (a.hints || []).map((hint) => h("p", { class: "hint" }, `hint: ${hint.message}`)),
    (a.notes || []).map((note) => h("p", { class: "muted" }, note))
  );
}
function renderFilters(filters, total) {
  const removing = filters.filter((f) => f.removed > 0);
  if (!removing.length) return h("p", { class: "muted" }, "No filter removed any node.");
  return h(
    "div",
    { class: "filters" },
    h("div", { class: "sub" }, "filters (nodes removed)"),
    removing.map(
      (f) => h("div", { class: "frow", title: f.reason || "" }, h("span", { class: "fname" }, f.name), bar(f.removed / Math.max(total || 1, 1), "#f97316"), h("span", { class: "num" }, String(f.removed)))
    )
  );
}
function renderCandidates(candidates, weights, chosen) {
  if (!candidates.length) return h("p", { class: "muted" }, "No feasible candidate.");
  const terms = Object.keys(candidates[0].terms || {});
  const latency = candidates.some((c) => typeof c.latency_ms === "number");
  return h(
    "table",
    { class: "list cands" },
    h(
      "thead",
      {},
      h("tr", {}, h("th", {}, "candidate"), h("th", { class: "num" }, "score"), terms.map((t) => h("th", { title: `weight ${weights?.[t] ?? "?"}` }, t)), latency ? h("th", { class: "num", title: "estimated round trip" }, "ms") : null)
    ),
    h(
      "tbody",
      {},
      candidates.slice(0, 10).map(
        (c) => h(
          "tr",
          { class: c.node_id === chosen ? "chosen" : "" },
          h("td", {}, c.node_name || c.node_id),
          h("td", { class: "num" }, fmt(c.score)),
          terms.map((t) => h("td", { title: fmt(c.terms[t]) }, bar(c.terms[t], "#38bdf8"))),
          latency ? h("td", { class: "num" }, typeof c.latency_ms === "number" ? fmt(c.latency_ms, 1) : "\u2013") : null
        )
      )
    )
  );
}
function fmt(x, digits = 3) {
  return typeof x === "number" ? x.toFixed(digits) : "\u2013";
}
var SEVERITY_COLORS = { critical: STATE_COLORS.down, warning: STATE_COLORS.suspect, info: "#60a5fa" };
function renderAlerts(result) {
  const body = document.getElementById("alerts");
  const badge = document.getElementById("alerts-badge");
  if (result.unavailable) {
    badge.textContent = "";
    replace(body, h("p", { class: "empty" }, "Alerts are unavailable on this server."));
    return;
  }
  if (result.error) {
    replace(body, h("p", { class: "warn" }, result.error));
    return;
  }
  const items = result.items;
  const firing = items.filter((a) => a.state === "firing");
  const resolved = items.filter((a) => a.state !== "firing").slice(0, 10);
  badge.textContent = firing.length ? String(firing.length) : "";
  if (!items.length) {
    replace(body, h("p", { class: "empty ok" }, "No alerts."));
    return;
  }
  const row = (a) => {
    const subject = a.subject && typeof a.subject === "object" ? `${a.subject.kind} ${a.subject.name}` : a.subject || "";
    const when = a.state === "firing" ? `since ${clock(a.started_at)}` : `resolved ${clock(a.resolved_at)}`;
    return h(
      "li",
      { class: `alert ${a.state}`, dataset: { rule: a.rule } },
      dot(SEVERITY_COLORS[a.severity] || "#94a3b8", a.severity),
      h("div", {}, h("div", {}, a.summary || a.rule || "alert"), h("div", { class: "muted small" }, `${a.severity || ""} \xB7 ${a.rule || ""} \xB7 ${subject} \xB7 ${when}`))
    );
  };
  replace(body, h("ul", { class: "feed" }, firing.map(row), resolved.map(row)));
}
function migrationActive(m) {
  const state = m.status?.state;
  return state === "pending" || state === "running";
}
function renderMigrations(fleet2, result) {
  const body = document.getElementById("migrations");
  const badge = document.getElementById("migrations-badge");
  if (result.unavailable) {
    badge.textContent = "";
    replace(body, h("p", { class: "empty" }, "Migrations are unavailable on this server."));
    return;
  }
  if (result.error) {
    replace(body, h("p", { class: "warn" }, result.error));
    return;
  }
  const active = result.items.filter(migrationActive);
  badge.textContent = active.length ? String(active.length) : "";
  if (!active.length) {
    replace(body, h("p", { class: "empty" }, "No migration in progress."));
    return;
  }
  const nodeName = (id) => fleet2.nodes.get(id)?.name || (id ? id.slice(0, 8) : "?");
  replace(
    body,
    h(
      "ul",
      { class: "feed" },
      active.map((m) => {
        const progress = Number(m.status.progress || 0);
        return h(
          "li",
          { class: "migration", dataset: { migration: m.metadata.name } },
          h("div", {}, h("strong", {}, m.spec.instance_name), h("span", { class: "tag" }, m.spec.type), m.spec.automatic ? h("span", { class: "tag" }, "auto") : null),
          h("div", { class: "muted small" }, `${nodeName(m.spec.source_node_id)} \u2192 ${nodeName(m.spec.target_node_id)} \xB7 ${m.status.phase.replace("_", " ")}`),
          h("div", { class: "progress" }, bar(progress / 100, "#38bdf8"), h("span", { class: "num" }, `${Math.round(progress)}%`))
        );
      })
    )
  );
}
function renderEvents(fleet2) {
  const body = document.getElementById("events");
  const recent = fleet2.events.slice(-60).reverse();
  if (!recent.length) {
    replace(body, h("p", { class: "empty" }, "No events yet."));
    return;
  }
  replace(
    body,
    h(
      "ul",
      { class: "feed" },
      recent.map(
        (e) => h(
          "li",
          { class: `event ${e.type === "Warning" ? "warning" : ""}` },
          h("span", { class: "time" }, clock(e.time)),
          h("span", { class: "reason" }, e.reason),
          h("span", { class: "msg" }, e.message)
        )
      )
    )
  );
}
function renderTooltip(node, x, y) {
  const tip = document.getElementById("tooltip");
  if (!node) {
    tip.hidden = true;
    return;
  }
  replace(
    tip,
    h("div", { class: "tt-title" }, stateDot(node.state), ` ${node.name}`),
    h("div", { class: "muted" }, `${node.state}${node.scheduling !== "enabled" ? ` \xB7 ${node.scheduling}` : ""} \xB7 ${node.edge_type} \xB7 ${node.region} \xB7 ${node.country}`),
    UTIL_FIELDS.map((f, i) => h("div", { class: "tt-row" }, h("span", { class: "fname" }, f), bar(node.util[i], utilColor(node.util[i])), h("span", { class: "num" }, pct(node.util[i])))),
    h("div", { class: "muted" }, `${node.instances} instance(s) \xB7 ${node.cpu} vCPU \xB7 ${Math.round(node.memory_mb / 1024)} GB`)
  );
  tip.hidden = false;
  const pad = 14;
  const w = tip.offsetWidth;
  const hgt = tip.offsetHeight;
  tip.style.left = `${Math.min(x + pad, window.innerWidth - w - 4)}px`;
  tip.style.top = `${Math.min(y + pad, window.innerHeight - hgt - 4)}px`;
}
function renderNodeCard(fleet2, node, onClose, onWorkload) {
  const card = document.getElementById("node-card");
  if (!node) {
    card.hidden = true;
    return;
  }
  const insts = [...fleet2.instances.values()].filter((i) => i.node_id === node.id);
  replace(
    card,
    h("button", { class: "close", onclick: onClose, title: "close" }, "\xD7"),
    h("div", { class: "tt-title" }, stateDot(node.state), ` ${node.name}`),
    h("div", { class: "muted" }, `${node.state} \xB7 ${node.edge_type} \xB7 ${node.region} \xB7 ${node.country} \xB7 ${node.lat.toFixed(2)}, ${node.lon.toFixed(2)}`),
    node.last_heartbeat ? h("div", { class: "muted" }, `last heartbeat ${ago(node.last_heartbeat)}`) : null,
    UTIL_FIELDS.map((f, i) => h("div", { class: "tt-row" }, h("span", { class: "fname" }, f), bar(node.util[i], utilColor(node.util[i])), h("span", { class: "num" }, pct(node.util[i])))),
    h("div", { class: "sub" }, `${insts.length} instance(s) \xB7 utilization ${pct(nodeUtil(node))}`),
    h(
      "ul",
      { class: "feed small" },
      insts.slice(0, 30).map((i) => {
        const w = fleet2.workloads.get(i.workload_id);
        return h("li", { class: "link", onclick: () => onWorkload(i.workload_id) }, dot(INSTANCE_COLORS[i.state] || STATE_COLORS.pending, i.state), ` ${i.name} (${w ? w.name : "?"}) ${i.state}`);
      })
    )
  );
  card.hidden = false;
}

// src/app/main.js
var fleet = new Fleet();
var ui = {
  selectedWorkload: null,
  selectedInstance: null,
  workloadInstances: /* @__PURE__ */ new Map(),
  // full Instance objects (with explanations) of the selected workload
  analysis: null,
  selectedNode: null
};
var stats = {
  loadMs: 0,
  snapshotMs: 0,
  firstDrawMs: 0,
  messages: 0,
  records: 0,
  applyMs: 0,
  lastApplyMs: 0,
  resets: 0,
  connects: 0
};
var map = null;
var streamAbort = null;
var repaintMap = perFrame(() => map && map.drawOverlay());
var dirty = /* @__PURE__ */ new Set(["header", "heatmap", "topology", "explain", "events", "card"]);
var repaintPanels = debounce(() => {
  if (dirty.has("header")) renderHeader(fleet);
  if (dirty.has("heatmap")) renderHeatmap(fleet, zoomToRegion);
  if (dirty.has("topology")) renderTopology(fleet, ui.selectedWorkload, selectWorkload, (node) => selectNode(node, true));
  if (dirty.has("explain") && !$("#explain").contains(document.activeElement)) renderExplanationPanel();
  if (dirty.has("events")) renderEvents(fleet);
  if (dirty.has("card") && ui.selectedNode) {
    renderNodeCard(fleet, fleet.nodes.get(ui.selectedNode), () => selectNode(null), selectWorkload);
  }
  dirty.clear();
}, 250);
var PANELS_OF = {
  Node: ["header", "heatmap", "topology", "card"],
  Instance: ["header", "topology", "explain", "card"],
  Workload: ["header", "topology", "explain"],
  Event: ["events"]
};
function markDirty(kinds) {
  for (const kind of kinds) for (const panel of PANELS_OF[kind] || []) dirty.add(panel);
}
var refreshLinks = debounce(() => {
  map.invalidateLinks();
  if (ui.selectedWorkload) focusWorkload(ui.selectedWorkload);
  repaintMap();
}, 500);
function showLogin(message) {
  const dialog = $("#login");
  $("#login-message").textContent = message || "";
  dialog.hidden = false;
  $("#login-token").focus();
}
$("#login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = $("#login-token").value.trim();
  if (!token) return;
  setToken(token);
  $("#login").hidden = true;
  start();
});
$("#sign-out").addEventListener("click", () => {
  setToken(null);
  if (streamAbort) streamAbort.abort();
  showLogin("Signed out.");
});
async function loadSnapshot() {
  const t0 = performance.now();
  const snapshot = await api("/dashboard/fleet");
  fleet.load(snapshot);
  stats.snapshotMs = performance.now() - t0;
  map.invalidateLinks();
  map.drawOverlay();
  markDirty(Object.keys(PANELS_OF));
  repaintPanels();
}
async function loadEvents() {
  try {
    const since = Math.max(0, fleet.revision - 500);
    const page = await api(`/events?since_revision=${since}&limit=200`);
    fleet.events = page.items.map((e) => ({
      id: e.id,
      time: e.time,
      type: e.type,
      reason: e.reason,
      message: e.message,
      object: `${e.involved_object.kind}/${e.involved_object.name}`
    }));
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
  }
}
function setLive(state, detail) {
  const el = $("#live");
  el.dataset.state = state;
  el.title = detail || "";
  $("#live-text").textContent = { live: "live", connecting: "connecting\u2026", offline: "reconnecting\u2026" }[state];
}
async function streamLoop() {
  let delay = 500;
  for (; ; ) {
    streamAbort = new AbortController();
    setLive("connecting");
    let reset = false;
    try {
      stats.connects++;
      await followStream(
        fleet.revision,
        (event, data) => {
          if (event === "hello") {
            setLive("live");
            delay = 500;
          } else if (event === "changes") onChanges(data);
          else if (event === "reset") reset = true;
        },
        streamAbort.signal
      );
    } catch (err) {
      if (err instanceof Unauthorized) {
        showLogin("The token was refused; sign in again.");
        return;
      }
      if (streamAbort.signal.aborted) return;
    }
    setLive("offline");
    if (reset) {
      stats.resets++;
      try {
        await loadSnapshot();
        continue;
      } catch {
      }
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1e4);
  }
}
function onChanges(message) {
  const t0 = performance.now();
  const touched = fleet.apply(message);
  stats.messages++;
  stats.records += message.changes.length;
  if (touched.has("Node")) repaintMap();
  if (touched.has("Instance") || touched.has("Workload")) {
    refreshLinks();
    if (ui.selectedWorkload) reloadWorkloadInstances();
  }
  if (touched.has("Alert")) refreshAlerts();
  if (touched.has("Migration")) refreshMigrations();
  markDirty(touched);
  repaintPanels();
  stats.lastApplyMs = performance.now() - t0;
  stats.applyMs += stats.lastApplyMs;
  stats.lastAppliedAt = Date.now();
  stats.lastRecords = message.changes.length;
  document.body.dataset.revision = String(fleet.revision);
}
async function listOrUnavailable(path) {
  try {
    const body = await api(path);
    return { items: Array.isArray(body) ? body : body.items || [] };
  } catch (err) {
    if (err instanceof NotAvailable) return { unavailable: true, items: [] };
    if (err instanceof Unauthorized) throw err;
    return { error: String(err.message || err), items: [] };
  }
}
var migrationsTimer = null;
var alertsTimer = null;
var refreshAlerts = debounce(async () => {
  const result = await listOrUnavailable("/alerts?limit=100");
  renderAlerts(result);
  clearTimeout(alertsTimer);
  if (!result.unavailable) alertsTimer = setTimeout(refreshAlerts, 3e4);
}, 500);
var refreshMigrations = debounce(async () => {
  const [running, pending] = await Promise.all(
    ["running", "pending"].map((state) => listOrUnavailable(`/migrations?state=${state}&limit=1000`))
  );
  const result = running.unavailable || running.error ? running : { items: [...running.items, ...pending.items] };
  renderMigrations(fleet, result);
  clearTimeout(migrationsTimer);
  if (!result.unavailable) migrationsTimer = setTimeout(refreshMigrations, result.items.length ? 2e3 : 3e4);
}, 300);
function selectNode(node, focus = false) {
  ui.selectedNode = node ? node.id : null;
  map.selectedNode = ui.selectedNode;
  if (node && focus) map.focusOn(node.lon, node.lat, 4);
  renderNodeCard(fleet, node, () => selectNode(null), selectWorkload);
  map.drawOverlay();
}
function focusWorkload(id) {
  const nodes = fleet.instancesOf(id).map((i) => i.node_id).filter(Boolean);
  map.setFocus(id, nodes);
}
function selectWorkload(id) {
  ui.selectedWorkload = id;
  ui.selectedInstance = null;
  ui.analysis = null;
  ui.workloadInstances = /* @__PURE__ */ new Map();
  map.setCandidates([]);
  if (id) {
    focusWorkload(id);
    reloadWorkloadInstances();
  } else map.setFocus(null, []);
  renderTopology(fleet, ui.selectedWorkload, selectWorkload, (node) => selectNode(node, true));
  renderExplanationPanel();
}
var reloadWorkloadInstances = debounce(async () => {
  const id = ui.selectedWorkload;
  if (!id) return;
  try {
    const page = await api(`/instances?workload=${encodeURIComponent(id)}&limit=1000`);
    if (ui.selectedWorkload !== id) return;
    ui.workloadInstances = new Map(page.items.map((i) => [i.metadata.id, i]));
    if (!ui.selectedInstance && page.items.length) ui.selectedInstance = page.items[0].metadata.id;
    renderExplanationPanel();
  } catch {
  }
}, 300);
function renderExplanationPanel() {
  renderExplanation(fleet, ui.selectedWorkload, ui.analysis, {
    selectedInstance: ui.selectedInstance,
    instanceDetail: ui.selectedInstance ? ui.workloadInstances.get(ui.selectedInstance) : null,
    onWorkload: selectWorkload,
    onInstance: (iid) => {
      ui.selectedInstance = iid;
      renderExplanationPanel();
    },
    onAnalyze: analyze
  });
}
async function analyze(workload) {
  try {
    ui.analysis = await api("/placement/analyze", { method: "POST", body: { workload: workload.id, top_k: 10 } });
    map.setCandidates((ui.analysis.candidates || []).map((c) => c.node_id));
  } catch (err) {
    ui.analysis = { error: `analysis failed: ${err.message || err}` };
  }
  renderExplanationPanel();
}
function zoomToRegion(region) {
  const c = fleet.regionCentroid(region);
  if (c) map.focusOn(c.lon, c.lat, 4);
}
$("#search").addEventListener("change", (e) => {
  const q = e.target.value.trim();
  if (!q) return;
  const node = fleet.findNode(q);
  if (node) return selectNode(node, true);
  for (const w of fleet.workloads.values()) if (w.name === q) return selectWorkload(w.id);
  e.target.setCustomValidity(`no node or workload named ${q}`);
  e.target.reportValidity();
  setTimeout(() => e.target.setCustomValidity(""), 2e3);
});
for (const button of document.querySelectorAll("[data-mode]")) {
  button.addEventListener("click", () => {
    for (const b of document.querySelectorAll("[data-mode]")) b.classList.toggle("on", b === button);
    map.setMode(button.dataset.mode);
  });
}
$("#zoom-in").addEventListener("click", () => map.zoomAt(2, map.width / 2, map.height / 2));
$("#zoom-out").addEventListener("click", () => map.zoomAt(0.5, map.width / 2, map.height / 2));
$("#zoom-reset").addEventListener("click", () => map.resetView());
async function start() {
  const t0 = performance.now();
  try {
    if (!map) {
      map = new WorldMap($("#map"), fleet, {
        onHover: (node, x, y) => renderTooltip(node, x, y),
        onSelect: (node) => selectNode(node)
      });
    }
    await loadSnapshot();
    await loadEvents();
    stats.firstDrawMs = performance.now() - t0;
    stats.loadMs = performance.now();
    document.body.dataset.ready = "true";
    document.body.dataset.revision = String(fleet.revision);
    markDirty(["Event"]);
    repaintPanels();
    refreshAlerts();
    refreshMigrations();
    streamLoop();
  } catch (err) {
    if (err instanceof Unauthorized) showLogin("The token was refused; sign in again.");
    else {
      $("#fatal").hidden = false;
      $("#fatal").textContent = `The dashboard could not load the fleet: ${err.message || err}`;
    }
  }
}
window.edgeorchDashboard = {
  fleet,
  stats,
  mapStats: () => map && map.stats,
  // The map itself, for the benchmark's pan loop (bench/dashboard_scale.py).
  get map() {
    return map;
  },
  describeNode: (name) => map && map.describeNode(name),
  pixelAt: (name) => map && map.pixelAt(name),
  probe: (name) => map && map.probe(name),
  selectWorkload: (name) => {
    for (const w of fleet.workloads.values()) if (w.name === name) return selectWorkload(w.id);
  }
};
if (takeTokenFromUrl()) start();
else showLogin();
