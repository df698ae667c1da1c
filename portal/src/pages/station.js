import {h, replace, api, query, subscribe, has, findPath, fill, fmtTime, ago, fmtNum, versionLabel, firmwareOf, badge, pretty, errorBox, debounce, unavailable} from '../lib.js';
import {statusFromFrame} from './fleet.js';
import {commandsPanel} from './commands.js';
import {chartBox, timeChart} from '../charts.js';

const TABS = [
  ['overview', 'Overview'],
  ['shadow', 'Shadow'],
  ['transactions', 'Transactions'],
  ['meter', 'Meter values'],
  ['messages', 'Messages'],
];

// stationPage: one station, in tabs (#/station/ID/TAB).
export function stationPage(el, id, tab = 'overview') {
  if (!id) { location.hash = '#/fleet'; return null; }
  const head = h('div', {class: 'station-head'});
  const body = h('div', {class: 'tab-body'});
  replace(el,
    h('header', {class: 'page-head'},
      h('h1', {}, h('a', {href: '#/fleet', class: 'crumb'}, 'Fleet'), ' / ', h('span', {'data-testid': 'station-id'}, id)),
      head),
    h('div', {class: 'tabs', role: 'tablist'}, TABS.map(([k, label]) =>
      h('a', {href: `#/station/${encodeURIComponent(id)}/${k}`, role: 'tab', class: k === tab ? 'active' : null, 'data-tab': k}, label))),
    body);

  let cp = null;
  const renderHead = () => {
    if (!cp) return;
    replace(head,
      h('span', {'data-testid': 'station-online'}, badge(cp.online ? 'online' : 'offline')), ' ',
      badge(cp.registration), ' ',
      h('span', {class: 'muted'}, `OCPP ${versionLabel(cp.protocol)} · last seen ${ago(cp.lastSeen)}`));
  };
  const loadCP = async () => {
    try {
      cp = await api('GET', fill('/chargepoints/{cp}', {cp: id}));
      renderHead();
    } catch (e) {
      replace(head, errorBox(e));
    }
  };
  loadCP();
  const unsub = subscribe((ev) => {
    if (ev.cp !== id || !cp) return;
    if (ev.kind === 'lifecycle') {
      cp.online = ev.lifecycle?.event === 'connected';
      if (cp.online && ev.lifecycle.protocol) cp.protocol = ev.lifecycle.protocol;
    }
    if (ev.direction === 'in') cp.lastSeen = ev.time;
    renderHead();
  });

  const tabs = {overview, shadow: shadowTab, transactions: transactionsTab, meter: meterTab, messages: messagesTab};
  const done = (tabs[tab] || overview)(body, id, () => cp);
  return () => { unsub(); typeof done === 'function' && done(); };
}

// ---- overview: details, connectors, commands ----

