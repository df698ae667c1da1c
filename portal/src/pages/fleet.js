import {h, replace, api, query, subscribe, has, fmtTime, ago, versionLabel, firmwareOf, badge, debounce, errorBox, fill} from '../lib.js';

const PAGE = 100;      // rows shown at once
const MAX = 10000;     // stations loaded for the table
const ENRICH = 6;      // concurrent detail requests

// connectorStatus reads a StatusNotification request of any version.
export function statusFromFrame(frame) {
  const p = Array.isArray(frame) ? frame[3] : null;
  if (!p || typeof p !== 'object') return null;
  return {
    evseId: p.evseId ?? 0,
    connectorId: p.connectorId ?? 0,
    status: p.connectorStatus || p.status || '',
    errorCode: p.errorCode || '',
  };
}

// fleetPage: counts, a searchable live table of stations.
export function fleetPage(el) {
  const rows = new Map(); // id → station (API fields + connectors, firmware)
  let filter = '';
  let shown = PAGE;
  let stopped = false;

  const counts = h('div', {class: 'cards', 'data-testid': 'fleet-counts'});
  const search = h('input', {type: 'search', placeholder: 'Search stations…', 'data-testid': 'fleet-search',
    oninput: debounce(() => { filter = search.value.trim().toLowerCase(); shown = PAGE; render(); }, 150)});
  const tbody = h('tbody', {});
  const more = h('div', {});
  const msg = h('div', {});

  replace(el,
    h('header', {class: 'page-head'}, h('h1', {}, 'Fleet'), search),
    counts, msg,
    h('table', {class: 'grid', 'data-testid': 'fleet-table'},
      h('thead', {}, h('tr', {}, ['Station', 'Status', 'OCPP', 'Last seen', 'Firmware', 'Connectors', 'Gateway'].map((t) => h('th', {}, t)))),
      tbody),
    more,
    has('post', '/chargepoints') ? registerForm(() => load()) : null);

  function faulted(cp) {
    return (cp.connectors || []).some((c) => String(c.status).toLowerCase() === 'faulted') || cp.status === 'Faulted' || cp.faulted === true;
  }

  function renderCounts() {
    let online = 0, faultedN = 0;
    for (const cp of rows.values()) {
      if (cp.online) online++;
      if (faulted(cp)) faultedN++;
    }
    const card = (label, n, kind, id) => h('div', {class: `card ${kind}`, 'data-testid': `count-${id}`},
      h('div', {class: 'card-n'}, String(n)), h('div', {class: 'card-l'}, label));
    replace(counts,
      card('Stations', rows.size, '', 'total'),
      card('Online', online, 'ok', 'online'),
      card('Offline', rows.size - online, 'muted', 'offline'),
      card('Faulted', faultedN, 'bad', 'faulted'));
  }

  function rowOf(cp) {
    const conns = (cp.connectors || []).filter((c) => c.connectorId || c.evseId);
    return h('tr', {'data-cp': cp.id, 'data-online': String(!!cp.online)},
      h('td', {}, h('a', {href: '#/station/' + encodeURIComponent(cp.id)}, cp.id)),
      h('td', {}, badge(cp.online ? 'online' : 'offline'), faulted(cp) ? [' ', badge('Faulted')] : null,
        cp.registration && cp.registration !== 'Accepted' ? [' ', badge(cp.registration)] : null),
      h('td', {}, versionLabel(cp.protocol)),
      h('td', {title: fmtTime(cp.lastSeen)}, ago(cp.lastSeen)),
      h('td', {}, cp.firmware || cp.firmwareVersion || '—'),
      h('td', {}, conns.length ? conns.map((c) => h('span', {class: 'conn', title: `EVSE ${c.evseId} connector ${c.connectorId}`}, badge(c.status))) : '—'),
      h('td', {class: 'muted'}, cp.gatewayId || '—'));
  }

  function matches(cp) {
    if (!filter) return true;
    return cp.id.toLowerCase().includes(filter) || (cp.firmware || '').toLowerCase().includes(filter) ||
      versionLabel(cp.protocol).includes(filter) || (filter === 'online' && cp.online) || (filter === 'offline' && !cp.online) ||
      (filter === 'faulted' && faulted(cp));
  }

  function visible() {
    return [...rows.values()].filter(matches).sort((a, b) => a.id.localeCompare(b.id));
  }

  function render() {
    renderCounts();
    const list = visible();
    replace(tbody, list.length ? list.slice(0, shown).map(rowOf)
      : h('tr', {}, h('td', {colspan: 7, class: 'empty'}, rows.size ? 'No station matches.' : 'No stations registered yet.')));
    replace(more, list.length > shown
      ? h('button', {class: 'secondary', onclick: () => { shown += PAGE; render(); }}, `Show more (${list.length - shown} left)`) : null);
    enrich(list.slice(0, shown));
  }
  const renderSoon = debounce(render, 100);

  // enrich loads connectors and firmware of the rows on screen that the
  // list does not carry.
  const enriched = new Set();
  let queue = [];
  let running = 0;
  function enrich(list) {
    for (const cp of list) if (!enriched.has(cp.id)) { enriched.add(cp.id); queue.push(cp.id); }
    while (running < ENRICH && queue.length) {
      const id = queue.shift();
      running++;
      detail(id).finally(() => { running--; if (!stopped) { renderSoon(); enrich([]); } });
    }
  }
  async function detail(id) {
    const cp = rows.get(id);
    if (!cp) return;
    const jobs = [];
    if (!cp.connectors && has('get', '/chargepoints/{cp}/connectors')) {
      jobs.push(api('GET', fill('/chargepoints/{cp}/connectors', {cp: id})).then((r) => { cp.connectors = r.items || []; }).catch(() => {}));
    }
    if (!cp.firmware && has('get', '/chargepoints/{cp}/shadow')) {
      jobs.push(api('GET', fill('/chargepoints/{cp}/shadow', {cp: id})).then((s) => { cp.firmware = firmwareOf(s?.state?.reported); }).catch(() => {}));
    }
    await Promise.all(jobs);
  }

  async function load() {
    try {
      let after = '';
      const seen = new Set();
      do {
        const page = await api('GET', '/chargepoints' + query({limit: 1000, after}));
        for (const cp of page.items || []) {
          seen.add(cp.id);
          const old = rows.get(cp.id);
          rows.set(cp.id, {...old, ...cp});
        }
        after = page.next || '';
      } while (after && seen.size < MAX && !stopped);
      for (const id of [...rows.keys()]) if (!seen.has(id)) rows.delete(id);
      msg.replaceChildren();
      render();
    } catch (e) {
      msg.replaceChildren(errorBox(e));
    }
  }

  const reload = debounce(load, 300);
  const unsub = subscribe((ev) => {
    const cp = rows.get(ev.cp);
    if (!cp) {
      if (ev.kind === 'lifecycle') reload(); // a station we have not listed yet
      return;
    }
    if (ev.kind === 'lifecycle') {
      const l = ev.lifecycle || {};
      cp.online = l.event === 'connected';
      if (cp.online) {
        Object.assign(cp, {protocol: l.protocol || cp.protocol, gatewayId: l.gatewayId || cp.gatewayId, connectedAt: l.time || ev.time});
      }
      cp.lastSeen = ev.time;
    } else if (ev.kind === 'message') {
      if (ev.direction === 'in') cp.lastSeen = ev.time;
      if (ev.type === 'CALL' && ev.direction === 'in') {
        if (ev.action === 'StatusNotification') {
          const s = statusFromFrame(ev.frame);
          if (s) {
            cp.connectors = (cp.connectors || []).filter((c) => !(c.evseId === s.evseId && c.connectorId === s.connectorId));
            cp.connectors.push(s);
            cp.connectors.sort((a, b) => a.evseId - b.evseId || a.connectorId - b.connectorId);
          }
        } else if (ev.action === 'BootNotification') {
          cp.firmware = firmwareOf(ev.frame?.[3]) || cp.firmware;
        }
      }
    }
    renderSoon();
  });
  const tick = setInterval(() => { if (!document.hidden) load(); }, 30000);
  load();
  return () => { stopped = true; unsub(); clearInterval(tick); };
}

function registerForm(onDone) {
  const id = h('input', {name: 'id', placeholder: 'CP42', required: true, maxlength: 48});
  const reg = h('select', {name: 'registration'}, ['Accepted', 'Pending', 'Rejected'].map((r) => h('option', {}, r)));
  const msg = h('span', {});
  return h('details', {class: 'panel'},
    h('summary', {}, 'Register a station'),
    h('form', {class: 'inline', onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api('POST', '/chargepoints', {id: id.value.trim(), registration: reg.value});
        replace(msg, h('span', {class: 'ok-text'}, `Registered ${id.value.trim()}.`));
        id.value = '';
        onDone();
      } catch (err) { replace(msg, errorBox(err)); }
    }}, h('label', {}, 'Id ', id), h('label', {}, 'Registration ', reg), h('button', {type: 'submit'}, 'Register'), msg));
}
