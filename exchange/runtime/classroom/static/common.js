// What every classroom page shares: DOM building (text only: never innerHTML with data), the JSON API,
// the live feed's WebSocket (reconnecting), the game clock, number formatting.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

function $(id) { return document.getElementById(id); }

function fill(node, ...children) { node.replaceChildren(...children.flat()); }

async function post(path, body, headers) {
  let res;
  try {
    res = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", ...headers },
                              body: JSON.stringify(body || {}) });
  } catch (e) {
    throw new Error("The server cannot be reached. Check the network and try again.");
  }
  return answer(res);
}

async function get(path, headers) {
  const res = await fetch(path, { headers });
  return answer(res);
}

async function answer(res) {
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch (e) { body = null; }
  if (!res.ok) throw new Error((body && (body.error || body.msg)) || `The server answered ${res.status}.`);
  return body;
}

function say(node, text, ok) {
  node.textContent = text;
  node.className = "message " + (ok ? "ok" : "error");
}

// The live feed: calls onMessage(msg) for every message; reconnects after a drop.
function connectFeed(onMessage, login, onState) {
  let delay = 500;
  function open() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = login ? "?login=" + encodeURIComponent(login) : "";
    const ws = new WebSocket(`${proto}//${location.host}/game/ws${q}`);
    ws.onopen = () => { delay = 500; if (onState) onState(true); };
    ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
    ws.onclose = () => { if (onState) onState(false); setTimeout(open, delay); delay = Math.min(delay * 2, 5000); };
  }
  open();
}

// The game clock: the server's elapsed time, advanced locally between status messages while running.
const clock = {
  status: null, at: 0,
  update(status) { this.status = status; this.at = performance.now(); },
  elapsed() {
    if (!this.status) return 0;
    const run = this.status.state === "running" ? performance.now() - this.at : 0;
    return Math.min(this.status.elapsed_ms + run, this.status.duration_ms);
  },
  text() {
    if (!this.status) return "--:--";
    const left = Math.max(0, this.status.duration_ms - this.elapsed());
    return mmss(left);
  },
};

function mmss(ms) {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function stateWord(status) {
  if (!status) return "";
  if (status.halted && status.state === "running") return "halted";
  return { lobby: "not started", running: "running", paused: "paused", ended: "ended" }[status.state] || status.state;
}

function showStatus(status) {
  clock.update(status);
  const st = $("state");
  if (st) { st.textContent = stateWord(status); st.className = "state " + stateWord(status).replace(" ", "-"); }
  const news = $("news");
  if (news) {
    const last = status.news[status.news.length - 1];
    news.textContent = last ? last.text : "";
  }
}

setInterval(() => { const c = $("clock"); if (c) c.textContent = clock.text(); }, 250);

function signed(text, unit) {
  const n = Number(text);
  return el("span", { class: n > 0 ? "up" : n < 0 ? "down" : "" }, (n > 0 ? "+" : "") + text + (unit || ""));
}

function hhmmss(ms) { return new Date(ms).toISOString().slice(11, 19); }

function boardTable(board, limit) {
  const head = el("tr", {}, el("th", {}, "#"), el("th", {}, "Student"), el("th", { class: "hide-narrow" }, "Team"),
                  el("th", {}, "Equity"), el("th", {}, "PnL"), el("th", {}, "Return"), el("th", {}, "Liq."),
                  el("th", { class: "hide-narrow" }, "Max DD"));
  const rows = board.students.slice(0, limit || board.students.length).map((r) => el("tr", {},
    el("td", {}, String(r.rank)), el("td", {}, r.name), el("td", { class: "hide-narrow" }, r.team),
    el("td", {}, r.equity), el("td", {}, signed(r.pnl)), el("td", {}, signed(r.return_pct, "%")),
    el("td", { class: r.liquidations ? "down" : "" }, String(r.liquidations)),
    el("td", { class: "hide-narrow" }, r.max_drawdown_pct + "%")));
  return el("table", {}, head, rows);
}

function teamsTable(board) {
  if (!board.teams.length) return el("p", { class: "dim" }, "No teams in this game.");
  return el("table", { class: "compact" }, el("tr", {}, el("th", {}, "#"), el("th", {}, "Team"), el("th", {}, "Equity"),
                             el("th", {}, "PnL"), el("th", {}, "Return"), el("th", {}, "Liq."), el("th", {}, "Max DD")),
    board.teams.map((t) => el("tr", {}, el("td", {}, String(t.rank)), el("td", {}, t.team), el("td", {}, t.equity),
                                el("td", {}, signed(t.pnl)), el("td", {}, signed(t.return_pct, "%")),
                                el("td", {}, String(t.liquidations)), el("td", {}, t.max_drawdown_pct + "%"))));
}
