// Rollouts: each rollout's canary against its control per device class,
// the guardrail's verdicts, and halt / resume (GET /v1/fleet/rollouts,
// POST /v1/fleet/rollouts/{model}/{variant}/halt|resume).

import {api, h, num, section, table} from '../core.js';
import * as fmt from '../format.js';

export const live = true;
export const title = () => 'rollouts';
const SRC = '/v1/fleet/rollouts';

function side(s, path) {
  if (!s) return [h('td', {class: 'r'}, '—'), h('td', {class: 'r'}, '—'), h('td', {class: 'r'}, '—'),
    h('td', {class: 'r'}, '—')];
  return [
    h('td', {class: 'r'}, num(s.samples, fmt.count, SRC, [...path, 'samples'])),
    h('td', {class: 'r'}, num(s.p50 ?? null, fmt.ms, SRC, [...path, 'p50'])),
    h('td', {class: 'r'}, num(s.p95 ?? null, fmt.ms, SRC, [...path, 'p95'])),
    h('td', {class: 'r'}, num(s.error_rate ?? null, fmt.share, SRC, [...path, 'error_rate'])),
  ];
}

function comparisonRow(label, g, path) {
  return h('tr', {dataset: {group: label}},
    h('td', {}, label),
    side(g.canary, [...path, 'canary']),
    side(g.control, [...path, 'control']),
    h('td', {}, h('span', {class: `badge ${g.verdict || ''}`}, g.verdict || '—'),
      g.verdict === 'waiting' && g.samples_needed ? h('div', {class: 'small muted'},
        `${fmt.count(g.samples_needed)} inferences a side needed`) : null));
}

function action(ro, rerender) {
  const name = `${ro.model}/${ro.variant}`;
  const verb = ro.state === 'running' ? 'halt' : ro.state === 'halted' ? 'resume' : null;
  if (!verb) return null;
  const reason = h('input', {type: 'text', maxlength: 200, placeholder: 'reason (optional)',
    'aria-label': `reason to ${verb} ${name}`});
  const status = h('span', {class: 'small'});
  const button = h('button', {type: 'button', class: verb === 'halt' ? 'danger' : '',
    dataset: {action: verb, rollout: name},
    onclick: async () => {
      const what = verb === 'halt'
        ? `Halt the rollout of ${name}? Every device goes back to release ${ro.control_version}.`
        : `Resume the rollout of ${name}? The guardrail will no longer halt it.`;
      if (!window.confirm(what)) return;
      button.disabled = true;
      try {
        const body = reason.value.trim() ? {reason: reason.value.trim()} : {};
        await api(`/v1/fleet/rollouts/${encodeURIComponent(ro.model)}/${
          encodeURIComponent(ro.variant)}/${verb}`, {method: 'POST', body});
        rerender();
      } catch (e) {
        status.textContent = e.message;
        status.className = 'small error';
        button.disabled = false;
      }
    }}, verb === 'halt' ? 'Halt rollout' : 'Resume rollout');
  return h('div', {class: 'row'}, reason, button, status);
}

function card(ro, rerender) {
  const name = `${ro.model}/${ro.variant}`;
  const path = [{model: ro.model, variant: ro.variant}];
  const cmp = ro.comparison || {overall: null, classes: []};
  const head = ['device class', h('th', {class: 'r'}, 'canary n'), h('th', {class: 'r'}, 'p50'),
    h('th', {class: 'r'}, 'p95'), h('th', {class: 'r'}, 'errors'),
    h('th', {class: 'r'}, 'control n'), h('th', {class: 'r'}, 'p50'),
    h('th', {class: 'r'}, 'p95'), h('th', {class: 'r'}, 'errors'), 'guardrail'];
  const rows = [];
  if (cmp.overall) rows.push(comparisonRow('all classes', cmp.overall,
    ['rollouts', ...path, 'comparison', 'overall']));
  for (const c of cmp.classes || []) {
    rows.push(comparisonRow(c.class, c, ['rollouts', ...path, 'comparison', 'classes',
      {class: c.class}]));
  }
  return h('section', {class: 'card', dataset: {rollout: name}},
    h('div', {class: 'row'}, h('h2', {}, name),
      h('span', {class: `badge ${ro.state}`, dataset: {state: ro.state}}, ro.state),
      ro.forced ? h('span', {class: 'badge'}, 'forced by an operator') : null,
      h('span', {class: 'spacer'}),
      h('span', {class: 'muted'}, `release ${ro.version} to `,
        num(ro.percent, fmt.percent, SRC, ['rollouts', ...path, 'percent']),
        ` · control ${ro.control_version} · margin ${fmt.share(ro.margin)}`)),
    ro.reason ? h('p', {class: ro.state === 'halted' ? 'error' : 'muted'}, ro.reason) : null,
    h('p', {class: 'small muted'}, `started ${fmt.date(ro.started)} · updated ${
      fmt.date(ro.updated)}`),
    table(head, rows),
    action(ro, rerender));
}

export async function render({rerender}) {
  const d = await api(SRC);
  return h('div', {},
    h('div', {class: 'page-head'}, h('h1', {}, 'Rollouts'),
      h('span', {class: 'muted'}, 'The canary (the latest release) against the control (the one ' +
        'before) per device class. The guardrail halts a rollout whose canary is worse.')),
    d.rollouts.length ? d.rollouts.map((ro) => card(ro, rerender))
      : section('No rollout', h('p', {class: 'muted'}, 'Start one with ',
        h('code', {}, 'tailorctl rollout start --data DIR MODEL/VARIANT --percent 10'), '.')));
}
