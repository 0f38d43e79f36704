// The projector: the price with every liquidation marked, the liquidation feed, open interest, the
// insurance fund, funding, the leaderboard of students and teams, the clock and the news.
"use strict";

const view = { symbol: "", chart: null };

function liquidation(l) {
  const who = l.who ? l.who : "a trader";
  const item = el("li", {}, el("span", { class: "dim" }, hhmmss(l.ms), " "),
                  el("b", { class: "down" }, `${who}: ${l.mode} ${l.side} ${l.qty}`), ` at ${l.price}`);
  $("liquidations").prepend(item);
  while ($("liquidations").children.length > 50) $("liquidations").lastChild.remove();
  if (l.symbol === view.symbol) view.chart.addMarker({ ms: l.ms, ticks: l.ticks, label: l.who || "" });
}

function market(markets) {
  const m = markets[view.symbol];
  $("mark").textContent = m.mark || "-";
  $("index").textContent = m.index || "-";
  $("oi").textContent = `${m.open_interest} ${view.base}`;
  $("funding").textContent = m.funding_rate_pct + "%";
  $("insurance").textContent = m.insurance_fund + " USDT";
}

function news(status) {
  fill($("news-list"), status.news.slice().reverse().map((n) =>
    el("li", {}, el("span", { class: "dim" }, `minute ${(n.elapsed_ms / 60000).toFixed(1)}: `), n.text,
       n.shock_pct ? el("span", { class: n.shock_pct < 0 ? "down" : "up" }, ` (${n.shock_pct > 0 ? "+" : ""}${n.shock_pct}%)`) : "")));
}

connectFeed((msg) => {
  if (msg.status) { showStatus(msg.status); news(msg.status); }
  if (msg.t === "hello") {
    view.symbol = msg.game.symbols[0];
    const inst = msg.game.instruments[view.symbol];
    view.base = inst.base;
    document.title = msg.game.name + ": projector";
    $("title").textContent = msg.game.name;
    if (!view.chart) view.chart = new PriceChart($("chart"), inst.tick);
    view.chart.setSamples(msg.history[view.symbol] || []);
    view.chart.markers = [];
    $("liq-count").textContent = String(msg.liquidation_count);
    fill($("liquidations"));
    msg.liquidations.forEach(liquidation);
    market(msg.markets);
  }
  if (msg.t === "market") {
    market(msg.markets);
    if (msg.samples && msg.samples[view.symbol]) view.chart.add(msg.samples[view.symbol]);
    (msg.liquidations || []).forEach(liquidation);
    if (msg.liquidation_count !== undefined) $("liq-count").textContent = String(msg.liquidation_count);
  }
  if (msg.board) { fill($("board"), boardTable(msg.board, 15)); fill($("teams"), teamsTable(msg.board)); }
}, "");
