// The panels around the map: header counts, capacity heatmap, workload topology, placement
// explanation, alerts, migrations, events, the hover tooltip and the node card. Each render
// function rebuilds its panel from the fleet state; they run debounced, never per change.
import { ago, clock, h, pct, replace } from "./dom.js";
import { STATE_COLORS, textOn, utilColor } from "./colors.js";
import { nodeUtil } from "./map.js";
import { STATES, UTIL_FIELDS } from "./state.js";

const INSTANCE_COLORS = {
  running: STATE_COLORS.ready,
  starting: "#60a5fa",
  pending: STATE_COLORS.pending,
  stopping: "#a78bfa",
  stopped: "#64748b",
  failed: STATE_COLORS.down,
  lost: "#f97316",
  unknown: STATE_COLORS.suspect,
};
const MAX_INSTANCE_CHIPS = 24;
const MAX_WORKLOAD_ROWS = 200;

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

// -- header ---------------------------------------------------------------------------------

export function renderHeader(fleet) {
  const counts = fleet.counts();
  replace(
    document.getElementById("counts"),
    STATES.map((s) => h("span", { class: "count", dataset: { state: s } }, stateDot(s), ` ${counts[s] || 0} ${s}`)),
    h("span", { class: "count muted" }, `${fleet.workloads.size} workloads · ${fleet.instances.size} instances`),
  );
  document.getElementById("revision").textContent = `rev ${fleet.revision}`;
  const legend = document.getElementById("legend-counts");
  if (legend) {
    replace(legend, STATES.map((s) => h("span", {}, stateDot(s), ` ${s} ${counts[s] || 0}`)));
  }
}

// -- capacity heatmap -------------------------------------------------------------------------

export function renderHeatmap(fleet, onRegion) {
  const rows = fleet.regions();
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
    UTIL_FIELDS.map((f) => h("th", { class: "num" }, { cpu: "cpu", memory: "mem", storage: "disk", bandwidth: "net" }[f])),
  );
  const trs = rows.map((row) =>
    h(
      "tr",
      { onclick: () => onRegion(row.region), title: `zoom to ${row.region}` },
      h(
        "td",
        { class: "region" },
        row.region,
        row.notReady ? h("span", { class: "down-count", title: `${row.notReady} suspect or down` }, String(row.notReady)) : null,
      ),
      h("td", { class: "num", title: "ready / all nodes" }, `${row.ready}/${row.nodes}`),
      row.util.map((u) => {
        if (u === null) return h("td", { class: "cell na" }, "–");
        const bg = utilColor(u);
        return h("td", { class: "cell", style: `background:${bg};color:${textOn(bg)}` }, pct(u));
      }),
    ),
  );
  replace(body, h("table", { class: "heat" }, h("thead", {}, head), h("tbody", {}, trs)));
}

// -- workload topology -----------------------------------------------------------------------

