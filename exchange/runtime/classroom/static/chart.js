// A small price chart on a canvas: mark, index and last over time, liquidation markers, and optional
// horizontal lines (a student's entry and liquidation price). Prices arrive as integer ticks.
"use strict";

class PriceChart {
  constructor(canvas, tick) {
    this.canvas = canvas;
    this.tick = Number(tick);
    this.decimals = (String(tick).split(".")[1] || "").length;
    this.samples = [];   // [ms, mark, index, last]
    this.markers = [];   // {ms, ticks, label}
    this.lines = [];     // {ticks, label, color}
    this.windowMs = 15 * 60 * 1000;
    this.pending = false;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }
  setSamples(rows) { this.samples = rows.slice(-3600); this.redraw(); }
  add(row) { this.samples.push(row); if (this.samples.length > 3600) this.samples.shift(); this.redraw(); }
  addMarker(m) { this.markers.push(m); if (this.markers.length > 200) this.markers.shift(); this.redraw(); }
  setLines(lines) { this.lines = lines; this.redraw(); }
  redraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }
  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    if (!w || !h) return;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = "12px system-ui, sans-serif";
    const rows = this.samples;
    if (!rows.length) { g.fillStyle = "#8b9bb0"; g.fillText("waiting for prices...", 10, 20); return; }
    const t1 = rows[rows.length - 1][0], t0 = Math.max(rows[0][0], t1 - this.windowMs);
    const shown = rows.filter((r) => r[0] >= t0);
    let lo = Infinity, hi = -Infinity;
    for (const r of shown) for (const v of [r[1], r[2], r[3]]) if (v) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const marks = this.markers.filter((m) => m.ms >= t0);
    for (const m of marks) { lo = Math.min(lo, m.ticks); hi = Math.max(hi, m.ticks); }
    for (const l of this.lines) if (l.ticks > lo - (hi - lo) && l.ticks < hi + (hi - lo)) {
      lo = Math.min(lo, l.ticks); hi = Math.max(hi, l.ticks);
    }
    const pad = Math.max((hi - lo) * 0.08, hi * 0.0005);  // a flat market still shows a readable scale
    lo -= pad; hi += pad;
    const left = 6, right = w - 70, top = 8, bottom = h - 20;
    const x = (t) => left + (right - left) * (t1 === t0 ? 1 : (t - t0) / (t1 - t0));
    const y = (v) => bottom - (bottom - top) * (v - lo) / (hi - lo);
    const price = (v) => (v * this.tick).toFixed(this.decimals);
    g.strokeStyle = "#2a3645"; g.fillStyle = "#8b9bb0"; g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const v = lo + (hi - lo) * i / 4, yy = y(v);
      g.beginPath(); g.moveTo(left, yy); g.lineTo(right, yy); g.stroke();
      g.fillText(price(v), right + 4, yy + 4);
    }
    g.fillText(new Date(t0).toISOString().slice(11, 16), left, h - 4);
    g.fillText(new Date(t1).toISOString().slice(11, 16), right - 30, h - 4);
    const series = [[2, "#8b9bb0", "index"], [3, "#3d8bfd", "last"], [1, "#f0b90b", "mark"]];
    series.forEach(([i, color, name], k) => {
      g.strokeStyle = color; g.lineWidth = i === 1 ? 2 : 1.2; g.beginPath();
      let started = false;
      for (const r of shown) {
        if (!r[i]) continue;
        if (started) g.lineTo(x(r[0]), y(r[i])); else { g.moveTo(x(r[0]), y(r[i])); started = true; }
      }
      g.stroke();
      g.fillStyle = color; g.fillText(name, left + 70 + k * 48, h - 4);
    });
    for (const l of this.lines) {
      if (l.ticks < lo || l.ticks > hi) continue;
      g.strokeStyle = l.color; g.setLineDash([5, 4]); g.beginPath(); g.moveTo(left, y(l.ticks)); g.lineTo(right, y(l.ticks));
      g.stroke(); g.setLineDash([]);
      g.fillStyle = l.color; g.fillText(`${l.label} ${price(l.ticks)}`, left + 4, y(l.ticks) - 4);
    }
    for (const m of marks) {  // a liquidation: a red triangle pointing at its price
      const xx = x(m.ms), yy = y(m.ticks);
      g.fillStyle = "#f6465d"; g.beginPath(); g.moveTo(xx, yy); g.lineTo(xx - 6, yy - 11); g.lineTo(xx + 6, yy - 11); g.fill();
      if (m.label) { g.fillText(m.label, xx + 7, yy - 4); }
    }
    const last = shown[shown.length - 1];
    g.fillStyle = "#f0b90b"; g.fillRect(right + 1, y(last[1]) - 8, 68, 16);
    g.fillStyle = "#000"; g.fillText(price(last[1]), right + 4, y(last[1]) + 4);
  }
}
