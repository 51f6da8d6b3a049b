// Drives Debian's chromium (headless, through playwright-core; no browser is
// downloaded) through every page of the tailor dashboard served by a
// running tailord, and prints one TAP line per check ("ok - NAME" /
// "not ok - NAME" followed by "# reason" lines). tests/integration/
// test_browser.sh fills tailord (simulator, fetches, a rollout) and runs it.
//
//   TAILOR_URL=http://127.0.0.1:PORT TAILOR_TOKEN=tk_op_... ARTIFACTS=DIR \
//   [CHROMIUM=/usr/bin/chromium] node dashboard.mjs
//
// Every page must load without a console error or a failed request; every
// number it shows with data-src (see dashboards/web/core.js, num()) must
// equal the JSON API's value at its path, and its text must read back as
// that value to the precision shown; a PNG of every page is saved in
// ARTIFACTS.
import {mkdirSync} from 'node:fs';
import {join} from 'node:path';
import {chromium} from 'playwright-core';
import {exitWithResult, report} from './tap.mjs';

const URL = process.env.TAILOR_URL;
const TOKEN = process.env.TAILOR_TOKEN;
const ARTIFACTS = process.env.ARTIFACTS;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PAGE_TIMEOUT_MS = Number(process.env.PAGE_TIMEOUT_MS || 20000);
if (!URL || !TOKEN || !ARTIFACTS) {
  console.error('usage: TAILOR_URL=... TAILOR_TOKEN=... ARTIFACTS=DIR node dashboard.mjs');
  process.exit(2);
}
mkdirSync(ARTIFACTS, {recursive: true});

async function apiGet(path) {
  const res = await fetch(URL + path, {headers: {Authorization: `Bearer ${TOKEN}`}});
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
  return res.json();
}

/** The value at `path` (keys, indexes, {k: v} matchers) in `doc`, or undefined. */
function resolve(doc, path) {
  let cur = doc;
  for (const step of path) {
    if (cur === null) return null; // the page shows nothing below a missing object
    if (cur === undefined) return undefined;
    if (typeof step === 'object') {
      if (!Array.isArray(cur)) return undefined;
      cur = cur.find((el) => Object.entries(step).every(([k, v]) => el && el[k] === v));
    } else {
      cur = cur[step];
    }
  }
  return cur;
}

const UNITS = {
  ms: 1, s: 1e3, min: 60e3, h: 3600e3,
  B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4,
};

/**
 * Reads a formatted text back: [value, tolerance] (the half unit of its
 * last digit), null for the em dash, undefined when it cannot be read.
 */
function readBack(text, fmt) {
  const t = text.trim();
  if (t === '—') return null;
  let m;
  const tol = (digits, scale) => 0.5 * 10 ** -((digits.split('.')[1] || '').length) * scale;
  switch (fmt) {
    case 'count':
      if ((m = /^(-?[\d.]+) M$/.exec(t))) return [Number(m[1]) * 1e6, tol(m[1], 1e6)];
      if ((m = /^-?[\d,]+$/.exec(t))) return [Number(t.replaceAll(',', '')), 0.5];
      return undefined;
    case 'share':
      if ((m = /^(-?[\d.]+) %$/.exec(t))) return [Number(m[1]) / 100, tol(m[1], 0.01)];
      return undefined;
    case 'percent':
      if ((m = /^(-?[\d.]+) %$/.exec(t))) return [Number(m[1]), tol(m[1], 1)];
      return undefined;
    case 'ratio':
      if ((m = /^(-?[\d.]+)×$/.exec(t))) return [Number(m[1]), tol(m[1], 1)];
      return undefined;
    case 'ms': case 'bytes': case 'rate':
      if ((m = /^(-?[\d.]+) (ms|s|min|h|B|KiB|MiB|GiB|TiB)(\/s)?$/.exec(t)) && UNITS[m[2]]) {
        return [Number(m[1]) * UNITS[m[2]], tol(m[1], UNITS[m[2]])];
      }
      return undefined;
    default:
      return 'skip'; // dates: the raw value is compared, the text is for people
  }
}

