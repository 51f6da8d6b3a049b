// One device: its capability, assignments with the decisions' reasons,
// the history of changes, its statistics and latest reports
// (GET /v1/devices/{install_id}).

import {api, h, link, num, section, table, targetName} from '../core.js';
import {sparkline} from '../charts.js';
import * as fmt from '../format.js';

export const title = (r) => `device ${r.arg.slice(0, 8)}`;

function props(pairs) {
  return h('dl', {class: 'props'}, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k),
    h('dd', {}, v)]));
}

export async function render({arg}) {
  if (!/^[0-9a-f]{32}$/.test(arg)) throw new Error('A device id is 32 lowercase hex digits.');
  const src = `/v1/devices/${arg}`;
  const [d, {features}] = await Promise.all([api(src), api('/v1/fleet/features')]);
  const slo = new Map(features.map((f) => [f.name, f.slo_p95_ms]));
  const c = d.capability || {};
  const assignments = d.assignments || [];
  const changes = d.assignment_history || [];

  const summary = section('Device', props([
    ['install id', h('span', {class: 'mono'}, d.install_id)],
    ['app', d.app],
    ['device class', h('a', {href: link('tail', {class: d.class, degraded: ''})}, d.class)],
    ['first seen', fmt.date(d.first_seen)],
    ['last seen', [num(d.last_seen, fmt.date, src, ['last_seen']), ' (',
      fmt.ago(d.last_seen), ')']],
    ['reports', num(d.reports, fmt.count, src, ['reports'])],
  ]));
  const cap = section('Capability (latest report)', props([
    ['RAM', fmt.mib(c.ram_mb)],
    ['cores', c.cores],
    ['CPU', c.cpu_model],
    ['CPU flags', (c.cpu_flags || []).join(' ') || '—'],
    ['OS', `${c.os || '—'} ${c.os_version || ''}`],
    ['arch', c.arch],
    c.device_model ? ['model', c.device_model] : null,
    c.gpu ? ['GPU', c.gpu] : null,
    c.npu ? ['NPU', c.npu] : null,
    c.webgpu_adapter ? ['WebGPU', c.webgpu_adapter] : null,
    ['free storage', fmt.mib(c.free_storage_mb)],
    c.thermal_state ? ['thermal', c.thermal_state] : null,
    c.battery ? ['battery', `${fmt.share(c.battery.level)}${c.battery.charging ? ', charging' : ''}`]
      : null,
  ]));

  const asg = section('Assignments',
    table(['feature', 'assigned', h('th', {class: 'r'}, 'median vs peers'), 'since',
      h('th', {class: 'r'}, 'changes'), 'why'],
    assignments.map((a) => h('tr', {dataset: {feature: a.feature}},
      h('td', {}, h('a', {href: link(`feature/${a.feature}`)}, a.feature),
        a.degraded ? [' ', h('span', {class: 'badge degraded'}, 'degraded')] : null),
      h('td', {}, targetName(a), a.version ? h('span', {class: 'muted'}, ` @${a.version}`) : null),
      h('td', {class: 'r'}, num(a.speed, fmt.ratio, src, ['assignments', {feature: a.feature},
        'speed'])),
      h('td', {}, fmt.date(a.since)),
      h('td', {class: 'r'}, num(a.changes, fmt.count, src, ['assignments', {feature: a.feature},
        'changes'])),
      h('td', {class: 'reason'}, a.reason)))));

  const hist = section('Assignment history (newest first)',
    table(['when', 'feature', 'from', 'to', 'why'], changes.map((x) => h('tr', {},
      h('td', {}, fmt.date(x.at)), h('td', {}, x.feature), h('td', {}, x.from || 'first'),
      h('td', {}, x.to), h('td', {class: 'reason'}, x.reason)))));

  const series = section('Last 7 days, per series',
    table(['feature', 'model/variant', h('th', {class: 'r'}, 'inferences'),
      h('th', {class: 'r'}, 'errors'), h('th', {class: 'r'}, 'p50'), h('th', {class: 'r'}, 'p95'),
      h('th', {class: 'r'}, 'p99'), h('th', {class: 'r'}, 'latest p95'), 'last report'],
    d.series.map((s) => {
      const p = (...k) => ['series', {feature: s.feature, model: s.model, variant: s.variant},
        ...k];
      const lim = slo.get(s.feature);
      const lat = s.latency_ms || {};
      return h('tr', {},
        h('td', {}, s.feature), h('td', {}, `${s.model}/${s.variant}`),
        h('td', {class: 'r'}, num(s.samples, fmt.count, src, p('samples'))),
        h('td', {class: 'r'}, fmt.count(s.errors)),
        h('td', {class: 'r'}, num(lat.p50 ?? null, fmt.ms, src, p('latency_ms', 'p50'))),
        h('td', {class: 'r'}, num(lat.p95 ?? null, fmt.ms, src, p('latency_ms', 'p95'),
          {class: lim && lat.p95 > lim ? 'over' : ''})),
        h('td', {class: 'r'}, num(lat.p99 ?? null, fmt.ms, src, p('latency_ms', 'p99'))),
        h('td', {class: 'r'}, num(s.last_p95, fmt.ms, src, p('last_p95'),
          {class: lim && s.last_p95 > lim ? 'over' : ''})),
        h('td', {}, fmt.ago(s.last_seen)));
    })));

  // p95 of each recent report, oldest first, for what it runs now.
  const spark = [];
  for (const a of assignments) {
    const variant = a.target === 'server' ? 'server' : a.variant;
    const pts = [...d.history].reverse().flatMap((r) => r.series
      .filter((s) => s.feature === a.feature && s.variant === variant)
      .map((s) => [r.received, s.p95]));
    spark.push(h('div', {}, h('h3', {}, `${a.feature}: p95 per report on ${targetName(a)}`),
      pts.length > 1 ? sparkline(pts, slo.get(a.feature)) : h('p', {class: 'muted'},
        'Fewer than two reports on it yet.')));
  }
  const reports = section('Latest reports',
    spark,
    table(['received', 'window', 'SDK', 'series (p50 / p95 / p99)'],
      d.history.map((r) => h('tr', {},
        h('td', {}, fmt.date(r.received)),
        h('td', {}, fmt.seconds(r.window.end - r.window.start)),
        h('td', {class: 'small'}, `${r.sdk_version} · app ${r.app_version}`),
        h('td', {class: 'small'}, r.series.map((s, i) => [i ? h('br') : null,
          `${s.feature} ${s.model}/${s.variant}@${s.version} (${s.backend}): ${fmt.count(s.samples)}` +
          ` × ${fmt.ms(s.p50)} / ${fmt.ms(s.p95)} / ${fmt.ms(s.p99)}`]))))));

  return h('div', {},
    h('div', {class: 'page-head'}, h('h1', {}, 'Device ', h('span', {class: 'mono'},
      d.install_id.slice(0, 12))), h('a', {href: link('tail')}, '← long tail')),
    h('div', {class: 'grid'}, summary, cap), asg, hist, series, reports);
}