function overview(el, id, getCP) {
  const info = h('dl', {class: 'facts'});
  const conns = h('tbody', {});
  const cmds = h('div', {});
  replace(el,
    h('div', {class: 'two'},
      h('section', {class: 'panel'}, h('h2', {}, 'Station'), info),
      h('section', {class: 'panel'}, h('h2', {}, 'Connectors'),
        h('table', {class: 'grid', 'data-testid': 'connectors'},
          h('thead', {}, h('tr', {}, ['EVSE', 'Connector', 'Status', 'Error', 'Since'].map((t) => h('th', {}, t)))), conns))),
    cmds);

  let connectors = [];
  let reported = null;
  const renderInfo = () => {
    const cp = getCP() || {};
    const fact = (k, v) => [h('dt', {}, k), h('dd', {}, v ?? '—')];
    replace(info,
      fact('Id', id),
      fact('Registration', cp.registration),
      fact('OCPP version', versionLabel(cp.protocol)),
      fact('Vendor / model', reported ? [reported.chargePointVendor || reported.chargingStation?.vendorName, reported.chargePointModel || reported.chargingStation?.model].filter(Boolean).join(' / ') || '—' : '—'),
      fact('Firmware', firmwareOf(reported) || '—'),
      fact('Connected since', fmtTime(cp.connectedAt)),
      fact('Last seen', fmtTime(cp.lastSeen)),
      fact('Remote address', cp.remoteAddr),
      fact('Gateway', cp.gatewayId),
      fact('Registered', fmtTime(cp.registeredAt)));
  };
  const renderConns = () => {
    const list = connectors.filter((c) => c.connectorId || c.evseId);
    replace(conns, list.length ? list.map((c) => h('tr', {'data-connector': `${c.evseId}/${c.connectorId}`},
      h('td', {}, c.evseId || '—'), h('td', {}, c.connectorId), h('td', {}, badge(c.status)),
      h('td', {}, c.errorCode && c.errorCode !== 'NoError' ? c.errorCode : '—'), h('td', {}, ago(c.timestamp || c.receivedAt))))
      : h('tr', {}, h('td', {colspan: 5, class: 'empty'}, 'No connector has reported a status yet.')));
  };
  const load = async () => {
    const jobs = [];
    if (has('get', '/chargepoints/{cp}/connectors')) {
      jobs.push(api('GET', fill('/chargepoints/{cp}/connectors', {cp: id})).then((r) => { connectors = r.items || []; renderConns(); }));
    }
    if (has('get', '/chargepoints/{cp}/shadow')) {
      jobs.push(api('GET', fill('/chargepoints/{cp}/shadow', {cp: id})).then((s) => { reported = s?.state?.reported || null; }));
    }
    await Promise.allSettled(jobs);
    renderInfo();
  };
  load();
  const tick = setInterval(renderInfo, 5000);
  const unsub = subscribe((ev) => {
    if (ev.cp !== id) return;
    if (ev.kind === 'message' && ev.type === 'CALL' && ev.direction === 'in' && ev.action === 'StatusNotification') {
      const s = statusFromFrame(ev.frame);
      if (s) {
        connectors = connectors.filter((c) => !(c.evseId === s.evseId && c.connectorId === s.connectorId));
        connectors.push({...s, timestamp: ev.time});
        connectors.sort((a, b) => a.evseId - b.evseId || a.connectorId - b.connectorId);
        renderConns();
      }
    } else if (ev.kind === 'message' && ev.action === 'BootNotification' && ev.type === 'CALL') {
      reported = {...reported, ...(ev.frame?.[3] || {})};
    }
    renderInfo();
  });
  const doneCmds = commandsPanel(cmds, id, getCP);
  return () => { clearInterval(tick); unsub(); doneCmds && doneCmds(); };
}

// ---- shadow: reported / desired / delta, and an editor for desired ----

// mergePatch returns the update that turns object a into object b under
// the shadow's merge rules (objects merge key by key, null deletes).
export function mergePatch(a, b) {
  const out = {};
  const isObj = (v) => v && typeof v === 'object' && !Array.isArray(v);
  for (const k of Object.keys(a || {})) if (!(k in (b || {}))) out[k] = null;
  for (const [k, v] of Object.entries(b || {})) {
    const old = a?.[k];
    if (isObj(v) && isObj(old)) {
      const sub = mergePatch(old, v);
      if (Object.keys(sub).length) out[k] = sub;
    } else if (JSON.stringify(v) !== JSON.stringify(old)) {
      out[k] = v;
    }
  }
  return out;
}