export function renderTopology(fleet, selectedWorkload, onWorkload, onNode) {
  const body = document.getElementById("topology");
  const workloads = [...fleet.workloads.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (!workloads.length) {
    replace(body, h("p", { class: "empty" }, "No workloads yet."));
    return;
  }
  const byWorkload = new Map();
  for (const inst of fleet.instances.values()) {
    if (!byWorkload.has(inst.workload_id)) byWorkload.set(inst.workload_id, []);
    byWorkload.get(inst.workload_id).push(inst);
  }
  const items = workloads.slice(0, MAX_WORKLOAD_ROWS).map((w) => {
    const insts = (byWorkload.get(w.id) || []).sort((a, b) => a.replica - b.replica);
    const running = insts.filter((i) => i.state === "running").length;
    const desired = w.desired || w.replicas || 0;
    const chips = insts.slice(0, MAX_INSTANCE_CHIPS).map((inst) => {
      const node = inst.node_id ? fleet.nodes.get(inst.node_id) : null;
      return h(
        "button",
        {
          class: "chip",
          title: `${inst.name}: ${inst.state}${node ? ` on ${node.name} (${node.state})` : ", not bound"}`,
          onclick: (e) => {
            e.stopPropagation();
            if (node) onNode(node);
          },
        },
        dot(INSTANCE_COLORS[inst.state] || STATE_COLORS.pending, inst.state),
        `r${inst.replica} `,
        h("span", { class: "arrow" }, "→ "),
        node ? [stateDot(node.state), ` ${node.name}`] : h("span", { class: "muted" }, "unbound"),
      );
    });
    const more = insts.length > MAX_INSTANCE_CHIPS ? h("span", { class: "muted" }, ` +${insts.length - MAX_INSTANCE_CHIPS} more`) : null;
    return h(
      "li",
      {
        class: `workload${w.id === selectedWorkload ? " selected" : ""}`,
        onclick: () => onWorkload(w.id),
        dataset: { workload: w.name },
      },
      h(
        "div",
        { class: "wl-head" },
        h("strong", {}, w.name),
        h("span", { class: "tag" }, w.runtime),
        h("span", { class: running < desired ? "warn" : "ok" }, `${running}/${desired} running`),
        w.users.length || w.user_regions.length
          ? h("span", { class: "tag pop", title: "user populations" }, `${w.users.length + w.user_regions.length} pop.`)
          : null,
      ),
      h("div", { class: "chips" }, chips, more),
    );
  });
  const rest = workloads.length > MAX_WORKLOAD_ROWS ? h("p", { class: "muted" }, `${workloads.length - MAX_WORKLOAD_ROWS} more workloads not shown`) : null;
  replace(body, h("ul", { class: "topology" }, items), rest);
}

// -- placement explanation -------------------------------------------------------------------

export function renderExplanation(fleet, workloadId, analysis, handlers) {
  const body = document.getElementById("explain");
  const select = h(
    "select",
    { id: "explain-select", onchange: (e) => handlers.onWorkload(e.target.value || null) },
    h("option", { value: "" }, "choose a workload…"),
    [...fleet.workloads.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((w) => h("option", { value: w.id, selected: w.id === workloadId }, w.name)),
  );
  const w = workloadId ? fleet.workloads.get(workloadId) : null;
  if (!w) {
    replace(body, h("div", { class: "explain-bar" }, select), h("p", { class: "empty" }, "Pick a workload to see why its replicas run where they do."));
    return;
  }
  const insts = fleet.instancesOf(w.id);
  const analyse = h("button", { class: "btn", onclick: () => handlers.onAnalyze(w) }, "analyse now");
  const rows = insts.map((inst) => {
    const node = inst.node_id ? fleet.nodes.get(inst.node_id) : null;
    return h(
      "tr",
      { class: inst.id === handlers.selectedInstance ? "selected" : "", onclick: () => handlers.onInstance(inst.id) },
      h("td", {}, `r${inst.replica}`),
      h("td", {}, node ? [stateDot(node.state), ` ${node.name}`] : "–"),
      h("td", {}, dot(INSTANCE_COLORS[inst.state] || STATE_COLORS.pending), ` ${inst.state}`),
      h("td", { class: "num" }, inst.score === null || inst.score === undefined ? "–" : inst.score.toFixed(3)),
    );
  });
  const parts = [
    h("div", { class: "explain-bar" }, select, analyse),
    h(
      "p",
      { class: "muted" },
      `${w.runtime} · ${w.running}/${w.desired} running`,
      w.max_latency_ms ? ` · SLA ${w.max_latency_ms} ms` : "",
      ` · ${fleet.populations(w).length} user population(s)`,
      w.message ? ` · ${w.message}` : "",
    ),
    insts.length
      ? h("table", { class: "list" }, h("thead", {}, h("tr", {}, h("th", {}, "replica"), h("th", {}, "node"), h("th", {}, "state"), h("th", { class: "num" }, "score"))), h("tbody", {}, rows))
      : h("p", { class: "empty" }, "No instances placed."),
  ];
  if (handlers.instanceDetail) parts.push(renderInstanceDetail(fleet, handlers.instanceDetail));
  if (analysis) parts.push(renderAnalysis(analysis));
  replace(body, parts);
}

function renderInstanceDetail(fleet, inst) {
  const ex = inst.status?.explanation || {};
  if (!ex.candidates) {
    return h("div", { class: "why" }, h("h4", {}, `Why ${inst.metadata.name}`), h("p", { class: "muted" }, "This instance carries no placement explanation (it was placed before explanations were recorded, or by hand)."));
  }
  const name = (id) => fleet.nodes.get(id)?.name || id.slice(0, 8);
  return h(
    "div",
    { class: "why", dataset: { instance: inst.metadata.name } },
    h("h4", {}, `Why ${inst.metadata.name} runs on ${name(ex.node_id)}`),
    h(
      "p",
      { class: "muted" },
      `score ${fmt(ex.score)}`,
      ex.latency_ms !== null && ex.latency_ms !== undefined ? ` · est. latency ${fmt(ex.latency_ms, 1)} ms` : "",
      ` · ${ex.feasible_nodes} of ${ex.total_nodes} nodes feasible`,
      ex.reason ? ` · placed for: ${ex.reason} replica` : "",
    ),
    renderFilters(ex.filters || [], ex.total_nodes),
    renderCandidates(
      (ex.candidates || []).map((c) => ({ ...c, node_name: name(c.node_id) })),
      ex.weights,
      ex.node_id,
    ),
  );
}

function renderAnalysis(a) {
  if (a.error) return h("div", { class: "why" }, h("p", { class: "warn" }, a.error));
  return h(
    "div",
    { class: "why", id: "analysis" },
    h("h4", {}, a.placeable ? "Analysis now: placeable" : "Analysis now: NOT placeable"),
    h("p", { class: "muted" }, `${a.feasible_nodes} of ${a.total_nodes} nodes feasible · decided in ${fmt(a.decision_ms, 1)} ms · revision ${a.revision}`),
    renderFilters(a.filters || [], a.total_nodes),
    renderCandidates(a.candidates || [], a.weights, null),
    (a.blocking || []).length ? h("p", { class: "warn" }, `blocking: ${a.blocking.join(", ")}`) : null,
    (a.hints || []).map((hint) => h("p", { class: "hint" }, `hint: ${hint.message}`)),
    (a.notes || []).map((note) => h("p", { class: "muted" }, note)),
  );
}

function renderFilters(filters, total) {
  const removing = filters.filter((f) => f.removed > 0);
  if (!removing.length) return h("p", { class: "muted" }, "No filter removed any node.");
  return h(
    "div",
    { class: "filters" },
    h("div", { class: "sub" }, "filters (nodes removed)"),
    removing.map((f) =>
      h("div", { class: "frow", title: f.reason || "" }, h("span", { class: "fname" }, f.name), bar(f.removed / Math.max(total || 1, 1), "#f97316"), h("span", { class: "num" }, String(f.removed))),
    ),
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
      h("tr", {}, h("th", {}, "candidate"), h("th", { class: "num" }, "score"), terms.map((t) => h("th", { title: `weight ${weights?.[t] ?? "?"}` }, t)), latency ? h("th", { class: "num", title: "estimated round trip" }, "ms") : null),
    ),
    h(
      "tbody",
      {},
      candidates.slice(0, 10).map((c) =>
        h(
          "tr",
          { class: c.node_id === chosen ? "chosen" : "" },
          h("td", {}, c.node_name || c.node_id),
          h("td", { class: "num" }, fmt(c.score)),
          terms.map((t) => h("td", { title: fmt(c.terms[t]) }, bar(c.terms[t], "#38bdf8"))),
          latency ? h("td", { class: "num" }, typeof c.latency_ms === "number" ? fmt(c.latency_ms, 1) : "–") : null,
        ),
      ),
    ),
  );
}

function fmt(x, digits = 3) {
  return typeof x === "number" ? x.toFixed(digits) : "–";
}

// -- alerts, migrations, events ---------------------------------------------------------------

const SEVERITY_COLORS = { critical: STATE_COLORS.down, warning: STATE_COLORS.suspect, info: "#60a5fa" };

export function renderAlerts(result) {
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
      h("div", {}, h("div", {}, a.summary || a.rule || "alert"), h("div", { class: "muted small" }, `${a.severity || ""} · ${a.rule || ""} · ${subject} · ${when}`)),
    );
  };
  replace(body, h("ul", { class: "feed" }, firing.map(row), resolved.map(row)));
}

