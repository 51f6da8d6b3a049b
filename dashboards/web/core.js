// core: what every page shares: building DOM nodes (never HTML strings, so
// text from devices cannot become markup), the operator API client, the
// operator token, and links between pages.

const TOKEN_KEY = 'tailor.operator_token';

/** The operator token of this tab, or null. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Thrown by api() when the token is refused (401). */
export class Unauthorized extends Error {}

/** An API error other than 401, with the server's code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(`${message} (${status} ${code})`);
    this.status = status;
    this.code = code;
  }
}

/**
 * Calls the operator API: `path` such as "/v1/fleet/overview?hours=24",
 * with the token; returns the parsed JSON. POST when `body` is given.
 */
export async function api(path, {method = 'GET', body, tokenOverride} = {}) {
  const headers = {Authorization: `Bearer ${tokenOverride ?? token() ?? ''}`};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let doc = null;
  try {
    doc = await res.json();
  } catch {
    doc = null;
  }
  if (res.status === 401) throw new Unauthorized('the operator token was refused');
  if (!res.ok) {
    const e = doc && doc.error ? doc.error : {code: 'http_error', message: res.statusText};
    throw new ApiError(res.status, e.code, e.message);
  }
  return doc;
}

/**
 * Makes an element: h('a', {href: '#/x', class: 'y'}, 'text', child, ...).
 * Attributes starting with "on" are event listeners; `dataset` sets data-*;
 * null and false children are skipped; strings become text nodes.
 */
export function h(tag, attrs = {}, ...children) {
  const svg = ['svg', 'g', 'path', 'line', 'rect', 'text', 'circle', 'polyline', 'title',
               'polygon'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag)
                 : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/**
 * A number shown to people that the browser test checks against the API:
 * `value` formatted by `fmt`, with where it came from (the API path `src`
 * and the JSON path `path`, an array of keys, indexes or {key: value}
 * matchers into arrays). `fmt` must be one of format.js's functions: its
 * name tells the test how to read the text back.
 */
export function num(value, fmt, src, path, attrs = {}) {
  return h('span', {
    ...attrs,
    class: `num ${attrs.class || ''}`.trim(),
    dataset: {src, path: JSON.stringify(path), fmt: fmt.name,
      value: value === null || value === undefined ? 'null' : String(value)},
  }, fmt(value));
}

/** A table: `head` is a list of header cells (strings or nodes), `rows` of row nodes. */
export function table(head, rows, attrs = {}) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, head.map((c) => (c instanceof Node ? c : h('th', {}, c))))),
    h('tbody', {}, rows.length ? rows
      : h('tr', {}, h('td', {colspan: head.length, class: 'empty'}, 'Nothing yet.'))));
}

/** A small labelled figure for a page's top row. */
export function kpi(label, valueNode, note) {
  return h('div', {class: 'kpi'}, h('div', {class: 'kpi-label'}, label),
    h('div', {class: 'kpi-value'}, valueNode), note ? h('div', {class: 'kpi-note'}, note) : null);
}

/** The hash route of a page with query parameters (empty ones left out). */
export function link(page, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return `#/${page}${s ? `?${s}` : ''}`;
}

/** "model/variant" of an assignment-like object, or "server". */
export function targetName(o) {
  if (o.target === 'server') return 'server';
  if (o.target === 'none') return 'none';
  return `${o.model}/${o.variant}`;
}

/** A device id link to its page. */
export function deviceLink(id, text) {
  return h('a', {href: link(`device/${id}`), class: 'mono', title: id}, text ?? id.slice(0, 12));
}

/** A section with a heading. */
export function section(title, ...children) {
  return h('section', {class: 'card'}, h('h2', {}, title), ...children);
}
