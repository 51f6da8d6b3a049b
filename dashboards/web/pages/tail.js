// The long tail: devices (degraded by default), filterable and sortable,
// with capability, measured tail against class peers, current variant and
// the last decision's reason; a row opens the device
// (GET /v1/fleet/devices).

import {api, deviceLink, h, link, num, section, targetName} from '../core.js';
import * as fmt from '../format.js';

export const title = () => 'long tail';

const LIMIT = 50;
const COLUMNS = [
  // [label, sort key or null, right-aligned]
  ['device', 'install_id', false],
  ['device class', 'class', false],
  ['capability', null, false],
  ['assigned', null, false],
  ['p95 (latest)', 'p95', true],
  ['class p95', null, true],
  ['vs class', null, true],
  ['median vs peers', 'speed', true],
  ['last decision', 'updated', false],
];

function capability(c) {
  if (!c) return '—';
  const accel = c.npu || c.gpu || c.webgpu_adapter;
  return h('span', {class: 'small'}, `${fmt.mib(c.ram_mb)} RAM · ${c.cores} cores`,
    h('br'), h('span', {class: 'muted'}, accel ? accel : (c.cpu_model || 'cpu')));
}

export async function render({params}) {
  const q = {
    degraded: params.has('degraded') ? params.get('degraded') : 'true',
    feature: params.get('feature') || '',
    class: params.get('class') || '',
    target: params.get('target') || '',
    sort: params.get('sort') || 'p95',
    order: params.get('order') || '',
    offset: Number(params.get('offset')) || 0,
  };
  const qs = new URLSearchParams({limit: String(LIMIT), offset: String(q.offset), sort: q.sort});
  for (const k of ['degraded', 'feature', 'class', 'target', 'order']) if (q[k]) qs.set(k, q[k]);
  const src = `/v1/fleet/devices?${qs}`;
  const [d, {features}] = await Promise.all([api(src), api('/v1/fleet/features')]);
  const go = (p) => {
    location.hash = link('tail', {...q, offset: 0, ...p});
  };
  const descending = q.order ? q.order === 'desc' : !['class', 'install_id'].includes(q.sort);

  const select = (label, key, options) => h('label', {}, label,
    h('select', {'aria-label': label, dataset: {filter: key},
      onchange: (e) => go({[key]: e.target.value})},
    options.map(([v, t]) => h('option', {value: v, selected: v === q[key]}, t))));
  const classes = d.facets.classes.map((c) => [c.value, `${c.value} (${c.devices})`]);
  if (q.class && !classes.some(([v]) => v === q.class)) classes.unshift([q.class, q.class]);
  const targets = d.facets.targets.map((t) => [t.value, `${t.value} (${t.devices})`]);
  if (q.target && !targets.some(([v]) => v === q.target)) targets.unshift([q.target, q.target]);
  const filters = h('div', {class: 'filters'},
    select('devices', 'degraded', [['true', 'degraded only'], ['', 'all with an assignment'],
      ['false', 'not degraded']]),
    select('feature', 'feature', [['', 'any'], ...features.map((f) => [f.name, f.name])]),
    select('device class', 'class', [['', 'any'], ...classes]),
    select('assigned', 'target', [['', 'any'], ...targets]));

  const head = h('tr', {}, COLUMNS.map(([label, key, right]) => {
    const sorted = key && key === q.sort;
    return h('th', {
      class: [right ? 'r' : '', key ? 'sortable' : '', sorted ? 'sorted' : '',
        sorted && !descending ? 'asc' : ''].join(' ').trim() || null,
      dataset: key ? {sort: key} : {},
      onclick: key ? () => go({sort: key, order: sorted ? (descending ? 'asc' : 'desc') : ''})
        : null,
    }, label);
  }));
  const rows = d.devices.map((x, i) => {
    const p = (k) => ['devices', i, k];
    const over = x.p95_vs_class !== null && x.p95_vs_class >= 1.6;
    return h('tr', {class: 'clickable', dataset: {device: x.install_id},
      onclick: (e) => {
        if (!e.target.closest('a')) location.hash = link(`device/${x.install_id}`);
      }},
    h('td', {}, deviceLink(x.install_id), x.degraded ? [' ', h('span', {class: 'badge degraded'},
      'degraded')] : null, h('div', {class: 'small muted'}, x.feature)),
    h('td', {class: 'small'}, x.class || '—'),
    h('td', {}, capability(x.capability)),
    h('td', {}, targetName(x), x.version ? h('span', {class: 'muted'}, ` @${x.version}`) : null),
    h('td', {class: 'r'}, num(x.p95_ms, fmt.ms, src, p('p95_ms'))),
    h('td', {class: 'r'}, num(x.class_p95_ms, fmt.ms, src, p('class_p95_ms'))),
    h('td', {class: 'r'}, num(x.p95_vs_class, fmt.ratio, src, p('p95_vs_class'),
      {class: over ? 'over' : ''})),
    h('td', {class: 'r'}, num(x.speed, fmt.ratio, src, p('speed'),
      {class: x.speed >= 1.6 ? 'over' : ''})),
    h('td', {class: 'reason'}, x.reason, h('div', {class: 'small'}, fmt.ago(x.updated, d.now))));
  });
  const tableNode = h('table', {id: 'tail-table'}, h('thead', {}, head),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', {colspan: COLUMNS.length,
      class: 'empty'}, 'No device matches these filters.'))));
  const last = Math.min(d.total, q.offset + d.devices.length);
  const pager = h('div', {class: 'pager'},
    h('span', {class: 'muted'}, d.total ? `${fmt.count(q.offset + 1)}–${fmt.count(last)} of ` : '',
      num(d.total, fmt.count, src, ['total']), ' devices'),
    h('button', {type: 'button', class: 'secondary', disabled: q.offset === 0,
      onclick: () => go({offset: Math.max(0, q.offset - LIMIT)})}, 'Previous'),
    h('button', {type: 'button', class: 'secondary', disabled: last >= d.total,
      onclick: () => go({offset: q.offset + LIMIT})}, 'Next'));
  return h('div', {},
    h('div', {class: 'page-head'}, h('h1', {}, 'Long tail'),
      h('span', {class: 'muted'}, 'Devices whose measured tail is far worse than their class ' +
        'peers\' or over the SLO. p95 is their latest report\'s; the class\'s is over the last ' +
        '24 h on the same variant.')),
    section('Devices', filters, tableNode, pager));
}
