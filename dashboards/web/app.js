// app: the dashboard's shell: sign-in, the hash router (#/PAGE[/ARG][?query]),
// rendering a page, periodic refresh, and the page state the browser test
// waits for (<html data-state="loading|ready|error" data-page="NAME">).

import {api, h, setToken, token, Unauthorized} from './core.js';
import * as fmt from './format.js';
import * as fleet from './pages/fleet.js';
import * as feature from './pages/feature.js';
import * as tail from './pages/tail.js';
import * as device from './pages/device.js';
import * as rollouts from './pages/rollouts.js';
import * as delivery from './pages/delivery.js';

const pages = {fleet, feature, tail, device, rollouts, delivery};
const REFRESH_MS = 15000;
const $ = (id) => document.getElementById(id);
let generation = 0;

function route() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const [name, ...rest] = path.split('/');
  return {name: name || 'fleet', arg: rest.length ? decodeURIComponent(rest.join('/')) : '',
          params: new URLSearchParams(query)};
}

function setState(state, page = '') {
  document.documentElement.dataset.state = state;
  document.documentElement.dataset.page = page;
  document.documentElement.dataset.route = location.hash;
}

function showSignin(message) {
  $('app').hidden = true;
  $('nav').hidden = true;
  $('session').hidden = true;
  $('signin-page').hidden = false;
  const err = $('signin-error');
  err.hidden = !message;
  err.textContent = message || '';
  $('token').focus();
  setState('ready', 'signin');
}

/** Renders the page the hash names; `quiet` keeps the old content until the new is ready. */
async function render({quiet = false} = {}) {
  if (!token()) {
    showSignin();
    return;
  }
  const gen = ++generation;
  const r = route();
  const page = pages[r.name];
  if (!page) {
    location.hash = '#/fleet';
    return;
  }
  $('signin-page').hidden = true;
  $('app').hidden = false;
  $('nav').hidden = false;
  $('session').hidden = false;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.nav === r.name ||
      (r.name === 'device' && a.dataset.nav === 'tail'));
  }
  if (!quiet) setState('loading', r.name);
  try {
    const node = await page.render({arg: r.arg, params: r.params, rerender: () => render()});
    if (gen !== generation) return;
    $('page').replaceChildren(node);
    document.title = `tailor · ${page.title ? page.title(r) : r.name}`;
    $('refreshed').textContent = `updated ${fmt.time(Date.now() / 1000)}`;
    setState('ready', r.name);
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof Unauthorized) {
      setToken(null);
      showSignin('The server refused the operator token (revoked, or not an operator token). Sign in again.');
      return;
    }
    $('page').replaceChildren(h('div', {class: 'card'}, h('h2', {}, 'Cannot show this page'),
      h('p', {class: 'error'}, e.message)));
    setState('error', r.name);
  }
}

async function signIn(ev) {
  ev.preventDefault();
  const t = $('token').value.trim();
  const button = $('signin-submit');
  button.disabled = true;
  try {
    await api('/v1/fleet/features', {tokenOverride: t});
    setToken(t);
    $('token').value = '';
    if (!location.hash || location.hash === '#/') location.hash = '#/fleet';
    await render();
  } catch (e) {
    showSignin(e instanceof Unauthorized
      ? 'That token was refused: it must be a valid operator token (tk_op_…), not revoked.'
      : `Cannot reach tailord: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

function start() {
  $('signin').addEventListener('submit', signIn);
  $('signout').addEventListener('click', () => {
    setToken(null);
    showSignin();
  });
  $('refresh').addEventListener('click', () => render({quiet: true}));
  window.addEventListener('hashchange', () => render());
  setInterval(() => {
    const p = pages[route().name];
    if (token() && p && p.live && document.visibilityState === 'visible') render({quiet: true});
  }, REFRESH_MS);
  render();
}

start();