/** Compares every data-src number of the page with the API. */
async function checkNumbers(page, required) {
  const shown = await page.$$eval('[data-src]', (els) => els.map((e) => ({
    src: e.dataset.src, path: e.dataset.path, value: e.dataset.value, fmt: e.dataset.fmt,
    text: e.textContent,
  })));
  const problems = [];
  const docs = new Map();
  for (const s of new Set(shown.map((x) => x.src))) docs.set(s, await apiGet(s));
  for (const x of shown) {
    const path = JSON.parse(x.path);
    const want = resolve(docs.get(x.src), path);
    const where = `${x.src} ${x.path}`;
    if (want === undefined) {
      problems.push(`${where}: not in the API's answer`);
      continue;
    }
    const got = x.value === 'null' ? null : Number(x.value);
    if (want === null ? got !== null : got !== want) {
      problems.push(`${where}: the page has ${x.value}, the API ${JSON.stringify(want)}`);
      continue;
    }
    const back = readBack(x.text, x.fmt);
    if (back === 'skip') continue;
    if (back === undefined) {
      problems.push(`${where}: cannot read "${x.text}" (${x.fmt})`);
    } else if (back === null ? want !== null
      : want === null || Math.abs(back[0] - want) > back[1] + Math.abs(want) * 1e-12) {
      problems.push(`${where}: shows "${x.text}" for ${JSON.stringify(want)}`);
    }
  }
  for (const r of required) {
    if (!shown.some((x) => x.src.startsWith(r[0]) && x.path === JSON.stringify(r[1]))) {
      problems.push(`the page does not show ${r[0]} ${JSON.stringify(r[1])}`);
    }
  }
  if (shown.length < 4) problems.push(`only ${shown.length} numbers on the page`);
  return {problems, count: shown.length};
}

