/**
 * The edge's dashboard page: one HTML document with its script inline (no CDN, no library),
 * drawing SVG charts from `/_edge/dashboard/data` every `kpi.refreshSeconds`. Each KPI chart has
 * its target and alert threshold drawn on it and a badge (ok / off target / alert) for the last
 * interval. Every chart says how many points it holds (`data-points`), which the browser test reads.
 */
import type { KpiConfig } from '../../config/sections/kpi.js';

export function dashboardPage(kpi: KpiConfig, dataPath: string): string {
  const settings = JSON.stringify({ kpi, dataPath }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgewise edge dashboard</title>
<style>
  :root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --line: #0969da; --muted: #6e7781; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1rem; }
  h1 { font-size: 1.25rem; margin: 0 0 .25rem; }
  p.meta { color: var(--muted); margin: 0 0 1rem; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 1rem; }
  section { border: 1px solid #d0d7de; border-radius: 6px; padding: .75rem; }
  h2 { font-size: 1rem; margin: 0 0 .25rem; display: flex; justify-content: space-between; gap: .5rem; }
  .badge { font-size: .8rem; padding: 0 .4rem; border-radius: 1rem; color: #fff; background: var(--muted); }
  .badge.ok { background: var(--ok); } .badge.warn { background: var(--warn); } .badge.bad { background: var(--bad); }
  svg { width: 100%; height: 160px; display: block; }
  .legend { color: var(--muted); font-size: .8rem; }
</style>
</head>
<body>
<h1>edgewise edge</h1>
<p class="meta" id="meta">loading…</p>
<main>
  <section><h2>Hit ratio (viewers) <span class="badge" id="b-hit">–</span></h2><svg data-chart="hit-ratio" role="img" aria-label="hit ratio"></svg><div class="legend" id="l-hit"></div></section>
  <section><h2>Origin latency p50 / p95 <span class="badge" id="b-origin">–</span></h2><svg data-chart="origin-latency" role="img" aria-label="origin latency"></svg><div class="legend" id="l-origin"></div></section>
  <section><h2>Viewer p95 <span class="badge" id="b-p95">–</span></h2><svg data-chart="viewer-p95" role="img" aria-label="viewer p95"></svg><div class="legend" id="l-p95"></div></section>
  <section><h2>Latency heatmap (viewers)</h2><svg data-chart="heatmap" role="img" aria-label="latency heatmap"></svg><div class="legend">rows: duration buckets (s), darker = more requests</div></section>
  <section><h2>Requests by class and result</h2><svg data-chart="requests" role="img" aria-label="requests by class and result"></svg><div class="legend" id="l-req"></div></section>
  <section><h2>Prefetch activity</h2><svg data-chart="prefetch" role="img" aria-label="prefetch requests per second"></svg><div class="legend">the prefetch worker's requests per second</div></section>
  <section><h2>Bandwidth saved</h2><svg data-chart="saved" role="img" aria-label="bandwidth saved"></svg><div class="legend">bytes per second served from cache to viewers</div></section>
</main>
<script>
const S = ${settings};
const NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#0969da', '#1a7f37', '#9a6700', '#8250df', '#cf222e', '#bf3989', '#57606a', '#0a3069'];
function el(name, attrs) { const e = document.createElementNS(NS, name); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; }
function chart(id, series, opts) {
  const svg = document.querySelector('svg[data-chart="' + id + '"]');
  svg.replaceChildren();
  const W = 400, H = 160, P = 28;
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  const all = series.flatMap((s) => s.points).filter((p) => p.y !== undefined && p.y !== null);
  const lines = opts.lines || [];
  let max = Math.max(opts.min || 0, ...all.map((p) => p.y), ...lines.map((l) => l.y));
  if (!(max > 0)) max = 1;
  const t0 = Math.min(...all.map((p) => p.t)), t1 = Math.max(...all.map((p) => p.t));
  const x = (t) => P + (t1 === t0 ? (W - P) / 2 : ((t - t0) / (t1 - t0)) * (W - P - 4));
  const y = (v) => H - 16 - (v / max) * (H - 24);
  svg.append(el('line', { x1: P, y1: H - 16, x2: W, y2: H - 16, stroke: '#d0d7de' }));
  const label = el('text', { x: 0, y: 12, 'font-size': 10, fill: '#6e7781' }); label.textContent = opts.format(max); svg.append(label);
  for (const l of lines) {
    svg.append(el('line', { x1: P, y1: y(l.y), x2: W, y2: y(l.y), stroke: l.color, 'stroke-dasharray': '4 3' }));
    const t = el('text', { x: W - 4, y: y(l.y) - 2, 'font-size': 9, 'text-anchor': 'end', fill: l.color }); t.textContent = l.name; svg.append(t);
  }
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => p.y !== undefined && p.y !== null);
    const color = s.color || COLORS[i % COLORS.length];
    if (pts.length > 1) svg.append(el('polyline', { fill: 'none', stroke: color, 'stroke-width': 1.5, points: pts.map((p) => x(p.t) + ',' + y(p.y)).join(' ') }));
    for (const p of pts) svg.append(el('circle', { cx: x(p.t), cy: y(p.y), r: 2, fill: color }));
  });
  svg.dataset.points = String(all.length);
}
function heatmap(points) {
  const svg = document.querySelector('svg[data-chart="heatmap"]');
  svg.replaceChildren();
  const W = 400, H = 160, P = 28;
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  const les = [...new Set(points.flatMap((p) => Object.keys(p.heat)))].sort((a, b) => (a === '+Inf' ? 1 : b === '+Inf' ? -1 : a - b));
  const max = Math.max(1, ...points.flatMap((p) => Object.values(p.heat)));
  const cw = (W - P) / Math.max(points.length, 1), ch = (H - 8) / Math.max(les.length, 1);
  let cells = 0;
  les.forEach((le, r) => {
    const t = el('text', { x: 0, y: H - 8 - r * ch - ch / 3, 'font-size': 8, fill: '#6e7781' }); t.textContent = le; svg.append(t);
    points.forEach((p, c) => {
      const n = p.heat[le] || 0;
      if (n === 0) return;
      cells++;
      svg.append(el('rect', { x: P + c * cw, y: H - 8 - (r + 1) * ch, width: Math.max(cw - 1, 1), height: Math.max(ch - 1, 1), fill: '#0969da', 'fill-opacity': (0.15 + 0.85 * (n / max)).toFixed(2) }));
    });
  });
  svg.dataset.points = String(cells);
}
function badge(id, value, target, alert, higherIsBetter, fmt) {
  const b = document.getElementById(id);
  if (value === undefined || value === null) { b.className = 'badge'; b.textContent = 'no data'; return; }
  const bad = higherIsBetter ? value < alert : value > alert;
  const ok = higherIsBetter ? value >= target : value <= target;
  b.className = 'badge ' + (bad ? 'bad' : ok ? 'ok' : 'warn');
  b.textContent = fmt(value) + (bad ? ' · alert' : ok ? ' · ok' : ' · off target');
}
const pct = (v) => (v * 100).toFixed(1) + ' %';
const msf = (v) => v.toFixed(v < 10 ? 2 : 0) + ' ms';
const rate = (v) => v.toFixed(v < 10 ? 2 : 0) + '/s';
const bytes = (v) => v >= 1048576 ? (v / 1048576).toFixed(1) + ' MiB/s' : v >= 1024 ? (v / 1024).toFixed(1) + ' KiB/s' : v.toFixed(0) + ' B/s';
async function refresh() {
  const res = await fetch(S.dataPath, { cache: 'no-store', credentials: 'same-origin' });
  if (!res.ok) { document.getElementById('meta').textContent = 'data: HTTP ' + res.status; return; }
  const data = await res.json();
  const pts = data.points;
  const k = S.kpi;
  const last = (f) => { for (let i = pts.length - 1; i >= 0; i--) { const v = f(pts[i]); if (v !== undefined && v !== null) return v; } return undefined; };
  chart('hit-ratio', [{ points: pts.map((p) => ({ t: p.t, y: p.hitRatio })) }], { min: 1, format: pct, lines: [{ y: k.hitRatio.target, name: 'target', color: '#1a7f37' }, { y: k.hitRatio.alertBelow, name: 'alert', color: '#cf222e' }] });
  badge('b-hit', last((p) => p.hitRatio), k.hitRatio.target, k.hitRatio.alertBelow, true, pct);
  chart('origin-latency', [{ points: pts.map((p) => ({ t: p.t, y: p.originP50Ms })) }, { points: pts.map((p) => ({ t: p.t, y: p.originP95Ms })) }], { format: msf, lines: [{ y: k.originLatencyMs.target, name: 'target', color: '#1a7f37' }, { y: k.originLatencyMs.alertAbove, name: 'alert', color: '#cf222e' }] });
  document.getElementById('l-origin').textContent = 'blue p50 (the KPI), green p95; fetch sent → response headers';
  badge('b-origin', last((p) => p.originP50Ms), k.originLatencyMs.target, k.originLatencyMs.alertAbove, false, msf);
  chart('viewer-p95', [{ points: pts.map((p) => ({ t: p.t, y: p.viewerP95Ms })) }], { format: msf, lines: [{ y: k.viewerP95Ms.target, name: 'target', color: '#1a7f37' }, { y: k.viewerP95Ms.alertAbove, name: 'alert', color: '#cf222e' }] });
  badge('b-p95', last((p) => p.viewerP95Ms), k.viewerP95Ms.target, k.viewerP95Ms.alertAbove, false, msf);
  heatmap(pts);
  const keys = [...new Set(pts.flatMap((p) => Object.keys(p.byClassResult)))].sort();
  chart('requests', keys.map((key) => ({ points: pts.map((p) => ({ t: p.t, y: p.byClassResult[key] || 0 })) })), { format: rate });
  document.getElementById('l-req').replaceChildren(...keys.map((key, i) => { const s = document.createElement('span'); s.style.color = COLORS[i % COLORS.length]; s.textContent = key + ' '; return s; }));
  chart('prefetch', [{ points: pts.map((p) => ({ t: p.t, y: p.prefetchPerSecond })) }], { format: rate });
  chart('saved', [{ points: pts.map((p) => ({ t: p.t, y: p.savedBytesPerSecond })) }], { format: bytes });
  document.getElementById('meta').textContent = pts.length + ' intervals of ' + data.sampleSeconds + ' s; refreshed ' + new Date().toLocaleTimeString() + ', every ' + k.refreshSeconds + ' s';
  document.body.dataset.ready = 'true';
}
refresh().catch((e) => { document.getElementById('meta').textContent = 'data: ' + e; });
setInterval(() => refresh().catch(() => {}), S.kpi.refreshSeconds * 1000);
</script>
</body>
</html>
`;
}
