// Fleet: devices seen, the share within each feature's SLO, the worst
// device classes and variant adoption over time (GET /v1/fleet/overview).

import {api, h, kpi, link, num, section, table} from '../core.js';
import {legend, shareBar, stackedArea} from '../charts.js';
import * as fmt from '../format.js';

export const live = true;
export const title = () => 'fleet';

const WINDOWS = [[1, 'last hour'], [24, 'last 24 h'], [168, 'last 7 days']];

function featureCard(f, src) {
  const p = (k) => ['features', {name: f.name}, k];
  const targets = f.targets.map((t) => h('tr', {},
    h('td', {}, t.target === 'server' ? h('span', {class: 'badge'}, 'server') : t.target),
    h('td', {class: 'r'}, num(t.devices, fmt.count, src, ['features', {name: f.name}, 'targets',
      {target: t.target}, 'devices'])),
    h('td', {class: 'r'}, fmt.share(f.assigned ? t.devices / f.assigned : null)),
    h('td', {}, shareBar(f.assigned ? t.devices / f.assigned : 0, 's0'))));
  return h('section', {class: 'card', dataset: {feature: f.name}},
    h('div', {class: 'row'}, h('h2', {}, h('a', {href: link(`feature/${f.name}`)}, f.name)),
      h('span', {class: 'spacer'}),
      h('span', {class: 'muted'}, 'SLO p95 ', num(f.slo_p95_ms, fmt.ms, src, p('slo_p95_ms')))),
    h('div', {class: 'row'},
      h('div', {class: 'feature-share'}, num(f.within_slo_share, fmt.share, src,
        p('within_slo_share'))),
      h('div', {class: 'muted'}, 'of measured devices within the SLO', h('br'),
        num(f.within_slo, fmt.count, src, p('within_slo')), ' of ',
        num(f.measured, fmt.count, src, p('measured')), ' measured, ',
        num(f.assigned, fmt.count, src, p('assigned')), ' assigned')),
    shareBar(f.within_slo_share, f.within_slo_share !== null && f.within_slo_share < 0.95
      ? 'bad' : ''),
    h('p', {},
      h('a', {href: link('tail', {feature: f.name, degraded: 'true'})},
        num(f.degraded, fmt.count, src, p('degraded')), ' degraded devices'),
      ' (', fmt.share(f.degraded_share), ') · ',
      num(f.server, fmt.count, src, p('server')), ' on server-side inference'),
    table(['assigned target', h('th', {class: 'r'}, 'devices'), h('th', {class: 'r'}, 'share'),
      ''], targets));
}

export async function render({params}) {
  const hours = Number(params.get('hours')) || 24;
  const src = `/v1/fleet/overview?hours=${hours}`;
  const o = await api(src);
  const d = o.devices;
  const head = h('div', {class: 'page-head'}, h('h1', {}, 'Fleet'),
    h('span', {class: 'muted'}, `as of ${fmt.date(o.now)}`));
  const kpis = h('div', {class: 'kpis'},
    kpi('Devices seen, 24 h', num(d.seen_24h, fmt.count, src, ['devices', 'seen_24h'])),
    kpi('Devices seen, 7 days', num(d.seen_7d, fmt.count, src, ['devices', 'seen_7d'])),
    kpi('With an assignment', num(d.assigned, fmt.count, src, ['devices', 'assigned'])),
    kpi('Degraded', h('a', {href: link('tail', {degraded: 'true'})},
      num(d.degraded, fmt.count, src, ['devices', 'degraded'])),
    `${fmt.share(d.assigned ? d.degraded / d.assigned : null)} of assigned devices`));

  const features = o.features.length
    ? h('div', {class: 'grid'}, o.features.map((f) => featureCard(f, src)))
    : h('div', {class: 'notice'}, 'No feature is configured yet: ',
      h('code', {}, 'tailorctl feature set --data DIR NAME --variants M/V,... --slo-p95-ms N'));

  const worst = section('Worst device classes',
    h('p', {class: 'muted small'}, 'Classes with at least 3 measured devices, the lowest share ' +
      'within the SLO first, then the most degraded. A class is OS/arch/accelerator/RAM/cores.'),
    table(['feature', 'device class', h('th', {class: 'r'}, 'devices'),
      h('th', {class: 'r'}, 'within SLO'), h('th', {class: 'r'}, 'degraded')],
    o.worst_classes.map((c, i) => h('tr', {},
      h('td', {}, c.feature),
      h('td', {}, h('a', {href: link('tail', {feature: c.feature, class: c.class,
        degraded: ''})}, c.class)),
      h('td', {class: 'r'}, num(c.assigned, fmt.count, src, ['worst_classes', i, 'assigned'])),
      h('td', {class: 'r'}, num(c.within_slo_share, fmt.share, src,
        ['worst_classes', i, 'within_slo_share'], {class: c.within_slo_share < 0.95 ? 'over' : ''})),
      h('td', {class: 'r'}, num(c.degraded, fmt.count, src, ['worst_classes', i, 'degraded']),
        ' (', fmt.share(c.degraded_share), ')')))));

  const ad = o.adoption;
  const byFeature = new Map();
  for (const s of ad.series) {
    if (!byFeature.has(s.feature)) byFeature.set(s.feature, []);
    byFeature.get(s.feature).push(s);
  }
  const windows = h('select', {'aria-label': 'adoption window', onchange: (e) => {
    location.hash = link('fleet', {hours: e.target.value});
  }}, WINDOWS.map(([v, t]) => h('option', {value: v, selected: v === hours}, t)));
  const adoption = section('Variant adoption',
    h('div', {class: 'row'}, h('span', {class: 'muted small'},
      `Devices assigned each target, every ${fmt.seconds(ad.step_s)} since ${fmt.date(ad.start)}`,
      ad.truncated ? ' (older changes not all read)' : ''), h('span', {class: 'spacer'}), windows),
    [...byFeature.entries()].map(([feat, series]) => h('div', {dataset: {adoption: feat}},
      h('h3', {}, feat),
      stackedArea({start: ad.start, step: ad.step_s,
        series: series.map((s) => ({name: s.target, points: s.points}))}),
      legend(series.map((s) => s.target), []),
      h('p', {class: 'small muted'}, 'Now: ', series.map((s, i) => [i ? ' · ' : '', `${s.target} `,
        num(s.devices, fmt.count, src, ['adoption', 'series', {feature: feat, target: s.target},
          'devices'])])))));
  if (!byFeature.size) adoption.append(h('p', {class: 'muted'}, 'No device has an assignment yet.'));

  return h('div', {}, head, kpis, features, h('div', {class: 'grid'}, worst), adoption);
}
