// Shared helpers of the portal: DOM building, the API client, the live
// event stream, feature detection from the OpenAPI document, formatting.

const TOKEN_KEY = 'ocppd.token';
export const API = '/api/v1';

// h builds an element: h('div', {class: 'x', onclick: fn}, 'text', child).
// Attributes starting with "on" become listeners; null/false children and
// attributes are skipped; arrays of children are flattened.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// clear empties el and appends children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function getToken() { return localStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(t) {
  if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY);
}

// ApiError is a failed API call: the HTTP status and the API's error body
// {"error":{"code","message","field"}}.
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.field = field || '';
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// api calls the REST API with the stored token and returns the decoded
// JSON body (null for 204). It throws ApiError on an error status.
export async function api(method, path, body, {token, raw} = {}) {
  const headers = {Authorization: 'Bearer ' + (token ?? getToken())};
  const init = {method, headers};
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    init.body = body;
    headers['Content-Type'] = 'application/octet-stream';
  } else if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(API + path, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'cannot reach ocppd: ' + e.message);
  }
  if (!res.ok) {
    let err = {};
    try { err = (await res.json()).error || {}; } catch { /* not JSON */ }
    if (res.status === 401 && token === undefined) onUnauthorized();
    throw new ApiError(res.status, err.code, err.message || res.statusText, err.field);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const ct = res.headers.get('Content-Type') || '';
  return ct.includes('json') ? res.json() : res.text();
}

// query builds "?a=1&b=2" from an object, skipping empty values; arrays
// repeat the parameter.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === '' || v === null || v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) q.append(k, x);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// ---- feature detection ----

let spec = null;

// loadSpec fetches the OpenAPI document once per login.
export async function loadSpec() {
  spec = await api('GET', '/openapi.json');
  return spec;
}
export function resetSpec() { spec = null; }

// has reports whether the API documents method on path (a template such as
// "/chargepoints/{cp}/shadow").
export function has(method, path) {
  const p = spec?.paths?.[path];
  return !!p && !!p[method.toLowerCase()];
}

// findPath returns the first of the candidate paths the API documents for
// method, or '' — the portal adapts to the API's resource names.
export function findPath(method, ...candidates) {
  return candidates.find((c) => has(method, c)) || '';
}

// fill puts values into a path template: fill('/chargepoints/{cp}', {cp}).
export function fill(tpl, vals) {
  return tpl.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(vals[k] ?? Object.values(vals)[0]));
}

// unavailable is the page shown when this build's API lacks a resource.
export function unavailable(title, what) {
  return h('div', {class: 'panel unavailable', 'data-testid': 'unavailable'},
    h('h2', {}, title),
    h('p', {}, `Not available in this build: the API of this ocppd does not offer ${what}.`));
}

// ---- live events ----

let source = null;
const listeners = new Set();
let streamState = 'closed';
const stateListeners = new Set();

function setStreamState(s) {
  streamState = s;
  for (const fn of stateListeners) fn(s);
}
export function onStreamState(fn) { stateListeners.add(fn); fn(streamState); return () => stateListeners.delete(fn); }

// subscribe calls fn with every event of the live stream (see the API's
// Event schema) until the returned function is called.
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// openStream opens the one server-sent event stream the portal shares.
// EventSource reconnects by itself after errors.
export function openStream() {
  if (source || !has('get', '/events')) return;
  source = new EventSource(API + '/events' + query({access_token: getToken()}));
  setStreamState('connecting');
  source.onopen = () => setStreamState('live');
  source.onerror = () => setStreamState(source && source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  const dispatch = (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    for (const fn of listeners) {
      try { fn(ev); } catch (err) { console.error(err); }
    }
  };
  source.addEventListener('message', dispatch);
  source.addEventListener('lifecycle', dispatch);
  source.addEventListener('error', (e) => {
    // The server's "event: error" (a slow client dropped) carries data;
    // EventSource's own errors do not. Reconnect either way.
    if (e.data && source) { source.close(); source = null; setStreamState('reconnecting'); setTimeout(openStream, 1000); }
  });
}

export function closeStream() {
  if (source) source.close();
  source = null;
  setStreamState('closed');
}

// ---- formatting ----

export function fmtTime(t) {
  if (!t) return '—';
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  return d.toLocaleString(undefined, {year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit'});
}

// ago is a short relative time: "5 s ago", "3 min ago".
export function ago(t) {
  if (!t) return '—';
  const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
  if (isNaN(s)) return '—';
  if (s < 5) return 'just now';
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function fmtNum(n, digits = 0) {
  if (n === null || n === undefined || isNaN(n)) return '—';
  return Number(n).toLocaleString(undefined, {maximumFractionDigits: digits, minimumFractionDigits: digits});
}

// versionLabel turns a subprotocol into a short OCPP version.
export function versionLabel(p) {
  return ({'ocpp1.6': '1.6', 'ocpp2.0.1': '2.0.1', 'ocpp2.1': '2.1'})[p] || p || '—';
}

// firmwareOf reads the firmware version from a shadow's reported state
// (the BootNotification of 1.6 or 2.x).
export function firmwareOf(reported) {
  if (!reported) return '';
  return reported.firmwareVersion || reported.chargingStation?.firmwareVersion || '';
}

export function pretty(v) { return JSON.stringify(v ?? null, null, 2); }

// errorBox renders an error (ApiError or other) for a form.
export function errorBox(err) {
  const field = err.field ? ` (field: ${err.field})` : '';
  return h('div', {class: 'error', role: 'alert'}, `${err.message}${field}`);
}

// badge renders a status word with a colour class.
export function badge(text, kind) {
  return h('span', {class: `badge ${kind || statusKind(text)}`}, text || '—');
}

export function statusKind(s) {
  switch (String(s || '').toLowerCase()) {
    case 'online': case 'available': case 'accepted': case 'charging': case 'active': case 'enabled': case 'completed': case 'installed': case 'answered': case 'succeeded':
      return 'ok';
    case 'faulted': case 'rejected': case 'failed': case 'unavailable': case 'offline': case 'timedout': case 'timed_out': case 'invalid': case 'error': case 'callerror':
      return 'bad';
    case 'preparing': case 'suspendedev': case 'suspendedevse': case 'finishing': case 'reserved': case 'occupied': case 'pending': case 'queued': case 'sent': case 'scheduled': case 'downloading': case 'installing':
      return 'warn';
    default:
      return 'muted';
  }
}

// debounce delays fn until ms passed without a call.
export function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

// poll runs fn now and every ms until the returned stop function is
// called; a failing fn does not stop it.
export function poll(fn, ms) {
  let stopped = false;
  let timer;
  const tick = async () => {
    try { await fn(); } catch (e) { console.warn(e); }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}
