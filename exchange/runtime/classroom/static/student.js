// The student's trading page: log in (or join), then the live market, an order ticket, positions with
// their liquidation price and margin ratio, orders, fills, the leaderboard, and the liquidation notice.
"use strict";

const page = { login: localStorage.getItem("game-login") || "", game: null, symbol: "", chart: null, me: null,
               type: "LIMIT", mode: "CROSS", seenNotices: new Set(JSON.parse(localStorage.getItem("game-seen") || "[]")) };

function headers() { return { "X-Game-Login": page.login }; }

async function act(path, body, where) {
  try {
    const res = await post("/game/api/" + path, body, headers());
    if (where) say(where, res.message || "Done.", true);
    return res;
  } catch (e) {
    if (where) say(where, e.message, false);
    return null;
  }
}

function status(st) {
  page.maxLeverage = st.max_leverage;
  $("leverage").max = st.max_leverage;
  $("join").classList.toggle("hidden", !st.roster_open);
  showStatus(st);
}

function showSignin(message) {
  $("signin").classList.remove("hidden");
  $("trade").classList.add("hidden");
  $("who").classList.add("hidden");
  if (message) say($("signin-message"), message, false);
}

async function start() {
  if (!page.login) { showSignin(); connectFeed(onMessage, ""); return; }
  try {
    const me = await post("/game/api/login", {}, headers());
    $("me-name").textContent = me.name + (me.team ? ` (${me.team})` : "");
  } catch (e) {
    localStorage.removeItem("game-login");
    page.login = "";
    showSignin(e.message);
    connectFeed(onMessage, "");
    return;
  }
  $("signin").classList.add("hidden");
  $("trade").classList.remove("hidden");
  $("who").classList.remove("hidden");
  const welcome = sessionStorage.getItem("welcome");
  if (welcome) { say($("ticket-message"), welcome, true); sessionStorage.removeItem("welcome"); }
  connectFeed(onMessage, page.login);
}

function onMessage(msg) {
  if (msg.status) status(msg.status);
  if (!page.login) {  // the sign-in screen: the game's name, its teams, whether joining is open
    if (msg.t === "hello") {
      $("title").textContent = msg.game.name;
      fill($("join-team"), msg.game.teams.length ? msg.game.teams.map((t) => el("option", { value: t }, t))
                                                : el("option", { value: "" }, "no team"));
    }
    return;
  }
  if (msg.t === "hello") return hello(msg);
  if (msg.t === "market") return market(msg);
  if (msg.t === "board") return fill($("board"), boardTable(msg.board));
  if (msg.t === "me") { me(msg.me); msg.notices.forEach(notice); }
}

function hello(msg) {
  page.game = msg.game;
  page.symbol = page.symbol || msg.game.symbols[0];
  const inst = msg.game.instruments[page.symbol];
  document.title = msg.game.name;
  $("title").textContent = msg.game.name;
  $("base").textContent = inst.base;
  $("qty").placeholder = "min " + inst.min_qty;
  if (!page.chart) page.chart = new PriceChart($("chart"), inst.tick);
  page.chart.setSamples(msg.history[page.symbol] || []);
  page.chart.markers = [];
  for (const l of msg.liquidations) if (l.symbol === page.symbol) page.chart.addMarker({ ms: l.ms, ticks: l.ticks, label: "" });
  for (const m of document.querySelectorAll("#mode button")) m.disabled = !msg.game.margin_modes.includes(m.dataset.mode);
  fill($("board"), boardTable(msg.board));
  market({ markets: msg.markets });
  if (msg.me) { me(msg.me); msg.me.liquidations.forEach(notice); }  // one that happened while away is shown too
}

function market(msg) {
  const m = msg.markets[page.symbol];
  if (msg.samples && msg.samples[page.symbol]) page.chart.add(msg.samples[page.symbol]);
  for (const l of msg.liquidations || []) if (l.symbol === page.symbol) page.chart.addMarker({ ms: l.ms, ticks: l.ticks, label: "" });
  $("mark").textContent = m.mark || "-";
  if (!$("price").value && m.mark) $("price").value = m.mark;
  fill($("asks"), m.asks.slice(0, 8).reverse().map(([p, q]) => el("tr", {}, el("td", { class: "down" }, p), el("td", {}, q))));
  fill($("bids"), m.bids.slice(0, 8).map(([p, q]) => el("tr", {}, el("td", { class: "up" }, p), el("td", {}, q))));
  const tape = $("tape");
  for (const [ms, p, q, side, liq] of m.trades) {
    tape.prepend(el("tr", {}, el("td", { class: "dim" }, hhmmss(ms)), el("td", { class: side === "buy" ? "up" : "down" }, p),
                    el("td", {}, q), el("td", { class: "down" }, liq ? "liq" : "")));
  }
  while (tape.children.length > 30) tape.lastChild.remove();
  cost();
}

