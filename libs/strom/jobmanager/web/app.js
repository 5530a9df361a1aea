// Strom web UI: plain JS, no build step. Hash routes (#/overview, #/jobs, #/jobs/<jid>/<tab>,
// #/taskmanagers), one function per page. A page builds its DOM once and returns a refresh()
// that the poller calls every REFRESH_MS while the tab is visible. The JobManager's REST API
// (Flink's shapes) needs a bearer token: asked once, kept in sessionStorage, never in a URL.
"use strict";

const REFRESH_MS = 1500;
const TOKEN_KEY = "strom.rest-token";
const JOB_TABS = [["graph", "Overview"], ["checkpoints", "Checkpoints"], ["exceptions", "Exceptions"],
                  ["watermarks", "Watermarks"]];

// ---------------------------------------------------------------------------------------------
// REST

class Unauthorized extends Error {}
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new Unauthorized("no token");
  // Relative path (no leading slash), so a proxy prefix in front of the JobManager still works.
  // redirect "manual": a standby answers 307 to the leader, and the browser would not carry the
  // token there anyway (cross-origin), so say so instead of failing obscurely.
  let res;
  try {
    res = await fetch(path.replace(/^\//, ""), {
      headers: {Authorization: "Bearer " + token, Accept: "application/json"},
      cache: "no-store", redirect: "manual",
    });
  } catch (e) {
    throw new ApiError(0, "JobManager unreachable: " + e.message);
  }
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw new Unauthorized("token refused");
  }
  if (res.type === "opaqueredirect") {
    throw new ApiError(307, "this JobManager is a standby: open the leader's address (`strom status` shows it)");
  }
  if (!res.ok) {
    let message = res.status + " " + res.statusText;
    try { message = (await res.json()).errors.join("; "); } catch (_) { /* not our JSON error */ }
    throw new ApiError(res.status, message);
  }
  return res.json();
}

// For the optional, per-vertex endpoints: a 404 or 5xx there must not blank the whole page.
async function apiOr(path, fallback) {
  try {
    return await api(path);
  } catch (e) {
    if (e instanceof Unauthorized) throw e;
    return fallback;
  }
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------------------------------------
// DOM and formatting helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Re-render only when the data changed: keeps scroll, open <details> and text selection.
function renderIfChanged(el, data, render) {
  const key = JSON.stringify(data);
  if (el._rendered === key) return;
  el._rendered = key;
  fill(el, render(data));
}

function table(columns, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("div", {class: "empty"}, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map(([label, cls]) => h("th", {class: cls || null}, label)))),
    h("tbody", {}, rows));
}

function badge(state) {
  return h("span", {class: "badge " + state}, state);
}

function taskBadges(tasks) {
  return Object.entries(tasks || {}).filter(([, n]) => n > 0 && typeof n === "number")
    .map(([state, n]) => h("span", {class: "badge " + state, title: state}, `${n} ${state}`));
}

const none = (v) => v === null || v === undefined || v === -1;

function fmtTime(ms) {
  if (none(ms)) return "–";
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function fmtDuration(ms) {
  if (none(ms) || ms < 0) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  let s = Math.floor(ms / 1000);
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (s >= size) { parts.push(Math.floor(s / size) + unit); s %= size; }
  }
  if (!parts.length && ms < 10000) return (ms / 1000).toFixed(1) + " s";
  parts.push(s + "s");
  return parts.slice(0, 2).join(" ");
}

function fmtBytes(n) {
  if (none(n) || n === undefined) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + " " + units[i];
}

function fmtCount(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  if (Math.abs(n) >= 1e9) return (n / 1e9).toFixed(2) + " G";
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(2) + " M";
  if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + " k";
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

function fmtRate(n) {
  if (n === null || n === undefined) return "–";
  return fmtCount(Math.abs(n) >= 100 && Math.abs(n) < 1e4 ? Math.round(n) : n) + "/s";
}

// Watermarks come as strings of ms; Flink's "no watermark" is Long.MIN_VALUE, Strom's is -1.
function watermarkOf(value) {
  const ms = Number(value);
  return Number.isFinite(ms) && ms >= 0 ? ms : null;
}

function fmtWatermark(ms, now) {
  if (ms === null || ms === undefined) return "No watermark";
  return `${fmtTime(ms)} (${fmtDuration(Math.max(0, now - ms))} behind)`;
}

// ---------------------------------------------------------------------------------------------
// Sign-in: a modal form; the poller stops while it is open.

const login = {
  dialog: null,
  open() {
    const dialog = document.getElementById("login");
    const hadToken = login.tried;
    document.getElementById("login-error").hidden = !hadToken;
    document.getElementById("login-error").textContent = hadToken ? "The JobManager refused that token." : "";
    if (!dialog.open) dialog.showModal();
    document.getElementById("token").focus();
  },
  isOpen() { return document.getElementById("login").open; },
  tried: false,
};

function setupLogin() {
  const dialog = document.getElementById("login");
  dialog.addEventListener("cancel", (e) => e.preventDefault());  // Esc would leave a useless page
  document.getElementById("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = document.getElementById("token");
    const token = input.value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    input.value = "";
    login.tried = true;
    dialog.close();
    poller.now();
  });
  document.getElementById("forget-token").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    login.tried = false;
    login.open();
  });
}