function shadowTab(el, id) {
  if (!has('get', '/chargepoints/{cp}/shadow')) { replace(el, unavailable('Shadow', 'device shadows')); return null; }
  const reported = h('pre', {class: 'json', 'data-testid': 'shadow-reported'});
  const desired = h('pre', {class: 'json', 'data-testid': 'shadow-desired'});
  const delta = h('pre', {class: 'json', 'data-testid': 'shadow-delta'});
  const version = h('span', {class: 'muted', 'data-testid': 'shadow-version'});
  const editor = h('textarea', {class: 'json-edit', rows: 10, spellcheck: 'false', 'data-testid': 'desired-editor'});
  const msg = h('div', {'data-testid': 'desired-result'});
  let doc = null;
  let dirty = false;
  let editedFrom = {}; // the desired state the editor started from
  editor.addEventListener('input', () => {
    if (!dirty) editedFrom = doc?.state?.desired || {};
    dirty = true;
  });

  const render = () => {
    const st = doc?.state || {};
    reported.textContent = pretty(st.reported || {});
    desired.textContent = pretty(st.desired || {});
    delta.textContent = st.delta && Object.keys(st.delta).length ? pretty(st.delta) : '{}  — in sync';
    delta.classList.toggle('pending', !!(st.delta && Object.keys(st.delta).length));
    version.textContent = `version ${doc?.version ?? 0}` + (doc?.timestamp ? ` · updated ${fmtTime(doc.timestamp * 1000)}` : '');
    if (!dirty) editor.value = pretty(st.desired || {});
  };
  const load = async () => {
    try {
      doc = await api('GET', fill('/chargepoints/{cp}/shadow', {cp: id}));
      render();
    } catch (e) { replace(msg, errorBox(e)); }
  };
  const canEdit = has('patch', '/chargepoints/{cp}/shadow');
  const save = async (e) => {
    e.preventDefault();
    let next;
    try {
      next = JSON.parse(editor.value || '{}');
      if (!next || typeof next !== 'object' || Array.isArray(next)) throw new Error('the desired state must be a JSON object');
    } catch (err) { replace(msg, errorBox({message: 'Invalid JSON: ' + err.message})); return; }
    // The update carries the version it was computed against. The
    // station's reports move the version too: on a conflict, re-read the
    // shadow and, if only the reported state moved, send again; if
    // someone else changed the desired state, let the operator look.
    const base = JSON.stringify(editedFrom);
    for (let attempt = 0; ; attempt++) {
      const patch = mergePatch(doc?.state?.desired || {}, next);
      if (!Object.keys(patch).length) { replace(msg, h('span', {class: 'muted'}, 'No change.')); return; }
      try {
        doc = await api('PATCH', fill('/chargepoints/{cp}/shadow', {cp: id}), {state: {desired: patch}, version: doc?.version ?? 0});
        dirty = false;
        render();
        replace(msg, h('span', {class: 'ok-text'}, `Saved (version ${doc.version}). The station is sent the change; the delta clears once it reports the new values.`));
        return;
      } catch (err) {
        if (err.status !== 409) { replace(msg, errorBox(err)); return; }
        try { doc = await api('GET', fill('/chargepoints/{cp}/shadow', {cp: id})); } catch (e) { replace(msg, errorBox(e)); return; }
        if (JSON.stringify(doc?.state?.desired || {}) !== base || attempt >= 5) {
          replace(msg, errorBox({message: 'Someone else changed the desired state meanwhile; it is shown above. Check your edit and save again.'}));
          render();
          return;
        }
      }
    }
  };
  replace(el,
    h('div', {class: 'three'},
      h('section', {class: 'panel'}, h('h2', {}, 'Reported'), reported),
      h('section', {class: 'panel'}, h('h2', {}, 'Desired'), desired),
      h('section', {class: 'panel'}, h('h2', {}, 'Delta'), delta)),
    h('section', {class: 'panel'},
      h('h2', {}, 'Edit desired state ', version),
      canEdit ? h('form', {onsubmit: save, 'data-testid': 'desired-form'},
        h('p', {class: 'hint'}, 'The whole desired state as JSON. Keys you remove are deleted; the CSMS sends changed configuration to the station.'),
        editor,
        h('div', {class: 'row'}, h('button', {type: 'submit', 'data-testid': 'desired-save'}, 'Save desired state'),
          h('button', {type: 'button', class: 'secondary', onclick: () => { dirty = false; load(); }}, 'Reload')),
        msg) : h('p', {class: 'muted'}, 'This build cannot edit shadows.')));
  load();
  // A reported change arrives as station messages; reload soon after.
  const reload = debounce(load, 400);
  const unsub = subscribe((ev) => { if (ev.cp === id && ev.kind === 'message') reload(); });
  const tick = setInterval(load, 5000);
  return () => { unsub(); clearInterval(tick); };
}

// ---- transactions of this station ----

function transactionsTab(el, id) {
  const path = findPath('get', '/transactions', '/chargepoints/{cp}/transactions');
  if (!path) { replace(el, unavailable('Transactions', 'transactions')); return null; }
  const tbody = h('tbody', {});
  const msg = h('div', {});
  replace(el, h('section', {class: 'panel'}, h('h2', {}, 'Transactions'), msg,
    h('table', {class: 'grid', 'data-testid': 'station-transactions'},
      h('thead', {}, h('tr', {}, ['Transaction', 'Connector', 'ID token', 'State', 'Started', 'Ended', 'Energy (kWh)', 'Stop reason'].map((t) => h('th', {}, t)))),
      tbody)));
  const load = async () => {
    try {
      const url = path.includes('{cp}') ? fill(path, {cp: id}) + query({limit: 100}) : path + query({cp: id, limit: 100});
      const r = await api('GET', url);
      const items = r.items || [];
      replace(tbody, items.length ? items.map(txRow) : h('tr', {}, h('td', {colspan: 8, class: 'empty'}, 'No transactions.')));
    } catch (e) { replace(msg, errorBox(e)); }
  };
  load();
  const reload = debounce(load, 500);
  const unsub = subscribe((ev) => { if (ev.cp === id && /Transaction/.test(ev.action || '')) reload(); });
  return unsub;
}

