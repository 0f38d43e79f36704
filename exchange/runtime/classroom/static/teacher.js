// The teacher's console: the game's lifecycle, news and shocks, rules and parameters, the roster
// with resets, and the exports. Every call carries the admin key (kept for this tab only).
"use strict";

const desk = { key: sessionStorage.getItem("admin-key") || "", state: null };

function adminHeaders() { return { "X-Admin-Key": desk.key }; }

async function admin(path, body, where) {
  try {
    const res = await post("/game/admin/" + path, body, adminHeaders());
    if (where) say(where, "Done.", true);
    refresh();
    return res;
  } catch (e) {
    if (where) say(where, e.message, false);
    return null;
  }
}

async function refresh() {
  let state;
  try { state = await get("/game/admin/state", adminHeaders()); } catch (e) {
    sessionStorage.removeItem("admin-key");
    $("signin").classList.remove("hidden");
    $("console").classList.add("hidden");
    say($("key-message"), e.message, false);
    return;
  }
  desk.state = state;
  $("signin").classList.add("hidden");
  $("console").classList.remove("hidden");
  $("join-code").textContent = state.join_code || "none";
  $("roster-open").checked = state.status.roster_open;
  $("roster-open").disabled = !state.join_code;
  fill($("events"), el("tr", {}, el("th", {}, "Minute"), el("th", {}, "News"), el("th", {}, "Shock"), el("th", {}, "")),
       state.events.map((e) => el("tr", {}, el("td", {}, String(e.at_min)), el("td", { style: "white-space:normal;text-align:left" }, e.news),
         el("td", {}, e.shock_pct ? `${e.shock_pct}% over ${e.over_s}s` : ""),
         el("td", {}, e.fired ? el("span", { class: "dim" }, "done")
                              : el("button", { type: "button", onclick: () => admin("event", { index: e.index }, $("game-message")) }, "Now")))));
  const symbols = Object.keys(state.params);
  for (const id of ["news-symbol", "param-symbol"]) {
    if (!$(id).options.length) fill($(id), symbols.map((s) => el("option", { value: s }, s)));
  }
  const p = state.params[$("param-symbol").value || symbols[0]];
  $("params").textContent = `Now: students' max leverage ${state.status.max_leverage}x; ` +
    Object.entries(p).map(([k, v]) => `${k.replace("_pct", "").replaceAll("_", " ")} ${v}%`).join(", ");
  fill($("roster"), el("tr", {}, el("th", {}, "#"), el("th", {}, "Name"), el("th", {}, "Team"), el("th", {}, "Login"),
                       el("th", {}, "Account"), el("th", {}, "")),
       state.students.map((s) => el("tr", {}, el("td", {}, String(s.id)), el("td", {}, s.name), el("td", {}, s.team),
         el("td", {}, el("code", {}, s.login || "?")), el("td", {}, String(s.account)),
         el("td", {}, el("button", { type: "button", onclick: () => {
           if (confirm(`Start ${s.name} over with fresh cash? Their position is closed.`)) admin("reset", { student: s.id }, $("roster-message"));
         } }, "Reset")))));
}

async function openExport(path, download) {
  try {
    const res = await fetch("/game/admin/" + path, { headers: adminHeaders() });
    if (!res.ok) throw new Error((await res.json()).error || `The server answered ${res.status}.`);
    const url = URL.createObjectURL(await res.blob());
    if (download) {
      const a = el("a", { href: url, download });
      document.body.append(a); a.click(); a.remove();
    } else {
      window.open(url, "_blank");
    }
  } catch (e) { say($("game-message"), e.message, false); }
}

$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  desk.key = $("key").value;
  sessionStorage.setItem("admin-key", desk.key);
  refresh();
});
for (const b of document.querySelectorAll("button[data-action]")) {
  b.addEventListener("click", () => admin(b.dataset.action, {}, $("game-message")));
}
$("halt").addEventListener("click", () => admin("halt", { halted: true }, $("game-message")));
$("unhalt").addEventListener("click", () => admin("halt", { halted: false }, $("game-message")));
$("roster-open").addEventListener("change", () => admin("roster", { open: $("roster-open").checked }, $("game-message")));
$("news-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  admin("news", { text: $("news-text").value, symbol: $("news-symbol").value, shock_pct: $("shock-pct").value,
                  over_s: $("over-s").value }, $("news-message"));
});
$("param-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const name = $("param-name").value, raw = $("param-value").value.trim();
  const value = name === "max_leverage" ? Number(raw) : raw;
  admin("param", { symbol: $("param-symbol").value, name, value }, $("param-message"));
});
$("param-symbol").addEventListener("change", refresh);
$("csv").addEventListener("click", () => openExport("results.csv", "results.csv"));
$("report").addEventListener("click", () => openExport("report"));
$("logins").addEventListener("click", () => openExport("logins"));

connectFeed((msg) => {
  if (msg.status) {
    showStatus(msg.status);
    if (desk.state && desk.state.status.state !== msg.status.state) refresh();
  }
  if (msg.board) fill($("board"), boardTable(msg.board));
  for (const l of (msg.t === "hello" ? msg.liquidations : msg.liquidations || [])) {
    $("liquidations").prepend(el("li", {}, el("span", { class: "dim" }, hhmmss(l.ms), " "),
                                 el("b", { class: "down" }, `${l.who || "a trader"}: ${l.mode} ${l.side} ${l.qty}`), ` at ${l.price}`));
    while ($("liquidations").children.length > 50) $("liquidations").lastChild.remove();
  }
}, "");
if (desk.key) refresh(); else $("signin").classList.remove("hidden");