// A migration is in progress while its state is pending or running (schemas/migration.py).
export function migrationActive(m) {
  const state = m.status?.state;
  return state === "pending" || state === "running";
}

export function renderMigrations(fleet, result) {
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
  const nodeName = (id) => fleet.nodes.get(id)?.name || (id ? id.slice(0, 8) : "?");
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
          h("div", { class: "muted small" }, `${nodeName(m.spec.source_node_id)} → ${nodeName(m.spec.target_node_id)} · ${m.status.phase.replace("_", " ")}`),
          h("div", { class: "progress" }, bar(progress / 100, "#38bdf8"), h("span", { class: "num" }, `${Math.round(progress)}%`)),
        );
      }),
    ),
  );
}

export function renderEvents(fleet) {
  const body = document.getElementById("events");
  const recent = fleet.events.slice(-60).reverse();
  if (!recent.length) {
    replace(body, h("p", { class: "empty" }, "No events yet."));
    return;
  }
  replace(
    body,
    h(
      "ul",
      { class: "feed" },
      recent.map((e) =>
        h(
          "li",
          { class: `event ${e.type === "Warning" ? "warning" : ""}` },
          h("span", { class: "time" }, clock(e.time)),
          h("span", { class: "reason" }, e.reason),
          h("span", { class: "msg" }, e.message),
        ),
      ),
    ),
  );
}

