// charts: the dashboard's charts as plain SVG (no library, no inline style:
// the page's Content-Security-Policy allows neither). Colours come from
// style.css through the classes s0..s7.

import {h} from './core.js';
import * as fmt from './format.js';

const W = 760, H = 280;
const M = {top: 14, right: 16, bottom: 34, left: 76};

/** "Nice" tick values covering 0..max (about n of them). */
function linearTicks(max, n = 5) {
  if (!(max > 0)) return [0, 1];
  const raw = max / n, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(v);
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

/** 1, 2, 5 × powers of ten within [lo, hi]. */
function logTicks(lo, hi) {
  const ticks = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

function frame() {
  return h('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
                   preserveAspectRatio: 'xMidYMid meet'});
}

function axisLine(x1, y1, x2, y2, cls = 'axis') {
  return h('line', {x1, y1, x2, y2, class: cls});
}

function label(x, y, text, anchor = 'middle', cls = 'tick') {
  return h('text', {x, y, 'text-anchor': anchor, class: cls}, text);
}

/** A legend under a chart: coloured keys with names. */
export function legend(names, extra = []) {
  return h('ul', {class: 'legend'},
    names.map((n, i) => h('li', {}, h('span', {class: `key s${i % 8}`}), n)), extra);
}

/**
 * Stacked areas over time: `start` (Unix s), `step` (s), `series` a list of
 * {name, points}. Returns an SVG element with a <title> per area.
 */
export function stackedArea({start, step, series, yLabel = 'devices'}) {
  const svg = frame();
  const n = series.length ? series[0].points.length : 0;
  if (!n) {
    svg.append(label(W / 2, H / 2, 'No assignments yet', 'middle', 'empty-label'));
    return svg;
  }
  const totals = Array.from({length: n}, (_, i) => series.reduce((s, x) => s + x.points[i], 0));
  const yt = linearTicks(Math.max(1, ...totals));
  const ymax = yt[yt.length - 1];
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  const x = (i) => M.left + (n === 1 ? pw : (i / (n - 1)) * pw);
  const y = (v) => M.top + ph - (v / ymax) * ph;
  for (const t of yt) {
    svg.append(axisLine(M.left, y(t), W - M.right, y(t), 'grid'));
    svg.append(label(M.left - 8, y(t) + 4, fmt.count(t), 'end'));
  }
  svg.append(label(12, M.top + ph / 2, yLabel, 'middle', 'axis-title rotate'));
  const below = new Array(n).fill(0);
  series.forEach((s, k) => {
    const top = s.points.map((v, i) => below[i] + v);
    const pts = top.map((v, i) => `${x(i)},${y(v)}`)
      .concat(below.map((v, i) => `${x(i)},${y(v)}`).reverse());
    svg.append(h('polygon', {points: pts.join(' '), class: `area s${k % 8}`},
      h('title', {}, `${s.name}: ${fmt.count(s.points[n - 1])} devices now`)));
    top.forEach((v, i) => { below[i] = v; });
  });
  const ticks = Math.min(6, n);
  for (let j = 0; j < ticks; j++) {
    const i = Math.round((j / Math.max(1, ticks - 1)) * (n - 1));
    const t = start + i * step;
    svg.append(label(x(i), H - M.bottom + 18,
      step >= 86400 ? fmt.date(t) : fmt.time(t, step * (n - 1) < 600)));
  }
  svg.append(axisLine(M.left, M.top + ph, W - M.right, M.top + ph));
  return svg;
}

/**
 * The latency distribution of several series, x on a log scale (ms).
 * `series`: [{name, cdf: [[le, cumulative], ...]}]; `mode`: 'cdf' (share
 * of inferences at or below x) or 'tail' (share above x, log scale, so the
 * slowest 1 % and 0.1 % stay visible); `slo`: a vertical line (ms) or null.
 */
export function distribution({series, mode = 'tail', slo = null}) {
  const svg = frame();
  const usable = series.filter((s) => s.cdf && s.cdf.length);
  if (!usable.length) {
    svg.append(label(W / 2, H / 2, 'No inferences in this window', 'middle', 'empty-label'));
    return svg;
  }
  let lo = Infinity, hi = 0, minShare = 1;
  for (const s of usable) {
    const total = s.cdf[s.cdf.length - 1][1];
    minShare = Math.min(minShare, 1 / total);
    for (const [le] of s.cdf) {
      if (le > 0) lo = Math.min(lo, le);
      hi = Math.max(hi, le);
    }
  }
  if (slo) hi = Math.max(hi, slo * 1.1);
  lo = 10 ** Math.floor(Math.log10(lo));
  hi = 10 ** Math.ceil(Math.log10(hi));
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  const x = (v) => M.left + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) /
    (Math.log10(hi) - Math.log10(lo))) * pw;
  const ylo = mode === 'tail' ? 10 ** Math.floor(Math.log10(minShare)) : 0;
  const y = mode === 'tail'
    ? (v) => M.top + ((Math.log10(1) - Math.log10(Math.max(v, ylo))) /
      (Math.log10(1) - Math.log10(ylo))) * ph
    : (v) => M.top + ph - v * ph;
  const yticks = mode === 'tail'
    ? Array.from({length: -Math.log10(ylo) + 1}, (_, i) => 10 ** -i)
    : [0, 0.25, 0.5, 0.75, 1];
  for (const t of yticks) {
    svg.append(axisLine(M.left, y(t), W - M.right, y(t), 'grid'));
    svg.append(label(M.left - 8, y(t) + 4, `${+(t * 100).toPrecision(2)} %`, 'end'));
  }
  for (const t of logTicks(lo, hi)) {
    svg.append(axisLine(x(t), M.top, x(t), M.top + ph, 'grid'));
    svg.append(label(x(t), H - M.bottom + 18, fmt.ms(t)));
  }
  svg.append(label(12, M.top + ph / 2, mode === 'tail' ? 'slower than x' : 'at most x',
    'middle', 'axis-title rotate'));
  usable.forEach((s, k) => {
    const total = s.cdf[s.cdf.length - 1][1];
    let prev = mode === 'tail' ? 1 : 0;
    const pts = [`${x(s.cdf[0][0] || lo)},${y(prev)}`];
    for (const [le, cum] of s.cdf) {
      const v = mode === 'tail' ? 1 - cum / total : cum / total;
      const px = x(le || lo);
      pts.push(`${px},${y(prev)}`, `${px},${y(v)}`);
      prev = v;
      if (mode === 'tail' && v <= 0) break;
    }
    svg.append(h('polyline', {points: pts.join(' '), class: `line s${k % 8}`},
      h('title', {}, s.name)));
  });
  if (slo) {
    svg.append(h('line', {x1: x(slo), y1: M.top, x2: x(slo), y2: M.top + ph, class: 'slo'}));
    svg.append(label(x(slo) + 4, M.top + 12, `SLO p95 ${fmt.ms(slo)}`, 'start', 'slo-label'));
  }
  if (mode === 'cdf') {
    svg.append(h('line', {x1: M.left, y1: y(0.95), x2: W - M.right, y2: y(0.95), class: 'p95'}));
  } else {
    svg.append(h('line', {x1: M.left, y1: y(0.05), x2: W - M.right, y2: y(0.05), class: 'p95'}));
  }
  svg.append(axisLine(M.left, M.top + ph, W - M.right, M.top + ph));
  return svg;
}

