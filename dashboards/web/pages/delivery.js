// Delivery: what tailord served since it started (bytes, ranges and
// resumed downloads, errors) and what the SDKs reported about their
// fetches, with the slowest clients (GET /v1/fleet/delivery).

import {api, deviceLink, h, kpi, num, section, table} from '../core.js';
import * as fmt from '../format.js';

export const live = true;
export const title = () => 'delivery';

export async function render({params}) {
  const hours = Number(params.get('hours')) || 24;
  const src = `/v1/fleet/delivery?hours=${hours}`;
  const d = await api(src);
  const s = d.served, r = d.reported;
  const served = h('div', {class: 'kpis'},
    kpi('Bytes served', num(s.bytes, fmt.bytes, src, ['served', 'bytes']),
      `since tailord started, ${fmt.date(s.since)}`),
    kpi('Responses', num(s.responses, fmt.count, src, ['served', 'responses']),
      'objects, manifests, catalogue'),
    kpi('Range requests', num(s.range_share, fmt.share, src, ['served', 'range_share']),
      [num(s.range_requests, fmt.count, src, ['served', 'range_requests']), ' of ',
        num(s.object_requests, fmt.count, src, ['served', 'object_requests']), ' object answers']),
    kpi('Resumed downloads', num(s.resume_share, fmt.share, src, ['served', 'resume_share']),
      [num(s.resumed_requests, fmt.count, src, ['served', 'resumed_requests']),
        ' with a holding If-Range']),
    kpi('4xx', num(s.status_4xx, fmt.count, src, ['served', 'status_4xx'],
      {class: s.status_4xx ? 'over' : ''})),
    kpi('5xx', num(s.status_5xx, fmt.count, src, ['served', 'status_5xx'],
      {class: s.status_5xx ? 'over' : ''})),
    kpi('Cut off', num(s.aborted, fmt.count, src, ['served', 'aborted']),
      'connections that ended mid-response'));
  const routes = section('Per route, since start',
    table(['route', h('th', {class: 'r'}, 'responses'), h('th', {class: 'r'}, 'bytes'),
      h('th', {class: 'r'}, '4xx'), h('th', {class: 'r'}, '5xx'), h('th', {class: 'r'}, 'cut off')],
    s.routes.map((x) => h('tr', {},
      h('td', {}, x.route),
      h('td', {class: 'r'}, num(x.responses, fmt.count, src, ['served', 'routes',
        {route: x.route}, 'responses'])),
      h('td', {class: 'r'}, num(x.bytes, fmt.bytes, src, ['served', 'routes', {route: x.route},
        'bytes'])),
      h('td', {class: 'r'}, fmt.count(x.status_4xx)),
      h('td', {class: 'r'}, fmt.count(x.status_5xx)),
      h('td', {class: 'r'}, fmt.count(x.aborted))))));

  const reported = section(`Reported by the SDKs, last ${hours === 24 ? '24 h' : `${hours} h`}`,
    h('div', {class: 'kpis'},
      kpi('Fetches', num(r.fetches, fmt.count, src, ['reported', 'fetches'])),
      kpi('Succeeded', num(r.ok, fmt.count, src, ['reported', 'ok'])),
      kpi('Failed', num(r.failed, fmt.count, src, ['reported', 'failed'],
        {class: r.failed ? 'over' : ''})),
      kpi('Downloaded', num(r.bytes, fmt.bytes, src, ['reported', 'bytes'])),
      kpi('Resumed', num(r.resumed_share, fmt.share, src, ['reported', 'resumed_share']),
        [num(r.bytes_resumed, fmt.bytes, src, ['reported', 'bytes_resumed']),
          ' already on devices']),
      kpi('Objects reused', num(r.objects_reused, fmt.count, src, ['reported', 'objects_reused']),
        'shards a device had from another release')),
    r.truncated ? h('p', {class: 'notice'}, 'Only the newest reports were read.') : null,
    r.errors.length ? table(['error', h('th', {class: 'r'}, 'fetches')], r.errors.map((e) =>
      h('tr', {}, h('td', {class: 'mono'}, e.code), h('td', {class: 'r'}, fmt.count(e.count)))))
      : h('p', {class: 'muted'}, 'No failed fetch reported.'));

  const slowest = section('Slowest clients',
    h('p', {class: 'muted small'}, 'Successful fetches of at least 64 KiB, the lowest throughput ' +
      'first.'),
    table(['device', 'device class', 'release', h('th', {class: 'r'}, 'downloaded'),
      h('th', {class: 'r'}, 'took'), h('th', {class: 'r'}, 'throughput'), 'reported'],
    d.slowest.map((x, i) => h('tr', {dataset: {device: x.install_id}},
      h('td', {}, deviceLink(x.install_id)),
      h('td', {class: 'small'}, x.class || '—'),
      h('td', {}, `${x.model}/${x.variant}@${x.version}`),
      h('td', {class: 'r'}, num(x.bytes, fmt.bytes, src, ['slowest', i, 'bytes'])),
      h('td', {class: 'r'}, num(x.duration_ms, fmt.ms, src, ['slowest', i, 'duration_ms'])),
      h('td', {class: 'r'}, num(x.bytes_per_s, fmt.rate, src, ['slowest', i, 'bytes_per_s'])),
      h('td', {}, fmt.ago(x.received, d.now))))));

  return h('div', {},
    h('div', {class: 'page-head'}, h('h1', {}, 'Delivery'),
      h('span', {class: 'muted'}, 'Model shards and manifests served, and what devices saw.')),
    served, routes, reported, slowest);
}
