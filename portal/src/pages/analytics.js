import {h, replace, api, query, findPath, errorBox, unavailable, fmtNum} from '../lib.js';
import {chartBox, barChart} from '../charts.js';

const MAX_TX = 20000;

// analyticsPage: energy and sessions per day, utilisation per station,
// computed from the transactions of the chosen window.
export function analyticsPage(el) {
  const path = findPath('get', '/transactions');
  if (!path) { replace(el, h('h1', {}, 'Analytics'), unavailable('Analytics', 'transactions, which the analytics are computed from')); return null; }
  const days = h('select', {'data-testid': 'analytics-days'}, [7, 14, 30, 90].map((d) => h('option', {value: d}, `Last ${d} days`)));
  const msg = h('div', {});
  const boxes = {
    energy: chartBox('Energy per day (kWh)', 'chart-energy'),
    sessions: chartBox('Sessions per day', 'chart-sessions'),
    util: chartBox('Utilisation per station (% of the window with a session, busiest 40)', 'chart-utilisation'),
  };
  replace(el,
    h('header', {class: 'page-head'}, h('h1', {}, 'Analytics'), days),
    msg,
    h('div', {class: 'two'}, boxes.energy, boxes.sessions),
    boxes.util);
  const charts = {
    energy: barChart(boxes.energy, {series: [{label: 'energy', unit: 'kWh'}], yLabel: 'kWh'}),
    sessions: barChart(boxes.sessions, {series: [{label: 'sessions'}], yLabel: 'sessions'}),
    util: barChart(boxes.util, {series: [{label: 'utilisation', unit: '%'}], yLabel: '%'}),
  };
  const dayKey = (d) => d.toISOString().slice(0, 10);

  async function load() {
    const n = parseInt(days.value, 10);
    const to = new Date();
    const from = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate() - n + 1));
    try {
      const txs = [];
      let after = '';
      do {
        const r = await api('GET', path + query({from: from.toISOString(), to: to.toISOString(), limit: 1000, after}));
        txs.push(...(r.items || []));
        after = r.next || '';
      } while (after && txs.length < MAX_TX);
      const labels = [];
      for (let i = 0; i < n; i++) labels.push(dayKey(new Date(from.getTime() + i * 86400e3)));
      const energy = Object.fromEntries(labels.map((l) => [l, 0]));
      const sessions = Object.fromEntries(labels.map((l) => [l, 0]));
      const busy = {};
      const window = to.getTime() - from.getTime();
      for (const t of txs) {
        const start = new Date(t.startedAt || t.updatedAt);
        if (isNaN(start)) continue;
        const k = dayKey(start);
        if (k in energy) { energy[k] += (t.energyWh || 0) / 1000; sessions[k]++; }
        const end = t.endedAt ? new Date(t.endedAt) : to;
        const ms = Math.max(0, Math.min(end, to) - Math.max(start, from));
        busy[t.chargePointId] = (busy[t.chargePointId] || 0) + ms;
      }
      charts.energy.setData(labels.map((l) => l.slice(5)), labels.map((l) => energy[l]));
      charts.sessions.setData(labels.map((l) => l.slice(5)), labels.map((l) => sessions[l]));
      // Every station, the busiest first (at most 40 bars).
      try {
        const cps = await api('GET', '/chargepoints' + query({limit: 1000}));
        for (const cp of cps.items || []) busy[cp.id] = busy[cp.id] || 0;
      } catch { /* the stations with sessions only */ }
      const stations = Object.keys(busy).sort((a, b) => busy[b] - busy[a] || a.localeCompare(b)).slice(0, 40);
      charts.util.setData(stations, stations.map((s) => Math.min(100, 100 * busy[s] / window)));
      replace(msg, h('p', {class: 'muted', 'data-testid': 'analytics-summary'},
        `${fmtNum(txs.length)} sessions, ${fmtNum(txs.reduce((a, t) => a + (t.energyWh || 0), 0) / 1000, 1)} kWh in the window` +
        (txs.length >= MAX_TX ? ` (the first ${MAX_TX} only)` : '') + '.'));
    } catch (e) { replace(msg, errorBox(e)); }
  }
  days.addEventListener('change', load);
  load();
  return () => Object.values(charts).forEach((c) => c.destroy());
}