/** Console errors, uncaught exceptions and failed requests, while `allowed` says which to ignore. */
function watch(page) {
  const seen = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') seen.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.push(`uncaught: ${e.message}`));
  page.on('requestfailed', (r) => {
    // net::ERR_ABORTED is the browser dropping a request because the test
    // navigated away (a favicon still loading); a server that fails shows as
    // an HTTP status or another net:: error.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') {
      seen.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
    }
  });
  page.on('response', (r) => {
    if (r.status() >= 400) seen.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return seen;
}

async function waitReady(page, name) {
  // Ready for the route now in the address bar, not an earlier one.
  await page.waitForFunction((n) => {
    const d = document.documentElement.dataset;
    return d.state !== 'loading' && d.page === n && d.route === location.hash;
  }, name, {timeout: PAGE_TIMEOUT_MS});
  const state = await page.evaluate(() => document.documentElement.dataset.state);
  if (state !== 'ready') {
    const msg = await page.evaluate(() => document.getElementById('page').textContent);
    throw new Error(`page ${name} is in state ${state}: ${msg.trim().slice(0, 300)}`);
  }
}

async function shot(page, name) {
  await page.screenshot({path: join(ARTIFACTS, `${name}.png`), fullPage: true});
}

/** Runs one check: a name and a function returning a list of problems. */
async function check(name, fn) {
  try {
    report(name, await fn());
  } catch (e) {
    report(name, [e.stack || String(e)]);
  }
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({viewport: {width: 1360, height: 900}});
const page = await context.newPage();
page.setDefaultTimeout(PAGE_TIMEOUT_MS);
const seen = watch(page);
const overview = await apiGet('/v1/fleet/overview');
const feature = overview.features[0]?.name;

await check('signin_page_is_shown_without_a_token', async () => {
  seen.length = 0;
  await page.goto(`${URL}/`);
  await waitReady(page, 'signin');
  const p = [...seen];
  if (!(await page.isVisible('#signin'))) p.push('the sign-in form is not visible');
  if (await page.isVisible('#nav')) p.push('the navigation is visible before signing in');
  await shot(page, 'signin');
  return p;
});

await check('a_refused_token_shows_an_error', async () => {
  seen.length = 0;
  await page.fill('#token', 'tk_op_0000000000000000_not-a-real-token-at-all-000000000000000');
  await page.click('#signin-submit');
  await page.waitForSelector('#signin-error:not([hidden])');
  const text = await page.textContent('#signin-error');
  // The refused sign-in is one 401 (and Chrome's console line about it); nothing else.
  const p = seen.filter((s) => !/401/.test(s));
  if (!/refused/.test(text)) p.push(`the error says "${text}"`);
  if (await page.isVisible('#nav')) p.push('signed in with a bad token');
  return p;
});

await check('signing_in_opens_the_fleet_page', async () => {
  seen.length = 0;
  await page.fill('#token', TOKEN);
  await page.click('#signin-submit');
  await waitReady(page, 'fleet');
  const p = [...seen];
  if (!(await page.isVisible('#nav'))) p.push('no navigation after signing in');
  return p;
});

const pages = [
  ['fleet', '#/fleet', [['/v1/fleet/overview', ['devices', 'seen_24h']],
    ['/v1/fleet/overview', ['devices', 'seen_7d']],
    ['/v1/fleet/overview', ['features', {name: feature}, 'within_slo_share']],
    ['/v1/fleet/overview', ['devices', 'degraded']]]],
  ['feature', `#/feature/${feature}`, [['/v1/fleet/latency', ['slo', 'p95_ms']]]],
  ['tail', '#/tail', [['/v1/fleet/devices', ['total']]]],
  ['rollouts', '#/rollouts', []],
  ['delivery', '#/delivery', [['/v1/fleet/delivery', ['served', 'bytes']],
    ['/v1/fleet/delivery', ['served', 'range_share']],
    ['/v1/fleet/delivery', ['reported', 'fetches']]]],
];
for (const [name, hash, required] of pages) {
  await check(`${name}_page_loads_cleanly_and_matches_the_api`, async () => {
    seen.length = 0;
    await page.goto(`${URL}/${hash}`);
    await waitReady(page, name);
    await page.waitForLoadState('networkidle');
    const {problems, count} = await checkNumbers(page, required);
    await shot(page, name);
    console.log(`# ${name}: ${count} numbers compared`);
    return [...seen, ...problems];
  });
}

await check('feature_page_shows_the_slo_and_every_variant', async () => {
  const d = await apiGet(`/v1/fleet/latency?feature=${feature}`);
  await page.goto(`${URL}/#/feature/${feature}`);
  await waitReady(page, 'feature');
  const p = [];
  for (const v of d.variants) {
    if (!(await page.isVisible(`tr[data-variant="${v.model}/${v.variant}"]`))) {
      p.push(`no row for ${v.model}/${v.variant}`);
    }
  }
  // (A vertical line has an empty box, so it is looked up, not checked for visibility.)
  if ((await page.$$('svg.chart line.slo')).length !== 1) p.push('no SLO line on the distribution');
  const lines = await page.$$eval('svg.chart polyline.line', (els) => els.length);
  if (lines !== d.variants.filter((v) => v.cdf.latency_ms).length) {
    p.push(`${lines} distribution lines for ${d.variants.length} variants`);
  }
  await page.click('.toggle button:text("CDF")');
  await waitReady(page, 'feature');
  await shot(page, 'feature-cdf');
  return p.concat(seen.splice(0));
});

await check('long_tail_sorts_filters_and_opens_a_device', async () => {
  seen.length = 0;
  const p = [];
  await page.goto(`${URL}/#/tail`);
  await waitReady(page, 'tail');
  const values = async (col) => page.$$eval(`#tail-table tbody tr td:nth-child(${col}) .num`,
    (els) => els.map((e) => (e.dataset.value === 'null' ? null : Number(e.dataset.value))));
  const desc = (await values(5)).filter((v) => v !== null);
  if (desc.some((v, i) => i && v > desc[i - 1])) p.push(`p95 not descending: ${desc}`);
  await page.click('th[data-sort="p95"]');
  await page.waitForFunction(() => location.hash.includes('order=asc'));
  await waitReady(page, 'tail');
  const asc = (await values(5)).filter((v) => v !== null);
  if (asc.some((v, i) => i && v < asc[i - 1])) p.push(`p95 not ascending after a click: ${asc}`);
  const options = await page.$$eval('select[data-filter="class"] option', (els) =>
    els.map((e) => e.value).filter(Boolean));
  if (!options.length) p.push('no device class to filter by');
  const cls = options[0];
  await page.selectOption('select[data-filter="class"]', cls);
  await page.waitForFunction((c) => decodeURIComponent(location.hash).includes(c), cls);
  await waitReady(page, 'tail');
  const shownClasses = await page.$$eval('#tail-table tbody tr td:nth-child(2)',
    (els) => els.map((e) => e.textContent));
  if (!shownClasses.length || shownClasses.some((c) => c !== cls)) {
    p.push(`filtered by ${cls}, rows show ${shownClasses.join(', ')}`);
  }
  const api = await apiGet(`/v1/fleet/devices?degraded=true&class=${encodeURIComponent(cls)}`);
  const rows = await page.$$eval('#tail-table tbody tr[data-device]', (els) => els.length);
  if (rows !== Math.min(api.total, 50)) p.push(`${rows} rows, the API has ${api.total}`);
  await shot(page, 'tail-filtered');
  const id = await page.getAttribute('#tail-table tbody tr[data-device]', 'data-device');
  await page.click('#tail-table tbody tr[data-device] td:nth-child(3)');
  await waitReady(page, 'device');
  if (!page.url().endsWith(`#/device/${id}`)) p.push(`clicking a row opened ${page.url()}`);
  const dev = await apiGet(`/v1/devices/${id}`);
  for (const a of dev.assignments) {
    if (!(await page.isVisible(`tr[data-feature="${a.feature}"]`))) {
      p.push(`the device page does not list its assignment for ${a.feature}`);
    }
  }
  const {problems} = await checkNumbers(page, [[`/v1/devices/${id}`, ['reports']]]);
  await shot(page, 'device');
  return p.concat(problems, seen);
});

await check('rollout_can_be_halted_and_resumed', async () => {
  seen.length = 0;
  const p = [];
  const {rollouts} = await apiGet('/v1/fleet/rollouts');
  const ro = rollouts.find((r) => r.state === 'running');
  if (!ro) return ['no running rollout to halt'];
  const name = `${ro.model}/${ro.variant}`;
  page.on('dialog', (d) => d.accept());
  await page.goto(`${URL}/#/rollouts`);
  await waitReady(page, 'rollouts');
  await page.fill(`section[data-rollout="${name}"] input`, 'browser test');
  await page.click(`button[data-action="halt"][data-rollout="${name}"]`);
  await page.waitForSelector(`section[data-rollout="${name}"] [data-state="halted"]`);
  const halted = (await apiGet('/v1/fleet/rollouts')).rollouts.find((r) =>
    r.model === ro.model && r.variant === ro.variant);
  if (halted.state !== 'halted') p.push(`the API says ${halted.state} after halting`);
  if (!/browser test/.test(halted.reason)) p.push(`the reason is "${halted.reason}"`);
  await shot(page, 'rollouts-halted');
  await page.click(`button[data-action="resume"][data-rollout="${name}"]`);
  await page.waitForSelector(`section[data-rollout="${name}"] [data-state="running"]`);
  const resumed = (await apiGet('/v1/fleet/rollouts')).rollouts.find((r) =>
    r.model === ro.model && r.variant === ro.variant);
  if (resumed.state !== 'running' || !resumed.forced) {
    p.push(`after resuming: ${resumed.state}, forced ${resumed.forced}`);
  }
  return p.concat(seen);
});

await check('the_token_survives_a_reload_and_sign_out_forgets_it', async () => {
  seen.length = 0;
  const p = [];
  await page.goto(`${URL}/#/delivery`);
  await waitReady(page, 'delivery');
  await page.reload();
  await waitReady(page, 'delivery');
  await page.click('#signout');
  await waitReady(page, 'signin');
  await page.reload();
  await waitReady(page, 'signin');
  if (await page.isVisible('#nav')) p.push('still signed in after signing out');
  return p.concat(seen);
});

await browser.close();
exitWithResult();
