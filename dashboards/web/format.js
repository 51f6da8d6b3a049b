// format: numbers, durations, sizes, shares and dates for people.
//
// Every function takes the raw value the API returned and gives the text
// shown; null or undefined become an em dash. The browser test parses these
// texts back (tests/browser/dashboard.mjs), so keep the units it knows:
// ms, s, min, h; B, KiB, MiB, GiB, TiB; %; ×; k and M for counts.

const DASH = '—';
const nf0 = new Intl.NumberFormat('en-US', {maximumFractionDigits: 0});

function missing(v) {
  return v === null || v === undefined || Number.isNaN(v);
}

/** A count: 1,234 (exact below a million), then 1.23 M. */
export function count(v) {
  if (missing(v)) return DASH;
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toPrecision(3)} M`;
  return nf0.format(v);
}

/** Milliseconds: 850 ms, 12.4 ms, 1.24 s, 2.5 min. */
export function ms(v) {
  if (missing(v)) return DASH;
  const a = Math.abs(v);
  if (a < 10) return `${v.toFixed(2)} ms`;
  if (a < 100) return `${v.toFixed(1)} ms`;
  if (a < 1000) return `${v.toFixed(0)} ms`;
  if (a < 60e3) return `${(v / 1e3).toFixed(a < 10e3 ? 2 : 1)} s`;
  if (a < 3600e3) return `${(v / 60e3).toFixed(1)} min`;
  return `${(v / 3600e3).toFixed(1)} h`;
}

/** Bytes in binary units: 512 B, 1.5 KiB, 87.3 MiB. */
export function bytes(v) {
  if (missing(v)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = v, u = 0;
  while (Math.abs(x) >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  if (u === 0) return `${x.toFixed(0)} B`;
  return `${x.toFixed(Math.abs(x) < 10 ? 2 : 1)} ${units[u]}`;
}

/** Bytes per second. */
export function rate(v) {
  return missing(v) ? DASH : `${bytes(v)}/s`;
}

/** A share 0..1 as a percentage: 97.5 %, 100 %, 0.12 %. */
export function share(v) {
  if (missing(v)) return DASH;
  const p = v * 100;
  if (p === 0 || p === 100) return `${p.toFixed(0)} %`;
  if (Math.abs(p) < 1) return `${p.toFixed(2)} %`;
  return `${p.toFixed(1)} %`;
}

/** A percentage given as 0..100 (a rollout's): 10 %. */
export function percent(v) {
  return missing(v) ? DASH : `${v} %`;
}

/** A ratio: 1.6×. */
export function ratio(v) {
  if (missing(v)) return DASH;
  return `${v.toFixed(v < 10 ? 2 : 1)}×`;
}

const dtf = new Intl.DateTimeFormat('en-GB', {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const tf = new Intl.DateTimeFormat('en-GB', {hour: '2-digit', minute: '2-digit'});

/** Unix seconds as a local date and time: "24 Nov, 18:52:35". */
export function date(unix) {
  if (missing(unix) || unix === 0) return DASH;
  return dtf.format(new Date(unix * 1000));
}

const tsf = new Intl.DateTimeFormat('en-GB', {hour: '2-digit', minute: '2-digit', second: '2-digit'});

/** Unix seconds as a local time of day: "18:52" ("18:52:05" with `seconds`). */
export function time(unix, seconds = false) {
  return missing(unix) ? DASH : (seconds ? tsf : tf).format(new Date(unix * 1000));
}

/** How long ago, from `now` (Unix seconds): "just now", "5 min ago", "3 d ago". */
export function ago(unix, now = Date.now() / 1000) {
  if (missing(unix) || unix === 0) return DASH;
  const d = Math.max(0, now - unix);
  if (d < 45) return 'just now';
  if (d < 3600) return `${Math.round(d / 60)} min ago`;
  if (d < 86400) return `${Math.round(d / 3600)} h ago`;
  return `${Math.round(d / 86400)} d ago`;
}

/** A duration in seconds: 45 s, 12 min, 3 h, 2 d. */
export function seconds(v) {
  if (missing(v)) return DASH;
  if (v < 60) return `${Math.round(v)} s`;
  if (v < 3600) return `${Math.round(v / 60)} min`;
  if (v < 86400) return `${Math.round(v / 3600)} h`;
  return `${Math.round(v / 86400)} d`;
}

/** MiB (as devices report RAM and storage) in binary units. */
export function mib(v) {
  return missing(v) ? DASH : bytes(v * 1024 * 1024);
}
