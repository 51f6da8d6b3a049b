// A web app fetching model objects from tailord in a real browser: Debian's
// chromium (headless, through playwright-core) opens a page of another
// origin (http://localhost:PORT, served by this script on loopback, so
// tailord is cross-origin and CORS is the browser's own) whose script fetches an
// object whole, by range, resumed with If-Range, conditionally, past its
// end, an unknown one, and a manifest. Prints one TAP line per check ("ok -
// NAME" / "not ok - NAME" and "# reason" lines); tests/integration/
// test_browser_objects.sh publishes the release and runs it.
//
//   TAILOR_URL=http://127.0.0.1:PORT OBJ_ID=... OBJ_SIZE=N OBJ_SHA256=...
//   MANIFEST_PATH=/v1/models/M/variants/V/manifest [CHROMIUM=...] node objects.mjs
//
// The page's origin is localhost, a secure context, so it can hash what it
// received with crypto.subtle (SHA-256; the test computes the expected
// digests with sha256sum).
import {createServer} from 'node:http';
import {chromium} from 'playwright-core';
import {exitWithResult, report} from './tap.mjs';

const env = process.env;
const CHROMIUM = env.CHROMIUM || '/usr/bin/chromium';
for (const k of ['TAILOR_URL', 'OBJ_ID', 'OBJ_SIZE', 'OBJ_SHA256', 'MANIFEST_PATH']) {
  if (!env[k]) {
    console.error(`objects.mjs: ${k} is not set`);
    process.exit(2);
  }
}
// The app's origin: a page served from loopback, as tailord is (a page
// from a public address would need the user's permission to reach a
// loopback one, chromium's Local Network Access).
const app = createServer((req, res) => {
  res.writeHead(200, {'Content-Type': 'text/html'});
  res.end('<!doctype html><title>app</title>');
});
await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
const APP = `http://localhost:${app.address().port}`;