function me(state) {
  page.me = state;
  $("me-equity").textContent = state.equity;
  fill($("me-return"), signed(state.return_pct, "%"));
  const pos = state.positions.find((p) => p.symbol === page.symbol);
  if (pos) {
    const lev = $("leverage");
    if (document.activeElement !== lev) { lev.value = pos.leverage; $("leverage-value").textContent = pos.leverage + "x"; }
    page.mode = pos.mode;
    for (const b of document.querySelectorAll("#mode button")) b.classList.toggle("on", b.dataset.mode === pos.mode);
  }
  const inst = page.game.instruments[page.symbol];
  const open = state.positions.filter((p) => p.side);
  fill($("positions"), el("tr", {}, el("th", {}, "Market"), el("th", {}, "Position"), el("th", {}, "Entry"),
                          el("th", {}, "Mark"), el("th", {}, "PnL"), el("th", {}, "Liq. price"), el("th", {}, "Margin ratio"),
                          el("th", {}, "ADL"), el("th", {}, "Margin"), el("th", {}, "")),
       open.length ? open.map(positionRow) : el("tr", {}, el("td", { colspan: 10, class: "dim" }, "No position.")));
  fill($("orders"), el("tr", {}, el("th", {}, "Order"), el("th", {}, "Price"), el("th", {}, "Size"), el("th", {}, "")),
       state.orders.length ? state.orders.map((o) => el("tr", {},
         el("td", { class: o.side === "buy" ? "up" : "down" }, `${o.side} ${o.type}${o.reduce_only ? " (reduce)" : ""}`),
         el("td", {}, o.price), el("td", {}, o.qty),
         el("td", {}, el("button", { type: "button", onclick: () => act("cancel", { symbol: o.symbol, order_id: o.id }, $("ticket-message")) }, "Cancel"))))
         : el("tr", {}, el("td", { colspan: 4, class: "dim" }, "No open orders.")));
  fill($("fills"), el("tr", {}, el("th", {}, "Time"), el("th", {}, "Side"), el("th", {}, "Size"), el("th", {}, "Price"), el("th", {}, "PnL")),
       state.fills.map((f) => el("tr", {}, el("td", { class: "dim" }, hhmmss(f.ms)),
         el("td", { class: f.side === "buy" ? "up" : "down" }, f.side + (f.liquidation ? " (liquidation)" : "")),
         el("td", {}, f.qty), el("td", {}, f.price), el("td", {}, signed(f.pnl)))));
  const danger = open.filter((p) => p.margin_ratio >= 0.8);
  const warning = $("warning");
  warning.classList.toggle("hidden", !danger.length);
  if (danger.length) {
    const p = danger[0];
    warning.textContent = `Warning: your ${p.leverage}x ${p.side} is close to liquidation (margin ratio ${p.margin_ratio_pct}%; ` +
      `liquidated at 100%, when the mark reaches ${p.liquidation}). Add margin, reduce the position or close it.`;
  }
  const lines = [];
  if (pos && pos.side) {
    lines.push({ ticks: Math.round(Number(pos.entry) / Number(inst.tick)), label: "entry", color: "#8b9bb0" });
    if (pos.liquidation) lines.push({ ticks: Math.round(Number(pos.liquidation) / Number(inst.tick)), label: "liquidation", color: "#f6465d" });
  }
  if (page.chart) page.chart.setLines(lines);
  cost();
}