export function txRow(t) {
  return h('tr', {},
    h('td', {}, t.transactionId),
    h('td', {}, t.evseId ? `${t.evseId}/${t.connectorId}` : t.connectorId),
    h('td', {}, t.idToken || '—'),
    h('td', {}, badge(t.state), t.chargingState ? [' ', h('span', {class: 'muted'}, t.chargingState)] : null),
    h('td', {}, fmtTime(t.startedAt)),
    h('td', {}, fmtTime(t.endedAt)),
    h('td', {class: 'num'}, fmtNum((t.energyWh || 0) / 1000, 2)),
    h('td', {}, t.stopReason || '—'));
}

// ---- meter values chart ----

// meterSeries turns the API's answer — raw samples ({items}) or
// downsampled series ({series: [{points}]}) — into aligned chart data: one
// line per phase/location of the chosen measurand.
export function meterSeries(r, measurand) {
  const lines = new Map(); // label → Map(t → value)
  let unit = '';
  const add = (label, t, v) => {
    if (!lines.has(label)) lines.set(label, new Map());
    lines.get(label).set(t, v);
  };
  const energy = measurand.startsWith('Energy');
  for (const s of r.series || []) {
    if (s.measurand !== measurand) continue;
    unit = unit || s.unit;
    const label = seriesLabel(s.phase, s.location, measurand);
    for (const p of s.points || []) add(label, new Date(p.t).getTime() / 1000, energy ? p.last : p.avg);
  }
  for (const m of r.items || []) {
    if (m.measurand && m.measurand !== measurand) continue;
    unit = unit || m.unit;
    add(seriesLabel(m.phase, m.location, measurand), new Date(m.timestamp).getTime() / 1000, m.value);
  }
  const xs = [...new Set([...lines.values()].flatMap((l) => [...l.keys()]))].sort((a, b) => a - b);
  const labels = [...lines.keys()];
  const ys = labels.map((l) => xs.map((x) => lines.get(l).get(x) ?? null));
  return {xs, labels, ys, unit};
}

// seriesLabel names a line by its phase and location (Outlet, the
// default location, is left out).
function seriesLabel(phase, location, measurand) {
  return [phase, location === 'Outlet' ? '' : location].filter(Boolean).join(' ') || measurand;
}

function meterTab(el, id) {
  const path = findPath('get', '/chargepoints/{cp}/metervalues', '/chargepoints/{cp}/meter-values');
  if (!path) { replace(el, unavailable('Meter values', 'meter values')); return null; }
  const range = h('select', {'data-testid': 'meter-range'},
    [['1', 'Last hour'], ['6', 'Last 6 hours'], ['24', 'Last 24 hours'], ['168', 'Last 7 days'], ['720', 'Last 30 days']].map(([v, l]) => h('option', {value: v}, l)));
  const measurand = h('select', {'data-testid': 'meter-measurand'},
    ['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import', 'Voltage', 'SoC'].map((m) => h('option', {}, m)));
  const box = chartBox('Meter values', 'meter-chart');
  const msg = h('div', {});
  replace(el, h('section', {class: 'panel'},
    h('div', {class: 'row'}, h('h2', {}, 'Meter values'), measurand, range), msg, box));
  let chart = null;
  let shape = '';
  const load = async () => {
    const hours = parseInt(range.value, 10);
    const to = new Date(Date.now() + 60e3);
    const from = new Date(to.getTime() - hours * 3600e3);
    // Up to an hour raw; longer ranges downsampled to about 500 points.
    const step = hours > 1 ? `${Math.ceil(hours * 3600 / 500)}s` : '';
    try {
      const r = await api('GET', fill(path, {cp: id}) + query({from: from.toISOString(), to: to.toISOString(), measurand: measurand.value, step, limit: step ? '' : 10000}));
      const {xs, labels, ys, unit} = meterSeries(r, measurand.value);
      const key = labels.join('|');
      if (!chart || key !== shape) {
        if (chart) chart.destroy();
        chart = timeChart(box, {series: (labels.length ? labels : [measurand.value]).map((l) => ({label: l, unit})), yLabel: unit});
        shape = key;
      }
      chart.setData(xs, ...(ys.length ? ys : [[]]));
      box.querySelector('figcaption').textContent = `${measurand.value}${unit ? ' (' + unit + ')' : ''}${step ? ` · one point per ${step}` : ''}`;
      replace(msg, xs.length ? null : h('p', {class: 'muted', 'data-testid': 'meter-empty'}, 'No samples in this range.'));
    } catch (e) { replace(msg, errorBox(e)); }
  };
  range.addEventListener('change', load);
  measurand.addEventListener('change', load);
  load();
  const reload = debounce(load, 1000);
  const unsub = subscribe((ev) => { if (ev.cp === id && (ev.action === 'MeterValues' || ev.action === 'TransactionEvent' || ev.action === 'StopTransaction')) reload(); });
  return () => { unsub(); if (chart) chart.destroy(); };
}