// Runs in the page: every fetch the checks need, each result as plain data.
async function inPage({base, id, size, manifestPath}) {
  const hex = async (buf) =>
    Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', buf)))
        .map((b) => b.toString(16).padStart(2, '0')).join('');
  const pick = (res) => ({
    status: res.status,
    etag: res.headers.get('ETag'),
    contentRange: res.headers.get('Content-Range'),
    contentLength: res.headers.get('Content-Length'),
    acceptRanges: res.headers.get('Accept-Ranges'),
    cacheControl: res.headers.get('Cache-Control'),
    contentType: res.headers.get('Content-Type'),
  });
  const url = `${base}/v1/objects/${id}`;
  const out = {origin: location.origin, secure: isSecureContext};
  try {
    // The first fetch fills the browser's cache; the object is immutable,
    // so the second is answered from it without asking tailord (the test
    // counts the GETs in tailord's access log). Every later request that
    // must reach tailord says cache: 'no-store': a cache may answer a range
    // from the whole object, or ignore the range.
    let res = await fetch(url);
    let buf = await res.arrayBuffer();
    out.whole = {...pick(res), bytes: buf.byteLength, sha256: await hex(buf)};
    res = await fetch(url);
    buf = await res.arrayBuffer();
    out.cached = {...pick(res), bytes: buf.byteLength, sha256: await hex(buf)};
    const ns = (headers) => ({cache: 'no-store', headers});

    res = await fetch(url, ns({Range: 'bytes=100-199'}));
    buf = await res.arrayBuffer();
    const whole = new Uint8Array(await (await fetch(url)).arrayBuffer());
    out.range = {...pick(res), bytes: buf.byteLength,
      sameAsSlice: await hex(buf) === await hex(whole.slice(100, 200))};

    // A download cut off at half, then resumed: If-Range is not a
    // CORS-safelisted header, so the browser preflights it.
    const half = Math.floor(size / 2);
    res = await fetch(url, ns({Range: `bytes=0-${half - 1}`}));
    const first = new Uint8Array(await res.arrayBuffer());
    const r1 = pick(res);
    res = await fetch(url, ns({'Range': `bytes=${half}-`, 'If-Range': `"${id}"`}));
    const rest = new Uint8Array(await res.arrayBuffer());
    const joined = new Uint8Array(first.length + rest.length);
    joined.set(first);
    joined.set(rest, first.length);
    out.resume = {first: r1, rest: pick(res), bytes: joined.byteLength, sha256: await hex(joined)};

    res = await fetch(url, ns({'If-None-Match': `"${id}"`}));
    out.notModified = {...pick(res), bytes: (await res.arrayBuffer()).byteLength};

    res = await fetch(url, ns({Range: `bytes=${size}-`}));
    out.unsatisfiable = {...pick(res), body: await res.text()};

    res = await fetch(`${base}/v1/objects/${'0'.repeat(64)}`, ns({}));
    out.unknown = {...pick(res), body: await res.text()};

    res = await fetch(base + manifestPath, ns({}));
    out.manifest = {...pick(res), body: await res.text()};
    res = await fetch(base + manifestPath, ns({'If-None-Match': out.manifest.etag}));
    out.manifest304 = {...pick(res), bytes: (await res.arrayBuffer()).byteLength};
  } catch (e) {
    out.error = String(e);
  }
  return out;
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const page = await (await browser.newContext()).newPage();
const consoleErrors = [];
page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
await page.goto(`${APP}/`);
const size = Number(env.OBJ_SIZE);
const r = await page.evaluate(inPage,
    {base: env.TAILOR_URL, id: env.OBJ_ID, size, manifestPath: env.MANIFEST_PATH});
await browser.close();
app.close();

const etag = `"${env.OBJ_ID}"`;
// expect(problems, what, got, want)
const expect = (p, what, got, want) => {
  if (got !== want) p.push(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
};
const jsonError = (p, body, code) => {
  try {
    const e = JSON.parse(body).error;
    expect(p, 'error code', e && e.code, code);
    if (!e || !e.message) p.push('error has no message');
  } catch {
    p.push(`body is not JSON: ${JSON.stringify(body.slice(0, 80))}`);
  }
};
const checks = {
  page_is_cross_origin_and_a_secure_context(p) {
    expect(p, 'page origin', r.origin, APP);
    expect(p, 'secure context', r.secure, true);
    if (r.error) p.push(`a fetch threw: ${r.error}`);
  },
  whole_object_is_byte_identical_with_readable_headers(p) {
    const w = r.whole || {};
    expect(p, 'status', w.status, 200);
    expect(p, 'bytes', w.bytes, size);
    expect(p, 'SHA-256', w.sha256, env.OBJ_SHA256);
    expect(p, 'ETag', w.etag, etag);
    expect(p, 'Content-Length', w.contentLength, String(size));
    expect(p, 'Accept-Ranges', w.acceptRanges, 'bytes');
    if (!/immutable/.test(w.cacheControl || '')) p.push(`Cache-Control ${w.cacheControl}`);
  },
  a_second_fetch_is_answered_by_the_browser_cache_byte_identical(p) {
    const c = r.cached || {};
    expect(p, 'status', c.status, 200);
    expect(p, 'SHA-256', c.sha256, env.OBJ_SHA256);
  },
  range_is_206_and_the_page_reads_content_range(p) {
    const g = r.range || {};
    expect(p, 'status', g.status, 206);
    expect(p, 'Content-Range', g.contentRange, `bytes 100-199/${size}`);
    expect(p, 'bytes', g.bytes, 100);
    expect(p, 'same bytes as the slice', g.sameAsSlice, true);
  },
  download_resumed_with_if_range_is_byte_identical(p) {
    const s = r.resume || {first: {}, rest: {}};
    const half = Math.floor(size / 2);
    expect(p, 'first status', s.first.status, 206);
    expect(p, 'rest status', s.rest.status, 206);
    expect(p, 'rest Content-Range', s.rest.contentRange, `bytes ${half}-${size - 1}/${size}`);
    expect(p, 'bytes', s.bytes, size);
    expect(p, 'SHA-256', s.sha256, env.OBJ_SHA256);
  },
  if_none_match_gives_the_page_a_304(p) {
    const n = r.notModified || {};
    expect(p, 'status', n.status, 304);
    expect(p, 'bytes', n.bytes, 0);
  },
  range_past_the_end_is_416_and_the_page_reads_the_length(p) {
    const u = r.unsatisfiable || {};
    expect(p, 'status', u.status, 416);
    expect(p, 'Content-Range', u.contentRange, `bytes */${size}`);
    jsonError(p, u.body || '', 'range_not_satisfiable');
  },
  unknown_object_is_a_readable_json_404(p) {
    const u = r.unknown || {};
    expect(p, 'status', u.status, 404);
    jsonError(p, u.body || '', 'not_found');
  },
  manifest_is_fetched_and_revalidated_with_its_etag(p) {
    const m = r.manifest || {};
    expect(p, 'status', m.status, 200);
    if (!m.etag) p.push('no readable ETag');
    try {
      const env2 = JSON.parse(m.body);
      if (!env2.payload || !Array.isArray(env2.signatures)) p.push('not a DSSE envelope');
    } catch {
      p.push('manifest is not JSON');
    }
    const n = r.manifest304 || {};
    expect(p, 'revalidation status', n.status, 304);
  },
};
for (const [name, check] of Object.entries(checks)) {
  const problems = [];
  check(problems);
  report(name, problems);
}
// A 404 and a 416 are logged by chromium as failed resource loads; nothing
// else may be.
const unexpected = consoleErrors.filter((m) => !/status of (404|416)/.test(m));
report('no_other_console_errors', unexpected);
exitWithResult();