function positionRow(p) {
  const ratio = Math.min(1, p.margin_ratio);
  const gauge = el("span", { class: "gauge" + (ratio >= 0.8 ? " danger" : ratio >= 0.5 ? " warn" : ""), title: p.margin_ratio_pct + "%" },
                   el("span", { style: `width:${Math.round(ratio * 100)}%` }));
  const adl = el("span", { class: "adl", title: `ADL rank ${p.adl} of 4` },
                 [0, 1, 2, 3, 4].map((i) => el("span", { class: i < p.adl ? "lit" : "" })));
  const amount = el("input", { type: "text", inputmode: "decimal", placeholder: "USDT", style: "width:5em" });
  const margin = p.mode === "ISOLATED"
    ? el("span", {}, p.isolated_margin, " ", amount,
         el("button", { type: "button", onclick: () => act("margin", { symbol: p.symbol, amount: amount.value }, $("position-message")) }, "+"),
         el("button", { type: "button", onclick: () => act("margin", { symbol: p.symbol, amount: "-" + amount.value }, $("position-message")) }, "-"))
    : el("span", { class: "dim" }, "cross");
  const cell = (label, ...content) => el("td", { "data-label": label }, ...content);
  return el("tr", {},
    el("td", {}, p.symbol), el("td", { class: p.side === "long" ? "up" : "down" }, `${p.leverage}x ${p.mode.toLowerCase()} ${p.side} ${p.size}`),
    cell("Entry", p.entry), cell("Mark", p.mark), cell("PnL", signed(p.pnl)),
    cell("Liq. price", el("span", { class: "down" }, p.liquidation || "none")),
    cell("Margin ratio", gauge, " ", (p.margin_ratio_pct || "0") + "%"), cell("ADL", adl), cell("Margin", margin),
    el("td", {}, el("button", { type: "button", onclick: () => act("close", { symbol: p.symbol }, $("position-message")) }, "Close")));
}

function notice(n) {
  const key = n.ms + n.symbol;
  if (page.seenNotices.has(key)) return;
  page.seenNotices.add(key);
  localStorage.setItem("game-seen", JSON.stringify([...page.seenNotices].slice(-50)));
  $("liquidated-text").textContent = n.text;
  $("liquidated").classList.remove("hidden");
}

function cost() {
  const qty = Number($("qty").value), lev = Number($("leverage").value);
  const price = page.type === "LIMIT" ? Number($("price").value) : Number($("mark").textContent);
  $("cost").textContent = qty > 0 && price > 0
    ? `Value ${(qty * price).toFixed(2)} USDT; margin at ${lev}x: ${(qty * price / lev).toFixed(2)} USDT`
    : "";
}

async function order(side) {
  const body = { symbol: page.symbol, side, type: page.type, qty: $("qty").value.trim(),
                 reduce_only: $("reduce-only").checked, stop_loss: $("stop-loss").value.trim(),
                 take_profit: $("take-profit").value.trim() };
  if (page.type === "LIMIT") body.price = $("price").value.trim();
  if (!body.qty) return say($("ticket-message"), "Enter a size.", false);
  await act("order", body, $("ticket-message"));
}

$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  localStorage.setItem("game-login", $("login-code").value.trim().toLowerCase());
  location.reload();
});
$("join-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const res = await post("/game/api/join", { name: $("join-name").value, team: $("join-team").value, code: $("join-code").value });
    localStorage.setItem("game-login", res.login);
    sessionStorage.setItem("welcome", `Welcome, ${res.name}! Your login is ${res.login}: write it down to come back later.`);
    location.reload();
  } catch (e) { say($("signin-message"), e.message, false); }
});
$("logout").addEventListener("click", () => {
  localStorage.removeItem("game-login");
  localStorage.removeItem("game-seen");
  location.reload();
});
$("buy").addEventListener("click", () => order("buy"));
$("sell").addEventListener("click", () => order("sell"));
for (const b of document.querySelectorAll("#order-type button")) {
  b.addEventListener("click", () => {
    page.type = b.dataset.type;
    for (const o of document.querySelectorAll("#order-type button")) o.classList.toggle("on", o === b);
    $("price-row").classList.toggle("hidden", page.type !== "LIMIT");
    cost();
  });
}
for (const b of document.querySelectorAll("#mode button")) {
  b.addEventListener("click", () => act("margin-mode", { symbol: page.symbol, mode: b.dataset.mode }, $("ticket-message")));
}
$("leverage").addEventListener("input", () => { $("leverage-value").textContent = $("leverage").value + "x"; cost(); });
$("leverage").addEventListener("change", () => act("leverage", { symbol: page.symbol, leverage: Number($("leverage").value) }, $("ticket-message")));
$("qty").addEventListener("input", cost);
$("price").addEventListener("input", cost);
$("liquidated-ok").addEventListener("click", () => $("liquidated").classList.add("hidden"));

start();