// ---------------------------------------------------------------------------------------------
// Poller: refreshes the current page every REFRESH_MS while the tab is visible.

const poller = {
  page: null,      // {refresh}
  timer: null,
  running: null,   // the page whose refresh is under way

  show(page) {
    this.page = page;
    this.now();
  },

  async now() {
    clearTimeout(this.timer);
    const page = this.page;
    if (!page) return;
    if (document.visibilityState === "visible" && !login.isOpen() && this.running !== page) {
      this.running = page;
      try {
        await page.refresh();
        if (page === this.page) setStatus("Updated " + new Date().toLocaleTimeString());
      } catch (e) {
        if (e instanceof Unauthorized) {
          login.open();
        } else if (page === this.page) {
          setStatus(e instanceof ApiError ? e.message : "Web UI error: " + e.message, true);
          console.error(e);
        }
      } finally {
        if (this.running === page) this.running = null;
      }
    }
    if (page === this.page) {
      clearTimeout(this.timer);  // a now() during this refresh may have armed one already
      this.timer = setTimeout(() => this.now(), REFRESH_MS);
    }
  },
};

function setStatus(text, isError = false) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

// ---------------------------------------------------------------------------------------------
// Router

function route() {
  const hash = location.hash || "#/overview";
  const main = document.getElementById("main");
  main.replaceChildren();
  let m, page, nav;
  if ((m = hash.match(/^#\/jobs\/([^/]+)(?:\/(\w+))?$/))) {
    page = jobPage(main, decodeURIComponent(m[1]), m[2] || "graph");
    nav = "jobs";
  } else if (hash === "#/jobs") {
    page = jobsPage(main);
    nav = "jobs";
  } else if (hash === "#/taskmanagers") {
    page = taskManagersPage(main);
    nav = "taskmanagers";
  } else {
    page = overviewPage(main);
    nav = "overview";
  }
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === nav);
  poller.show(page);
}

// ---------------------------------------------------------------------------------------------
// Pages: cluster overview and job lists

function jobRows(jobs) {
  return jobs.map((job) => h("tr", {class: "clickable job", dataset: {jid: job.jid},
                                    onclick: () => { location.hash = `#/jobs/${enc(job.jid)}`; }},
    h("td", {}, h("a", {href: `#/jobs/${enc(job.jid)}`}, job.name)),
    h("td", {class: "mono"}, job.jid),
    h("td", {}, badge(job.state)),
    h("td", {}, fmtTime(job["start-time"])),
    h("td", {class: "num"}, fmtDuration(job.duration)),
    h("td", {}, fmtTime(job["end-time"])),
    h("td", {}, taskBadges(Object.fromEntries(Object.entries(job.tasks || {}).filter(([k]) => k !== "total"))))));
}

const JOB_COLUMNS = [["Name"], ["Job ID"], ["State"], ["Start"], ["Duration", "num"], ["End"], ["Tasks"]];
// A job in any other state may still run (CREATED, RUNNING, RESTARTING, RECONCILING, FAILING, CANCELING).
const TERMINAL = new Set(["FINISHED", "FAILED", "CANCELED"]);
const isActive = (job) => !TERMINAL.has(job.state);

function overviewPage(root) {
  document.title = "Strom · Overview";
  const cards = h("div", {class: "cards", id: "overview-cards"});
  const running = h("div");
  const done = h("div");
  append(root, [h("h1", {}, "Cluster overview"), h("div", {class: "muted", id: "overview-leader"}), h("br"),
    cards, h("div", {class: "panel"}, h("h2", {}, "Running jobs"), running),
    h("div", {class: "panel"}, h("h2", {}, "Completed jobs"), done)]);

  const card = (label, value, sub) => h("div", {class: "card"}, h("div", {class: "label"}, label),
    h("div", {class: "value"}, value), sub ? h("div", {class: "sub"}, sub) : null);

  return {
    async refresh() {
      const [ov, jobs] = await Promise.all([api("/overview"), api("/jobs/overview")]);
      renderIfChanged(cards, ov, () => [
        card("TaskManagers", ov.taskmanagers ?? "–"),
        card("Task slots", `${ov["slots-available"] ?? "–"} / ${ov["slots-total"] ?? "–"}`, "available / total"),
        card("Running jobs", ov["jobs-running"] ?? "–"),
        card("Finished", ov["jobs-finished"] ?? "–"),
        card("Cancelled", ov["jobs-cancelled"] ?? "–"),
        card("Failed", ov["jobs-failed"] ?? "–"),
      ]);
      fill(document.getElementById("overview-leader"),
        `Strom ${ov["strom-version"] || ""} · leader JobManager ${ov.leader || "–"}`);
      const list = jobs.jobs || [];
      renderIfChanged(running, list.filter(isActive),
        (l) => table(JOB_COLUMNS, jobRows(l), "No job is running."));
      renderIfChanged(done, list.filter((j) => !isActive(j)),
        (l) => table(JOB_COLUMNS, jobRows(l), "No job has ended yet."));
    },
  };
}

function jobsPage(root) {
  document.title = "Strom · Jobs";
  const list = h("div");
  append(root, [h("h1", {}, "Jobs"), h("div", {class: "panel"}, list)]);
  return {
    async refresh() {
      const jobs = (await api("/jobs/overview")).jobs || [];
      jobs.sort((a, b) => (b["start-time"] || 0) - (a["start-time"] || 0));
      renderIfChanged(list, jobs, (l) => table(JOB_COLUMNS, jobRows(l), "No job submitted yet."));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Page: one job. Header with state and a cancel button, then one tab.

function jobPage(root, jid, tab) {
  const base = `/jobs/${enc(jid)}`;
  const head = h("div", {class: "job-head"});
  const tabs = h("nav", {class: "tabs"}, JOB_TABS.map(([id, label]) =>
    h("a", {href: `#/jobs/${enc(jid)}/${id}`, class: id === tab ? "active" : null, dataset: {tab: id}}, label)));
  const body = h("div", {id: "tab-" + tab});
  append(root, [head, tabs, body]);
  const tabPage = {graph: graphTab, checkpoints: checkpointsTab, exceptions: exceptionsTab,
                   watermarks: watermarksTab}[tab] || graphTab;
  const content = tabPage(body, base);

  return {
    async refresh() {
      const job = await api(base);
      document.title = `Strom · ${job.name}`;
      renderJobHead(head, job, base);
      await content.refresh(job);
    },
  };
}

function renderJobHead(head, job, base) {
  // The duration ticks, so the facts are re-rendered each time; the button only on state change.
  const cancel = isActive(job) && job.state !== "CANCELING" && job.state !== "FAILING"
    ? h("button", {class: "danger", id: "cancel-job", onclick: () => cancelJob(base, job.name)}, "Cancel job") : null;
  renderIfChanged(head, {jid: job.jid, name: job.name, state: job.state, cancel: !!cancel}, () => [
    h("div", {},
      h("h1", {id: "job-name"}, job.name, " ", badge(job.state)),
      h("div", {class: "facts", id: "job-facts"})),
    h("div", {class: "actions"}, cancel)]);
  const now = job.now || Date.now();
  fill(head.querySelector("#job-facts"),
    h("span", {}, "Job ID ", h("b", {class: "mono"}, job.jid)),
    h("span", {}, "Started ", h("b", {}, fmtTime(job["start-time"]))),
    h("span", {}, "Duration ", h("b", {}, fmtDuration(none(job["end-time"]) ? now - job["start-time"] : job.duration))),
    none(job["end-time"]) ? null : h("span", {}, "Ended ", h("b", {}, fmtTime(job["end-time"]))),
    h("span", {}, "Restarts ", h("b", {}, job.restarts ?? 0)));
}

async function cancelJob(base, name) {
  if (!confirm(`Cancel job "${name}"?`)) return;
  const res = await fetch(base.replace(/^\//, "") + "?mode=cancel", {
    method: "PATCH", headers: {Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY)}, redirect: "manual"});
  if (res.status === 401) { sessionStorage.removeItem(TOKEN_KEY); login.open(); return; }
  if (!res.ok) setStatus(`Cancel failed: ${res.status}`, true);
  poller.now();
}

// Live figures of every vertex: records/s in and out (sum over subtasks), backpressure level
// and the lowest input watermark. One request per vertex and figure, in parallel.
async function vertexLive(base, vertices) {
  const live = await Promise.all(vertices.map(async (v) => {
    const vbase = `${base}/vertices/${enc(v.id)}`;
    const [metrics, bp, wms] = await Promise.all([
      apiOr(`${vbase}/subtasks/metrics?get=numRecordsInPerSecond,numRecordsOutPerSecond`, []),
      apiOr(`${vbase}/backpressure`, null),
      apiOr(`${vbase}/watermarks`, []),
    ]);
    const metric = (id) => {
      const m = (metrics || []).find((x) => x.id === id);
      return m ? Number(m.sum ?? m.avg ?? 0) : null;
    };
    const marks = (wms || []).filter((w) => w.id.endsWith(".currentInputWatermark"))
      .map((w) => ({subtask: Number(w.id.split(".")[0]), ms: watermarkOf(w.value)}));
    const known = marks.map((w) => w.ms).filter((ms) => ms !== null);
    return [v.id, {
      in: metric("numRecordsInPerSecond"), out: metric("numRecordsOutPerSecond"),
      backpressure: bp && bp["backpressure-level"] ? bp["backpressure-level"] : null,
      bpSubtasks: (bp && bp.subtasks) || [],
      watermarks: marks,
      // A task's watermark is the minimum of its inputs; the vertex's is the lowest of its subtasks.
      lowWatermark: marks.length && known.length === marks.length ? Math.min(...known) : null,
    }];
  }));
  return new Map(live);
}

// Edges of the job graph: each plan node lists its inputs (upstream vertex ids).
function planEdges(job) {
  const nodes = (job.plan && job.plan.nodes) || [];
  const edges = [];
  for (const node of nodes) {
    for (const input of node.inputs || []) edges.push({from: input.id, to: node.id, label: input.ship_strategy || ""});
  }
  return edges;
}

// ----- tab: graph + vertex table + subtasks of the selected vertex

function graphTab(body) {
  const wrap = h("div", {class: "graph-wrap"});
  const legend = h("div", {class: "legend"}, "Backpressure:", h("span", {class: "ok"}, "ok"),
    h("span", {class: "low"}, "low"), h("span", {class: "high"}, "high"), h("span", {}, "unknown"));
  const vertexTable = h("div");
  const subtaskPanel = h("div", {class: "panel", id: "subtasks", hidden: true});
  append(body, [wrap, legend, h("div", {class: "panel"}, h("h2", {}, "Vertices"), vertexTable), subtaskPanel]);

  let graph = null;     // {key, boxes: Map(id -> element)}
  let selected = null;  // vertex id whose subtasks are shown
  let last = null;      // {job, live}: to redraw at once on a click

  const select = (id) => {
    selected = selected === id ? null : id;
    if (last) draw(last.job, last.live);
  };

  function draw(job, live) {
    const vertices = job.vertices || [];
    const edges = planEdges(job);
    const key = JSON.stringify([vertices.map((v) => [v.id, v.name, v.parallelism]), edges]);
    if (!graph || graph.key !== key) graph = {key, boxes: drawGraph(wrap, vertices, edges, select)};
    for (const v of vertices) updateVertexBox(graph.boxes.get(v.id), v, live.get(v.id), v.id === selected);
    fitGraph(wrap);

    fill(vertexTable, table(
      [["Name"], ["Status"], ["Parallelism", "num"], ["Tasks"], ["Records received", "num"], ["Records sent", "num"],
       ["Bytes received", "num"], ["Bytes sent", "num"], ["In", "num"], ["Out", "num"], ["Backpressure"],
       ["Low watermark"]],
      vertices.map((v) => {
        const l = live.get(v.id) || {};
        const m = v.metrics || {};
        return h("tr", {class: "clickable vertex-row" + (v.id === selected ? " selected" : ""), dataset: {vertexId: v.id},
                        onclick: () => select(v.id)},
          h("td", {class: "vertex-row-name"}, v.name),
          h("td", {}, badge(v.status || "–")),
          h("td", {class: "num"}, v.parallelism),
          h("td", {}, taskBadges(v.tasks)),
          h("td", {class: "num"}, fmtCount(m["read-records"])),
          h("td", {class: "num"}, fmtCount(m["write-records"])),
          h("td", {class: "num"}, fmtBytes(m["read-bytes"])),
          h("td", {class: "num"}, fmtBytes(m["write-bytes"])),
          h("td", {class: "num rate-in"}, fmtRate(l.in)),
          h("td", {class: "num rate-out"}, fmtRate(l.out)),
          h("td", {}, l.backpressure ? badge(l.backpressure) : "–"),
          h("td", {}, l.lowWatermark !== null && l.lowWatermark !== undefined ? fmtTime(l.lowWatermark) : "–"));
      }), "The job has no vertices."));

    const vertex = vertices.find((v) => v.id === selected);
    subtaskPanel.hidden = !vertex;
    if (vertex) renderSubtasks(subtaskPanel, vertex, live.get(vertex.id) || {}, job.now || Date.now());
  }

  return {
    async refresh(job) {
      const live = await vertexLive(`/jobs/${enc(job.jid)}`, job.vertices || []);
      last = {job, live};
      draw(job, live);
    },
  };
}

// Lays the job graph out with dagre (left to right) and draws it: edges as SVG paths with arrow
// heads, vertices as HTML boxes placed at dagre's positions. Returns Map(vertex id -> box).
const BOX_W = 230;
const BOX_H = 122;

function drawGraph(wrap, vertices, edges, onSelect) {
  const g = new dagre.graphlib.Graph({multigraph: true});
  g.setGraph({rankdir: "LR", nodesep: 36, ranksep: 90, edgesep: 20, marginx: 24, marginy: 24});
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(vertices.map((v) => v.id));
  for (const v of vertices) g.setNode(v.id, {width: BOX_W, height: BOX_H});
  edges.forEach((e, i) => {
    if (ids.has(e.from) && ids.has(e.to)) {
      g.setEdge(e.from, e.to, {label: e.label, width: e.label.length * 7, height: 14, labelpos: "c"}, "e" + i);
    }
  });
  dagre.layout(g);
  const size = g.graph();

  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("width", size.width);
  svg.setAttribute("height", size.height);
  const defs = document.createElementNS(svgNS, "defs");
  defs.innerHTML = '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" ' +
    'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a9aab"/></marker>';
  svg.append(defs);
  for (const e of g.edges()) {
    const edge = g.edge(e);
    const path = document.createElementNS(svgNS, "path");
    path.setAttribute("class", "edge");
    path.setAttribute("d", smoothPath(edge.points));
    path.setAttribute("marker-end", "url(#arrow)");
    svg.append(path);
    if (edge.label) {
      const text = document.createElementNS(svgNS, "text");
      text.setAttribute("class", "edge-label");
      text.setAttribute("x", edge.x);
      text.setAttribute("y", edge.y + 4);
      text.setAttribute("text-anchor", "middle");
      text.textContent = edge.label;
      svg.append(text);
    }
  }

  const graph = h("div", {class: "graph", id: "job-graph", style: `width:${size.width}px;height:${size.height}px`});
  graph.append(svg);
  const boxes = new Map();
  for (const v of vertices) {
    const n = g.node(v.id);
    const box = h("div", {class: "vertex", dataset: {vertexId: v.id}, title: v.name,
                          style: `left:${n.x - BOX_W / 2}px;top:${n.y - BOX_H / 2}px;width:${BOX_W}px;height:${BOX_H}px`,
                          onclick: () => onSelect(v.id)},
      h("div", {class: "vertex-name"}, v.name),
      h("div", {class: "row"}, "Parallelism", h("b", {class: "parallelism"}, v.parallelism)),
      h("div", {class: "row"}, "In / Out",
        h("b", {}, h("span", {class: "rate-in"}, "–"), " / ", h("span", {class: "rate-out"}, "–"))),
      h("div", {class: "row"}, "Backpressure", h("b", {class: "bp"}, "–")),
      h("div", {class: "row"}, "Low watermark", h("b", {class: "watermark"}, "–")));
    boxes.set(v.id, box);
    graph.append(box);
  }
  fill(wrap, graph);
  return boxes;
}

// A curve through dagre's edge points: straight to the first, then quadratic segments through
// the midpoints, so bends are smooth without a curve library.
function smoothPath(points) {
  if (!points || !points.length) return "";
  let d = `M${points[0].x},${points[0].y}`;
  if (points.length === 2) return d + ` L${points[1].x},${points[1].y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i];
    const q = points[i + 1];
    const end = i === points.length - 2 ? q : {x: (p.x + q.x) / 2, y: (p.y + q.y) / 2};
    d += ` Q${p.x},${p.y} ${end.x},${end.y}`;
  }
  return d;
}

function updateVertexBox(box, vertex, live, selected) {
  if (!box) return;
  live = live || {};
  const level = live.backpressure || "none";
  box.className = `vertex bp-${level}` + (selected ? " selected" : "");
  box.dataset.backpressure = level;
  box.querySelector(".rate-in").textContent = fmtRate(live.in);
  box.querySelector(".rate-out").textContent = fmtRate(live.out);
  box.querySelector(".bp").textContent = live.backpressure || "–";
  box.querySelector(".parallelism").textContent = vertex.parallelism;
  const wm = live.lowWatermark;
  box.querySelector(".watermark").textContent = wm === null || wm === undefined ? "–" : fmtTime(wm).slice(11);
}

// Shrink a graph wider than the page to fit (down to half size; scroll beyond that). CSS zoom,
// unlike a transform, also shrinks the box the graph takes, so nothing is left blank below it.
function fitGraph(wrap) {
  const graph = wrap.firstElementChild;
  if (!graph) return;
  const width = parseFloat(graph.style.width);
  const room = wrap.clientWidth - 2;
  graph.style.zoom = width > room ? Math.max(0.5, room / width) : "";
}

function renderSubtasks(panel, vertex, live, now) {
  const bp = new Map((live.bpSubtasks || []).map((s) => [s.subtask, s]));
  const wm = new Map((live.watermarks || []).map((w) => [w.subtask, w.ms]));
  const pct = (x) => (x === undefined || x === null ? "–" : Math.round(x * 100) + " %");
  fill(panel, h("h2", {}, `Subtasks of ${vertex.name}`), table(
    [["Subtask", "num"], ["Status"], ["Attempt", "num"], ["TaskManager"], ["Backpressure"], ["Backpressured", "num"],
     ["Busy", "num"], ["Idle", "num"], ["Input watermark"]],
    (vertex.subtasks || []).map((s) => {
      const b = bp.get(s.subtask) || {};
      return h("tr", {},
        h("td", {class: "num"}, s.subtask),
        h("td", {}, badge(s.status)),
        h("td", {class: "num"}, s.attempt ?? "–"),
        h("td", {class: "mono"}, s["taskmanager-id"] || "–"),
        h("td", {}, b["backpressure-level"] ? badge(b["backpressure-level"]) : "–"),
        h("td", {class: "num"}, pct(b.ratio)),
        h("td", {class: "num"}, pct(b.busyRatio)),
        h("td", {class: "num"}, pct(b.idleRatio)),
        h("td", {}, wm.has(s.subtask) ? fmtWatermark(wm.get(s.subtask), now) : "–"));
    })));
}

// ----- tab: checkpoints (counts, latest, history; a row opens per-subtask acks of each vertex)

// A checkpoint as the tab reads it. History entries come in Flink's shape; Strom's "latest"
// ones are its store's records (trigger-time, completion-time, state-size, duration; a failure's
// id, reason and time), and a failed history entry has failure_timestamp, no trigger time.
function checkpointEntry(cp, status) {
  if (!cp) return null;
  const pick = (...keys) => keys.map((k) => cp[k]).find((v) => v !== undefined && v !== null) ?? null;
  return {
    id: cp.id, status: cp.status || status,
    is_savepoint: !!pick("is_savepoint", "is-savepoint"),
    trigger_timestamp: pick("trigger_timestamp", "trigger-time"),
    latest_ack_timestamp: pick("latest_ack_timestamp", "completion-time"),
    failure_timestamp: pick("failure_timestamp", "time"),
    state_size: pick("state_size", "state-size"),
    end_to_end_duration: pick("end_to_end_duration", "duration"),
    num_subtasks: pick("num_subtasks"),
    num_acknowledged_subtasks: pick("num_acknowledged_subtasks"),
    failure_message: pick("failure_message", "reason"),
  };
}

// The "Latest ack" cell: a failed checkpoint shows when it failed instead.
function ackOrFailure(cp) {
  if (cp.status === "FAILED" && cp.latest_ack_timestamp === null) {
    return cp.failure_timestamp === null ? "–" : h("span", {class: "muted"}, "failed ", fmtTime(cp.failure_timestamp));
  }
  return fmtTime(cp.latest_ack_timestamp);
}

function ackCount(cp) {
  if (cp.num_subtasks === null && cp.num_acknowledged_subtasks === null) return "–";
  return `${cp.num_acknowledged_subtasks ?? "–"} / ${cp.num_subtasks ?? "–"}`;
}

function checkpointsTab(body, base) {
  const counts = h("div", {class: "cards", id: "checkpoint-counts"});
  const latest = h("div", {class: "panel", id: "checkpoint-latest"});
  const history = h("div", {id: "checkpoint-history"});
  append(body, [counts, latest, h("div", {class: "panel"}, h("h2", {}, "History"),
    h("div", {class: "muted"}, "Newest first. Click a checkpoint for the acknowledgements of each subtask."), history)]);

  let open = null;              // checkpoint id whose details are shown
  const details = new Map();    // `${cid}/${vid}` -> subtask details of a finished checkpoint
  let last = null;

  async function loadDetails(job, cp) {
    const final = cp.status !== "IN_PROGRESS";
    await Promise.all((job.vertices || []).map(async (v) => {
      const key = `${cp.id}/${v.id}`;
      if (final && details.has(key)) return;  // a finished checkpoint's acks do not change
      details.set(key, await apiOr(`${base}/checkpoints/details/${enc(cp.id)}/subtasks/${enc(v.id)}`, null));
    }));
  }

  function render(job, stats) {
    const c = stats.counts || {};
    const card = (label, value) => h("div", {class: "card"}, h("div", {class: "label"}, label), h("div", {class: "value"}, value ?? "–"));
    renderIfChanged(counts, c, () => [card("Completed", c.completed), card("Failed", c.failed),
      card("In progress", c.in_progress), "restored" in c ? card("Restored", c.restored) : null, card("Total", c.total)]);

    // Latest: the history's entry of the same id where it has one (Flink's shape throughout).
    const entries = (stats.history || []).map((cp) => checkpointEntry(cp));
    const latestOf = (cp, status) => cp && (entries.find((e) => e.id === cp.id) || checkpointEntry(cp, status));
    const l = stats.latest || {};
    const latestRows = [["Completed", latestOf(l.completed, "COMPLETED")], ["Failed", latestOf(l.failed, "FAILED")]];
    const restored = job["restored-checkpoint"];
    renderIfChanged(latest, [latestRows, restored], () => [
      h("h2", {}, "Latest"),
      table([["Kind"], ["ID", "num"], ["Triggered"], ["Latest ack"], ["End to end", "num"], ["State size", "num"], ["Failure"]],
        latestRows.filter(([, cp]) => cp).map(([kind, cp]) => h("tr", {},
          h("td", {}, kind), h("td", {class: "num"}, cp.id), h("td", {}, fmtTime(cp.trigger_timestamp)),
          h("td", {}, ackOrFailure(cp)), h("td", {class: "num"}, fmtDuration(cp.end_to_end_duration)),
          h("td", {class: "num"}, fmtBytes(cp.state_size)), h("td", {class: "error"}, cp.failure_message || ""))),
        "No checkpoint has completed or failed yet."),
      none(restored) ? null : h("div", {class: "muted", id: "checkpoint-restored"},
        "This attempt restored from checkpoint ", typeof restored === "object" ? JSON.stringify(restored) : String(restored)),
    ]);

    const rows = [];
    for (const cp of entries) {
      rows.push(h("tr", {class: "clickable checkpoint" + (cp.id === open ? " selected" : ""),
                         dataset: {checkpointId: cp.id, status: cp.status},
                         onclick: () => { open = open === cp.id ? null : cp.id; update(); }},
        h("td", {class: "num checkpoint-id"}, cp.id),
        h("td", {}, badge(cp.status), cp.is_savepoint ? h("span", {class: "badge"}, "SAVEPOINT") : null),
        h("td", {}, fmtTime(cp.trigger_timestamp)),
        h("td", {}, ackOrFailure(cp)),
        h("td", {class: "num"}, fmtDuration(cp.end_to_end_duration)),
        h("td", {class: "num"}, fmtBytes(cp.state_size)),
        h("td", {class: "num"}, ackCount(cp)),
        h("td", {class: "error"}, cp.failure_message || "")));
      if (cp.id === open) rows.push(h("tr", {class: "detail"}, h("td", {colspan: 8}, checkpointDetails(job, cp))));
    }
    fill(history, table([["ID", "num"], ["Status"], ["Triggered"], ["Latest ack"], ["End to end", "num"],
      ["State size", "num"], ["Acknowledged", "num"], ["Failure"]], rows, "No checkpoint yet."));
  }

  function checkpointDetails(job, cp) {
    return (job.vertices || []).map((v) => {
      const d = details.get(`${cp.id}/${v.id}`);
      return [h("h3", {}, v.name), !d ? h("div", {class: "empty"}, "No details.") : table(
        [["Subtask", "num"], ["Status"], ["Acknowledged"], ["End to end", "num"], ["State size", "num"], ["Alignment", "num"]],
        (d.subtasks || []).map((s) => h("tr", {class: "checkpoint-subtask"},
          h("td", {class: "num"}, s.index),
          h("td", {}, s.status ? badge(String(s.status).toUpperCase()) : "–"),
          h("td", {}, fmtTime(s.ack_timestamp)),
          h("td", {class: "num"}, fmtDuration(s.end_to_end_duration)),
          h("td", {class: "num"}, fmtBytes(s.state_size)),
          h("td", {class: "num"}, fmtDuration(s.alignment && s.alignment.duration)))),
        "No subtask acknowledged.")];
    });
  }

  async function update() {
    if (!last) return;
    const cp = (last.stats.history || []).map((c) => checkpointEntry(c)).find((c) => c.id === open);
    if (cp) await loadDetails(last.job, cp);
    render(last.job, last.stats);
  }

  return {
    async refresh(job) {
      last = {job, stats: await api(`${base}/checkpoints`)};
      await update();
    },
  };
}

// ----- tab: exceptions and restarts

function exceptionsTab(body, base) {
  const root = h("div", {class: "panel", id: "root-exception"});
  const hist = h("div", {class: "panel", id: "exception-history"});
  append(body, [root, hist]);
  return {
    async refresh(job) {
      const ex = await api(`${base}/exceptions`);
      renderIfChanged(root, [ex["root-exception"], ex.timestamp, job.restarts, job.error], () => [
        h("h2", {}, "Root exception"),
        h("div", {class: "muted"}, `Restarts: ${job.restarts ?? 0}`,
          ex.timestamp && !none(ex.timestamp) ? ` · last failure ${fmtTime(ex.timestamp)}` : ""),
        ex["root-exception"] ? h("pre", {class: "trace"}, ex["root-exception"])
          : h("div", {class: "empty"}, "No failure so far.")]);
      const entries = (ex.exceptionHistory && ex.exceptionHistory.entries) || [];
      renderIfChanged(hist, entries, () => [
        h("h2", {}, "Exception history"),
        table([["Time"], ["Task"], ["Exception"]], entries.map((e) => h("tr", {class: "exception"},
          h("td", {}, fmtTime(e.timestamp)),
          h("td", {}, e.taskName || "–"),
          h("td", {}, h("details", {}, h("summary", {}, e.exceptionName || "(no message)"),
            h("pre", {class: "trace"}, e.stacktrace || ""))))), "No exception so far.")]);
    },
  };
}

// ----- tab: watermarks of every subtask, one table, grouped by vertex

function watermarksTab(body, base) {
  const panel = h("div", {class: "panel", id: "watermarks"});
  append(body, [panel]);
  return {
    async refresh(job) {
      const now = job.now || Date.now();
      const all = await Promise.all((job.vertices || []).map(async (v) =>
        [v, await apiOr(`${base}/vertices/${enc(v.id)}/watermarks`, [])]));
      const rows = [];
      for (const [v, wms] of all) {
        const marks = (wms || []).filter((w) => w.id.endsWith(".currentInputWatermark"))
          .map((w) => ({subtask: Number(w.id.split(".")[0]), ms: watermarkOf(w.value)}))
          .sort((a, b) => a.subtask - b.subtask);
        const name = (i) => (i === 0 ? h("td", {rowspan: Math.max(1, marks.length), class: "watermark-vertex"}, v.name) : null);
        if (!marks.length) rows.push(h("tr", {}, name(0), h("td", {class: "num"}, "–"), h("td", {colspan: 2, class: "muted"}, "No watermark reported.")));
        marks.forEach((m, i) => rows.push(h("tr", {}, name(i), h("td", {class: "num"}, m.subtask),
          h("td", {}, m.ms === null ? "No watermark" : fmtTime(m.ms)),
          h("td", {class: "num"}, m.ms === null ? "–" : fmtDuration(Math.max(0, now - m.ms))))));
      }
      fill(panel, h("h2", {}, "Watermarks"),
        h("div", {class: "muted"}, "The current input watermark of each subtask: the minimum over its inputs."),
        table([["Vertex"], ["Subtask", "num"], ["Input watermark"], ["Behind now", "num"]], rows, "The job has no vertices."));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Page: TaskManagers with their slots and the tasks of running jobs in them

function taskManagersPage(root) {
  document.title = "Strom · TaskManagers";
  const list = h("div", {id: "taskmanagers"});
  append(root, [h("h1", {}, "TaskManagers"), h("div", {class: "panel"}, list)]);
  return {
    async refresh() {
      const [tms, jobs] = await Promise.all([api("/taskmanagers"), api("/jobs/overview")]);
      // Which tasks run where: the subtasks of the running jobs, by TaskManager id.
      const running = (jobs.jobs || []).filter(isActive);
      const details = await Promise.all(running.map((j) => apiOr(`/jobs/${enc(j.jid)}`, null)));
      const tasks = new Map();
      for (const job of details.filter(Boolean)) {
        for (const v of job.vertices || []) {
          for (const s of v.subtasks || []) {
            const tm = s["taskmanager-id"];
            if (!tm) continue;
            if (!tasks.has(tm)) tasks.set(tm, []);
            tasks.get(tm).push(`${job.name}: ${v.name} (${s.subtask + 1}/${v.parallelism})`);
          }
        }
      }
      const rows = (tms.taskmanagers || []).map((tm) => ({...tm, tasks: tasks.get(tm.id) || []}));
      renderIfChanged(list, rows, () => table(
        [["ID"], ["Address"], ["Slots", "num"], ["Free", "num"], ["Slot use"], ["Last heartbeat", "num"], ["Tasks"]],
        rows.map((tm) => {
          const total = tm.slotsNumber ?? 0;
          const used = total - (tm.freeSlots ?? 0);
          return h("tr", {class: "taskmanager", dataset: {tmId: tm.id}},
            h("td", {class: "mono"}, tm.id),
            h("td", {class: "mono"}, tm.path || "–"),
            h("td", {class: "num"}, total),
            h("td", {class: "num"}, tm.freeSlots ?? "–"),
            h("td", {}, h("div", {class: "slots", title: `${used} of ${total} slots in use`},
              Array.from({length: total}, (_, i) => h("span", {class: "slot" + (i < used ? " used" : "")})))),
            h("td", {class: "num"}, none(tm.timeSinceLastHeartbeat) ? "–" : fmtDuration(tm.timeSinceLastHeartbeat) + " ago"),
            h("td", {class: "tasklist"}, tm.tasks.length ? tm.tasks.map((t) => h("div", {}, t)) : "–"));
        }), "No TaskManager registered."));
    },
  };
}

// ---------------------------------------------------------------------------------------------

document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") poller.now(); });
window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  setupLogin();
  if (!sessionStorage.getItem(TOKEN_KEY)) login.open();
  route();
});
