import {h, replace, api, fmtNum, errorBox, poll} from '../lib.js';
import {chartBox, timeChart} from '../charts.js';

const VERSIONS = ['ocpp1.6', 'ocpp2.0.1', 'ocpp2.1'];
const EVERY = 2000;

// healthPage: figures of the process and charts over time, sampled from
// GET /system every two seconds while the page is open.
export function healthPage(el) {
  const cards = h('div', {class: 'cards', 'data-testid': 'health-cards'});
  const msg = h('div', {});
  const rt = h('tbody', {});
  const boxes = {
    conn: chartBox('Connections by OCPP version', 'chart-connections'),
    rate: chartBox('Messages per second', 'chart-messages'),
    lat: chartBox('Round-trip latency, CSMS answering (ms)', 'chart-latency'),
    err: chartBox('CALLERRORs per interval', 'chart-callerrors'),
  };
  replace(el,
    h('header', {class: 'page-head'}, h('h1', {}, 'System health')),
    msg, cards,
    h('div', {class: 'two'}, boxes.conn, boxes.rate, boxes.lat, boxes.err),
    h('section', {class: 'panel'}, h('h2', {}, 'Round trips (latest samples)'),
      h('table', {class: 'grid'}, h('thead', {}, h('tr', {}, ['Answered by', 'Samples', 'p50 (ms)', 'p95 (ms)', 'p99 (ms)'].map((t) => h('th', {}, t)))), rt)),
    h('p', {class: 'hint'}, 'Charts cover the time this page has been open. Prometheus scrapes the full history from /metrics.'));

  const charts = {
    conn: timeChart(boxes.conn, {series: [{label: 'online (store)'}, ...VERSIONS.map((v) => ({label: v}))], yLabel: 'stations'}),
    rate: timeChart(boxes.rate, {series: [{label: 'from stations', unit: '/s'}, {label: 'to stations', unit: '/s'}], yLabel: 'msg/s'}),
    lat: timeChart(boxes.lat, {series: [{label: 'p50', unit: 'ms'}, {label: 'p95', unit: 'ms'}, {label: 'p99', unit: 'ms'}], yLabel: 'ms'}),
    err: timeChart(boxes.err, {series: [{label: 'from stations'}, {label: 'to stations'}], yLabel: 'errors', bars: true}),
  };
  let prev = null;
  const card = (label, v, id) => h('div', {class: 'card', 'data-testid': `health-${id}`}, h('div', {class: 'card-n'}, v), h('div', {class: 'card-l'}, label));

  const stop = poll(async () => {
    let s;
    try { s = await api('GET', '/system'); msg.replaceChildren(); } catch (e) { replace(msg, errorBox(e)); return; }
    const now = Date.now() / 1000;
    const m = s.messages || {};
    replace(cards,
      card('Stations online', `${s.stations?.online ?? 0} / ${s.stations?.total ?? 0}`, 'online'),
      card('Gateway sessions', s.gatewaySessions ?? '—', 'sessions'),
      card('Messages in / out', `${fmtNum(m.messagesIn)} / ${fmtNum(m.messagesOut)}`, 'messages'),
      card('CALLERRORs in / out', `${fmtNum(m.callErrorsIn)} / ${fmtNum(m.callErrorsOut)}`, 'errors'),
      card('Event stream clients', s.events?.clients ?? 0, 'clients'),
      card('Version · uptime', `${s.version || '?'} · ${fmtNum((s.uptimeSeconds || 0) / 3600, 1)} h`, 'version'));
    const conn = m.connected || {};
    charts.conn.push(now, s.stations?.online ?? 0, ...VERSIONS.map((v) => conn[v] ?? conn[v.replace('ocpp', '')] ?? 0));
    if (prev && s.messages) {
      const dt = Math.max(0.001, now - prev.t);
      const pm = prev.m;
      charts.rate.push(now, Math.max(0, (m.messagesIn - pm.messagesIn) / dt), Math.max(0, (m.messagesOut - pm.messagesOut) / dt));
      charts.err.push(now, Math.max(0, m.callErrorsIn - pm.callErrorsIn), Math.max(0, m.callErrorsOut - pm.callErrorsOut));
    }
    const st = m.roundTrip?.station;
    charts.lat.push(now, st?.samples ? st.p50 * 1000 : null, st?.samples ? st.p95 * 1000 : null, st?.samples ? st.p99 * 1000 : null);
    replace(rt, Object.entries(m.roundTrip || {}).map(([who, q]) => h('tr', {},
      h('td', {}, who === 'station' ? 'CSMS (station’s CALLs)' : who === 'csms' ? 'stations (CSMS’s CALLs)' : who),
      h('td', {class: 'num'}, fmtNum(q.samples)), h('td', {class: 'num'}, fmtNum(q.p50 * 1000, 2)),
      h('td', {class: 'num'}, fmtNum(q.p95 * 1000, 2)), h('td', {class: 'num'}, fmtNum(q.p99 * 1000, 2)))));
    prev = {t: now, m: {messagesIn: 0, messagesOut: 0, callErrorsIn: 0, callErrorsOut: 0, ...m}};
  }, EVERY);
  return () => { stop(); Object.values(charts).forEach((c) => c.destroy()); };
}
