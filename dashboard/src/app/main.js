// The dashboard's entry point: sign in, load the fleet, follow the change stream, and keep the
// map and the panels in step. window.edgeorchDashboard exposes the state and a few read-only
// probes for the browser tests and the benchmark (nothing there changes the server).
import { api, followStream, NotAvailable, setToken, takeTokenFromUrl, Unauthorized } from "./api.js";
import { $, debounce, perFrame } from "./dom.js";
import { WorldMap } from "./map.js";
import {
  renderAlerts,
  renderEvents,
  renderExplanation,
  renderHeader,
  renderHeatmap,
  renderMigrations,
  renderNodeCard,
  renderTooltip,
  renderTopology,
} from "./panels.js";
import { Fleet } from "./state.js";

const fleet = new Fleet();
const ui = {
  selectedWorkload: null,
  selectedInstance: null,
  workloadInstances: new Map(), // full Instance objects (with explanations) of the selected workload
  analysis: null,
  selectedNode: null,
};
const stats = {
  loadMs: 0,
  snapshotMs: 0,
  firstDrawMs: 0,
  messages: 0,
  records: 0,
  applyMs: 0,
  lastApplyMs: 0,
  resets: 0,
  connects: 0,
};
let map = null;
let streamAbort = null;

const repaintMap = perFrame(() => map && map.drawOverlay());
// Panels are rebuilt from the fleet state, at most a few times a second, and only those whose
// data changed ("dirty"); the placement panel is left alone while its workload menu is open.
const dirty = new Set(["header", "heatmap", "topology", "explain", "events", "card"]);
const repaintPanels = debounce(() => {
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
const PANELS_OF = {
  Node: ["header", "heatmap", "topology", "card"],
  Instance: ["header", "topology", "explain", "card"],
  Workload: ["header", "topology", "explain"],
  Event: ["events"],
};
function markDirty(kinds) {
  for (const kind of kinds) for (const panel of PANELS_OF[kind] || []) dirty.add(panel);
}
const refreshLinks = debounce(() => {
  map.invalidateLinks();
  if (ui.selectedWorkload) focusWorkload(ui.selectedWorkload);
  repaintMap();
}, 500);

// -- sign in ------------------------------------------------------------------------------------

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

// -- loading and the stream ---------------------------------------------------------------------

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
      object: `${e.involved_object.kind}/${e.involved_object.name}`,
    }));
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
  }
}

function setLive(state, detail) {
  const el = $("#live");
  el.dataset.state = state;
  el.title = detail || "";
  $("#live-text").textContent = { live: "live", connecting: "connecting…", offline: "reconnecting…" }[state];
}

async function streamLoop() {
  let delay = 500;
  for (;;) {
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
        streamAbort.signal,
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
        /* retry below */
      }
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10000);
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
  stats.lastAppliedAt = Date.now(); // wall clock, comparable with the benchmark's
  stats.lastRecords = message.changes.length;
  document.body.dataset.revision = String(fleet.revision);
}

// -- alerts and migrations (other endpoints; absent on servers without them) --------------------

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

let migrationsTimer = null;
let alertsTimer = null;
const refreshAlerts = debounce(async () => {
  const result = await listOrUnavailable("/alerts?limit=100");
  renderAlerts(result);
  // A safety net: firing and resolving are announced by events, which the stream carries.
  clearTimeout(alertsTimer);
  if (!result.unavailable) alertsTimer = setTimeout(refreshAlerts, 30000);
}, 500);
const refreshMigrations = debounce(async () => {
  // Only the active ones: finished migrations can number thousands.
  const [running, pending] = await Promise.all(
    ["running", "pending"].map((state) => listOrUnavailable(`/migrations?state=${state}&limit=1000`)),
  );
  const result = running.unavailable || running.error ? running : { items: [...running.items, ...pending.items] };
  renderMigrations(fleet, result);
  // Progress moves between the phase changes the stream reports: poll while something moves.
  clearTimeout(migrationsTimer);
  if (!result.unavailable) migrationsTimer = setTimeout(refreshMigrations, result.items.length ? 2000 : 30000);
}, 300);

// -- selection ----------------------------------------------------------------------------------

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
  ui.workloadInstances = new Map();
  map.setCandidates([]);
  if (id) {
    focusWorkload(id);
    reloadWorkloadInstances();
  } else map.setFocus(null, []);
  renderTopology(fleet, ui.selectedWorkload, selectWorkload, (node) => selectNode(node, true));
  renderExplanationPanel();
}

const reloadWorkloadInstances = debounce(async () => {
  const id = ui.selectedWorkload;
  if (!id) return;
  try {
    const page = await api(`/instances?workload=${encodeURIComponent(id)}&limit=1000`);
    if (ui.selectedWorkload !== id) return;
    ui.workloadInstances = new Map(page.items.map((i) => [i.metadata.id, i]));
    if (!ui.selectedInstance && page.items.length) ui.selectedInstance = page.items[0].metadata.id;
    renderExplanationPanel();
  } catch {
    /* the panel keeps what it had */
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
    onAnalyze: analyze,
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

// -- search -------------------------------------------------------------------------------------

$("#search").addEventListener("change", (e) => {
  const q = e.target.value.trim();
  if (!q) return;
  const node = fleet.findNode(q);
  if (node) return selectNode(node, true);
  for (const w of fleet.workloads.values()) if (w.name === q) return selectWorkload(w.id);
  e.target.setCustomValidity(`no node or workload named ${q}`);
  e.target.reportValidity();
  setTimeout(() => e.target.setCustomValidity(""), 2000);
});

// -- boot ---------------------------------------------------------------------------------------

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
        onSelect: (node) => selectNode(node),
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
  },
};

if (takeTokenFromUrl()) start();
else showLogin();