// ---- live message log ----

function messagesTab(el, id) {
  const log = h('tbody', {});
  const count = h('span', {class: 'muted'});
  let paused = false;
  const filter = h('input', {type: 'search', placeholder: 'Filter by action…', 'data-testid': 'messages-filter'});
  const pauseBtn = h('button', {type: 'button', class: 'secondary', onclick: () => { paused = !paused; pauseBtn.textContent = paused ? 'Resume' : 'Pause'; }}, 'Pause');
  const items = [];
  replace(el, h('section', {class: 'panel'},
    h('div', {class: 'row'}, h('h2', {}, 'Live messages'), filter, pauseBtn,
      h('button', {type: 'button', class: 'secondary', onclick: () => { items.length = 0; render(); }}, 'Clear'), count),
    h('p', {class: 'hint'}, `Frames on ${id}/in (→ from the station) and ${id}/out (← to the station), as an MQTT client subscribed to both topics sees them.`),
    h('table', {class: 'grid log', 'data-testid': 'message-log'},
      h('thead', {}, h('tr', {}, ['Time', 'Topic', 'Type', 'Action', 'Frame'].map((t) => h('th', {}, t)))), log)));
  const row = (ev) => h('tr', {class: ev.kind === 'lifecycle' ? 'lifecycle' : ev.direction, 'data-action': ev.action || ev.lifecycle?.event || ''},
    h('td', {class: 'nowrap'}, new Date(ev.time).toLocaleTimeString()),
    h('td', {class: 'nowrap'}, ev.kind === 'lifecycle' ? 'lifecycle' : `${ev.direction === 'in' ? '→' : '←'} ${id}/${ev.direction}`),
    h('td', {}, ev.kind === 'lifecycle' ? badge(ev.lifecycle?.event) : badge(ev.type, ev.type === 'CALLERROR' ? 'bad' : 'muted')),
    h('td', {}, ev.action || ''),
    h('td', {}, h('code', {class: 'frame'}, ev.kind === 'lifecycle' ? `${ev.lifecycle?.event} ${ev.lifecycle?.reason || ''} ${ev.lifecycle?.protocol || ''}` : JSON.stringify(ev.frame))));
  const render = () => {
    const f = filter.value.trim().toLowerCase();
    const shown = items.filter((e) => !f || (e.action || '').toLowerCase().includes(f));
    replace(log, shown.length ? shown.slice().reverse().map(row) : h('tr', {}, h('td', {colspan: 5, class: 'empty'}, 'No messages yet.')));
    count.textContent = `${items.length} messages`;
  };
  filter.addEventListener('input', render);
  const seen = new Set();
  const add = (ev) => {
    if (ev.seq && seen.has(ev.seq)) return;
    if (ev.seq) seen.add(ev.seq);
    // An answer names its CALL's action. The bus does not order {cp}/in
    // against {cp}/out, so an answer can arrive before the CALL it
    // answers and come without the action: match them by message id.
    if (ev.kind === 'message' && ev.messageId) {
      if (ev.type === 'CALL') {
        for (const a of items) if (a.messageId === ev.messageId && !a.action && a.type !== 'CALL') a.action = ev.action;
      } else if (!ev.action) {
        ev.action = items.find((c) => c.type === 'CALL' && c.messageId === ev.messageId)?.action || '';
      }
    }
    items.push(ev);
    if (items.length > 500) items.shift();
  };
  if (has('get', '/chargepoints/{cp}/messages')) {
    api('GET', fill('/chargepoints/{cp}/messages', {cp: id}))
      .then((r) => { for (const ev of r.items || []) add(ev); items.sort((a, b) => (a.seq || 0) - (b.seq || 0)); render(); })
      .catch(() => {});
  }
  render();
  const renderSoon = debounce(render, 50);
  return subscribe((ev) => {
    if (ev.cp !== id || paused) return;
    add(ev);
    renderSoon();
  });
}