/**
 * A p95-per-report sparkline for a device's history: `points` [[t, ms]],
 * oldest first, with the SLO as a line when known.
 */
export function sparkline(points, slo = null) {
  const w = 360, hh = 70, pad = 6;
  const svg = h('svg', {viewBox: `0 0 ${w} ${hh}`, class: 'spark', role: 'img'});
  if (points.length < 2) return svg;
  const vmax = Math.max(slo || 0, ...points.map((p) => p[1])) * 1.1;
  const x = (i) => pad + (i / (points.length - 1)) * (w - 2 * pad);
  const y = (v) => hh - pad - (v / vmax) * (hh - 2 * pad);
  if (slo) svg.append(h('line', {x1: pad, x2: w - pad, y1: y(slo), y2: y(slo), class: 'slo'}));
  svg.append(h('polyline', {points: points.map((p, i) => `${x(i)},${y(p[1])}`).join(' '),
                            class: 'line s0'}));
  points.forEach((p, i) => svg.append(h('circle', {cx: x(i), cy: y(p[1]), r: 2.5,
    class: slo && p[1] > slo ? 'dot over' : 'dot'}, h('title', {}, `${fmt.date(p[0])}: p95 ${fmt.ms(p[1])}`))));
  return svg;
}

/** A horizontal bar of a share 0..1 (width set through the CSSOM). */
export function shareBar(v, cls = '') {
  const fill = h('span', {class: `bar-fill ${cls}`});
  fill.style.width = `${Math.max(0, Math.min(1, v || 0)) * 100}%`;
  return h('span', {class: 'bar'}, fill);
}
