// Latency of one feature: quantiles per variant and per device class, and
// the distribution that makes the tail visible, against the SLO
// (GET /v1/fleet/latency?feature=F&hours=N).

import {api, h, link, num, section, table} from '../core.js';
import {distribution, legend} from '../charts.js';
import * as fmt from '../format.js';

export const live = true;
export const title = (r) => `latency ${r.arg || ''}`;

const WINDOWS = [[1, 'last hour'], [24, 'last 24 h'], [168, 'last 7 days'], [720, 'last 30 days']];
const Q = ['p50', 'p90', 'p95', 'p99'];

function variantName(v) {
  return `${v.model}/${v.variant}`;
}

/** A quantile cell, marked when over `limit`. */
function qcell(value, src, path, limit) {
  return h('td', {class: 'r'}, num(value, fmt.ms, src, path,
    {class: limit && value > limit ? 'over' : ''}));
}

export async function render({arg, params}) {
  const {features} = await api('/v1/fleet/features');
  if (!features.length) {
    return h('div', {class: 'notice'}, 'No feature is configured yet, so there is no latency to ' +
      'show. Configure one with tailorctl feature set.');
  }
  const name = arg || features[0].name;
  const hours = Number(params.get('hours')) || 24;
  const mode = params.get('mode') === 'cdf' ? 'cdf' : 'tail';
  const metric = params.get('metric') === 'ttft' ? 'ttft' : 'latency';
  const src = `/v1/fleet/latency?feature=${encodeURIComponent(name)}&hours=${hours}`;
  const d = await api(src);
  const slo = d.slo;
  const go = (p) => {
    location.hash = link(`feature/${name}`, {hours, mode, metric, variant: params.get('variant'),
      ...p});
  };

  const head = h('div', {class: 'page-head'},
    h('h1', {}, 'Latency: ', name),
    slo ? h('span', {class: 'muted'}, 'SLO p95 ', num(slo.p95_ms, fmt.ms, src, ['slo', 'p95_ms']),
      slo.ttft_p95_ms ? [' · time to first token p95 ', num(slo.ttft_p95_ms, fmt.ms, src,
        ['slo', 'ttft_p95_ms'])] : null,
      slo.error_rate !== null ? [' · errors ≤ ', fmt.share(slo.error_rate)] : null)
      : h('span', {class: 'muted'}, 'not a configured feature: no SLO'),
    h('div', {class: 'controls'},
      h('select', {'aria-label': 'feature', onchange: (e) => {
        location.hash = link(`feature/${e.target.value}`, {hours});
      }}, features.map((f) => h('option', {value: f.name, selected: f.name === name}, f.name))),
      h('select', {'aria-label': 'window', onchange: (e) => go({hours: e.target.value})},
        WINDOWS.map(([v, t]) => h('option', {value: v, selected: v === hours}, t)))));

  const vrows = d.variants.map((v) => {
    const p = (...k) => ['variants', {model: v.model, variant: v.variant}, ...k];
    const lat = v.latency_ms || {};
    const tt = v.ttft_ms || {};
    return h('tr', {dataset: {variant: variantName(v)}},
      h('td', {}, variantName(v), v.rank === 0 ? h('span', {class: 'badge ok'}, 'best') : null),
      h('td', {class: 'r'}, num(v.devices, fmt.count, src, p('devices'))),
      h('td', {class: 'r'}, num(v.samples, fmt.count, src, p('samples'))),
      h('td', {class: 'r'}, num(v.error_rate, fmt.share, src, p('error_rate'),
        {class: slo && slo.error_rate !== null && v.error_rate > slo.error_rate ? 'over' : ''})),
      Q.map((q) => qcell(lat[q] ?? null, src, p('latency_ms', q),
        q === 'p95' && slo ? slo.p95_ms : null)),
      ['p50', 'p95', 'p99'].map((q) => qcell(tt[q] ?? null, src, p('ttft_ms', q),
        q === 'p95' && slo ? slo.ttft_p95_ms : null)));
  });
  const variants = section('Per variant (all device classes)',
    table(['variant', h('th', {class: 'r'}, 'devices'), h('th', {class: 'r'}, 'inferences'),
      h('th', {class: 'r'}, 'errors'), ...Q.map((q) => h('th', {class: 'r'}, q)),
      h('th', {class: 'r'}, 'TTFT p50'), h('th', {class: 'r'}, 'TTFT p95'),
      h('th', {class: 'r'}, 'TTFT p99')], vrows));

  const key = metric === 'ttft' ? 'ttft_ms' : 'latency_ms';
  const dseries = d.variants.filter((v) => v.cdf && v.cdf[key]);
  const toggle = (cur, pairs, set) => h('span', {class: 'toggle'}, pairs.map(([v, t]) =>
    h('button', {type: 'button', class: v === cur ? 'on' : '', onclick: () => set(v)}, t)));
  const dist = section('Distribution',
    h('div', {class: 'row'},
      h('span', {class: 'muted small'}, mode === 'tail'
        ? 'Share of inferences slower than x (log scale): the long tail stays visible down to ' +
          'the slowest few.'
        : 'Share of inferences at most x; the dotted line is 95 %.'),
      h('span', {class: 'spacer'}),
      toggle(metric, [['latency', 'latency'], ['ttft', 'time to first token']],
        (v) => go({metric: v})),
      toggle(mode, [['tail', 'tail'], ['cdf', 'CDF']], (v) => go({mode: v}))),
    distribution({series: dseries.map((v) => ({name: variantName(v), cdf: v.cdf[key]})),
      mode, slo: slo ? (metric === 'ttft' ? slo.ttft_p95_ms : slo.p95_ms) : null}),
    legend(dseries.map(variantName)));

  const withData = d.variants.filter((v) => v.classes.length);
  const chosen = withData.find((v) => variantName(v) === params.get('variant')) || withData[0];
  let classes;
  if (chosen) {
    const rows = [...chosen.classes].sort((a, b) =>
      ((b.latency_ms || {}).p95 || 0) - ((a.latency_ms || {}).p95 || 0));
    classes = section('Per device class',
      h('div', {class: 'row'}, h('span', {class: 'muted small'},
        'Worst p95 first. A class is OS/arch/accelerator/RAM tier/cores tier.'),
      h('span', {class: 'spacer'}),
      h('select', {'aria-label': 'variant', onchange: (e) => go({variant: e.target.value})},
        withData.map((v) => h('option', {value: variantName(v), selected: v === chosen},
          variantName(v))))),
      table(['device class', h('th', {class: 'r'}, 'reports'), h('th', {class: 'r'}, 'inferences'),
        h('th', {class: 'r'}, 'errors'), ...Q.map((q) => h('th', {class: 'r'}, q)),
        h('th', {class: 'r'}, 'TTFT p95')],
      rows.map((c) => {
        const p = (...k) => ['variants', {model: chosen.model, variant: chosen.variant}, 'classes',
          {class: c.class}, ...k];
        return h('tr', {dataset: {class: c.class}},
          h('td', {}, h('a', {href: link('tail', {feature: name, class: c.class, degraded: '',
            target: chosen.variant === 'server' ? 'server' : variantName(chosen)})}, c.class)),
          h('td', {class: 'r'}, num(c.reports, fmt.count, src, p('reports'))),
          h('td', {class: 'r'}, num(c.samples, fmt.count, src, p('samples'))),
          h('td', {class: 'r'}, fmt.share(c.error_rate)),
          Q.map((q) => qcell((c.latency_ms || {})[q] ?? null, src, p('latency_ms', q),
            q === 'p95' && slo ? slo.p95_ms : null)),
          qcell((c.ttft_ms || {}).p95 ?? null, src, p('ttft_ms', 'p95'),
            slo ? slo.ttft_p95_ms : null));
      })));
  }
  return h('div', {}, head, variants, dist, classes || null,
    h('p', {class: 'muted small'}, `Merged from the hourly per-class rollups of the ${
      WINDOWS.find(([v]) => v === hours)?.[1] || `last ${hours} h`}; quantiles are within 1 %.`));
}