// -- tooltip and node card -------------------------------------------------------------------

export function renderTooltip(node, x, y) {
  const tip = document.getElementById("tooltip");
  if (!node) {
    tip.hidden = true;
    return;
  }
  replace(
    tip,
    h("div", { class: "tt-title" }, stateDot(node.state), ` ${node.name}`),
    h("div", { class: "muted" }, `${node.state}${node.scheduling !== "enabled" ? ` · ${node.scheduling}` : ""} · ${node.edge_type} · ${node.region} · ${node.country}`),
    UTIL_FIELDS.map((f, i) => h("div", { class: "tt-row" }, h("span", { class: "fname" }, f), bar(node.util[i], utilColor(node.util[i])), h("span", { class: "num" }, pct(node.util[i])))),
    h("div", { class: "muted" }, `${node.instances} instance(s) · ${node.cpu} vCPU · ${Math.round(node.memory_mb / 1024)} GB`),
  );
  tip.hidden = false;
  const pad = 14;
  const w = tip.offsetWidth;
  const hgt = tip.offsetHeight;
  tip.style.left = `${Math.min(x + pad, window.innerWidth - w - 4)}px`;
  tip.style.top = `${Math.min(y + pad, window.innerHeight - hgt - 4)}px`;
}

export function renderNodeCard(fleet, node, onClose, onWorkload) {
  const card = document.getElementById("node-card");
  if (!node) {
    card.hidden = true;
    return;
  }
  const insts = [...fleet.instances.values()].filter((i) => i.node_id === node.id);
  replace(
    card,
    h("button", { class: "close", onclick: onClose, title: "close" }, "×"),
    h("div", { class: "tt-title" }, stateDot(node.state), ` ${node.name}`),
    h("div", { class: "muted" }, `${node.state} · ${node.edge_type} · ${node.region} · ${node.country} · ${node.lat.toFixed(2)}, ${node.lon.toFixed(2)}`),
    node.last_heartbeat ? h("div", { class: "muted" }, `last heartbeat ${ago(node.last_heartbeat)}`) : null,
    UTIL_FIELDS.map((f, i) => h("div", { class: "tt-row" }, h("span", { class: "fname" }, f), bar(node.util[i], utilColor(node.util[i])), h("span", { class: "num" }, pct(node.util[i])))),
    h("div", { class: "sub" }, `${insts.length} instance(s) · utilization ${pct(nodeUtil(node))}`),
    h(
      "ul",
      { class: "feed small" },
      insts.slice(0, 30).map((i) => {
        const w = fleet.workloads.get(i.workload_id);
        return h("li", { class: "link", onclick: () => onWorkload(i.workload_id) }, dot(INSTANCE_COLORS[i.state] || STATE_COLORS.pending, i.state), ` ${i.name} (${w ? w.name : "?"}) ${i.state}`);
      }),
    ),
  );
  card.hidden = false;
}
