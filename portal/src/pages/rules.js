import {h, replace, api, query, has, findPath, fill, fmtTime, badge, errorBox, unavailable} from '../lib.js';

const SEED_SQL = "SELECT topic(1) AS chargePointId, timestamp() AS lastTimestamp\nFROM '+/in'\nWHERE get(*, 2) = 'Heartbeat'";

// rulesPage: rules (create with SQL and actions, enable/disable, delete)
// and the rows of the tables their table actions write.
export function rulesPage(el) {
  const list = findPath('get', '/rules');
  if (!list) { replace(el, h('h1', {}, 'Rules'), unavailable('Rules', 'rules')); return null; }
  const one = findPath('patch', '/rules/{name}') ? '/rules/{name}' : findPath('put', '/rules/{name}');
  const oneMethod = has('patch', '/rules/{name}') ? 'PATCH' : 'PUT';
  const del = findPath('delete', '/rules/{name}');
  const tablesPath = findPath('get', '/tables', '/rules/tables');
  const rowsPath = findPath('get', '/tables/{table}/rows', '/tables/{table}', '/rules/tables/{table}/rows', '/rules/tables/{table}');
  const tbody = h('tbody', {});
  const msg = h('div', {});
  const tables = h('div', {});
  replace(el,
    h('header', {class: 'page-head'}, h('h1', {}, 'Rules')),
    msg,
    h('table', {class: 'grid', 'data-testid': 'rules'},
      h('thead', {}, h('tr', {}, ['Name', 'SQL', 'Actions', 'Enabled', 'Updated', ''].map((t) => h('th', {}, t)))), tbody),
    has('post', '/rules') ? ruleForm() : null,
    tablesPath ? tables : null);

  const actionText = (a, st) => (a.table ? `table ${a.table.name} by ${a.table.key}` : a.republish ? `republish to ${a.republish.topic}`
    : a.webhook ? `webhook ${a.webhook.url}` : a.log ? 'log' : JSON.stringify(a)) +
    (st ? ` — ${st.ok} ok${st.failed ? `, ${st.failed} failed` : ''}${st.dropped ? `, ${st.dropped} dropped` : ''}` : '');

  let lastRules = '';
  async function load(again) {
    try {
      const r = await api('GET', list);
      const items = r.items || r || [];
      const sig = JSON.stringify(items);
      if (again && sig === lastRules) return;
      lastRules = sig;
      replace(tbody, items.length ? items.map((rule) => h('tr', {'data-rule': rule.name},
        h('td', {}, h('strong', {}, rule.name), rule.description ? h('div', {class: 'muted'}, rule.description) : null),
        h('td', {}, h('pre', {class: 'sql'}, rule.sql)),
        h('td', {}, (rule.actions || []).map((a, i) => h('div', {}, actionText(a, rule.stats?.actions?.[i]))),
          rule.stats ? h('div', {class: 'muted'}, `${rule.stats.matched} messages matched`) : null),
        h('td', {}, one ? h('label', {class: 'switch'}, h('input', {type: 'checkbox', checked: rule.enabled, onchange: async (e) => {
          try {
            const body = oneMethod === 'PATCH' ? {enabled: e.target.checked} : {...rule, enabled: e.target.checked};
            await api(oneMethod, fill(one, {name: rule.name}), body);
            load();
          } catch (err) { replace(msg, errorBox(err)); load(); }
        }}), rule.enabled ? ' enabled' : ' disabled') : badge(rule.enabled ? 'enabled' : 'disabled')),
        h('td', {}, fmtTime(rule.updatedAt)),
        h('td', {}, del ? h('button', {class: 'link danger', onclick: async () => {
          if (!confirm(`Delete rule ${rule.name}?`)) return;
          try { await api('DELETE', fill(del, {name: rule.name})); load(); } catch (err) { replace(msg, errorBox(err)); }
        }}, 'Delete') : null)))
        : h('tr', {}, h('td', {colspan: 6, class: 'empty'}, 'No rules yet.')));
      msg.replaceChildren();
    } catch (e) {
      // 501: this process runs no rules engine (e.g. an api-only role
      // without one).
      if (e.status === 501) { replace(el, h('h1', {}, 'Rules'), unavailable('Rules', 'a rules engine in this process')); return; }
      replace(msg, errorBox(e));
    }
    if (!again) loadTables();
  }

  // The tables are re-read every few seconds; the open ones stay open
  // (and re-read their rows).
  const open = new Set();
  let lastTables = '';
  async function loadTables() {
    if (!tablesPath) return;
    try {
      const r = await api('GET', tablesPath);
      const items = r.items || r || [];
      const sig = JSON.stringify(items);
      if (sig === lastTables) return;
      lastTables = sig;
      replace(tables, h('section', {class: 'panel'}, h('h2', {}, 'Rule tables'),
        items.length ? items.map((t) => tableView(t)) : h('p', {class: 'muted'}, 'No table has rows yet.')));
    } catch (e) { replace(tables, errorBox(e)); }
  }

  function tableView(t) {
    const name = t.name || t.table || t;
    const body = h('div', {});
    const det = h('details', {class: 'table-rows', 'data-table': name, ontoggle: async () => {
      if (det.open) open.add(name); else open.delete(name);
      if (!det.open || !rowsPath) return;
      try {
        const r = await api('GET', fill(rowsPath, {table: name}) + query({limit: 100}));
        const rows = r.items || [];
        const cols = [...new Set(rows.flatMap((x) => Object.keys(x.data || {})))];
        replace(body, h('table', {class: 'grid'},
          h('thead', {}, h('tr', {}, h('th', {}, 'Key'), cols.map((c) => h('th', {}, c)), h('th', {}, 'Updated'))),
          h('tbody', {}, rows.map((x) => h('tr', {}, h('td', {}, x.key), cols.map((c) => h('td', {}, typeof x.data?.[c] === 'object' ? JSON.stringify(x.data[c]) : String(x.data?.[c] ?? ''))), h('td', {}, fmtTime(x.updatedAt)))))));
      } catch (e) { replace(body, errorBox(e)); }
    }}, h('summary', {}, `${name}`, t.rows !== undefined ? h('span', {class: 'muted'}, ` (${t.rows} rows)`) : null), body);
    if (open.has(name)) det.open = true;
    return det;
  }

  function ruleForm() {
    const name = h('input', {name: 'name', required: true, placeholder: 'heartbeats'});
    const sql = h('textarea', {name: 'sql', rows: 4, class: 'json-edit', spellcheck: 'false'});
    sql.value = SEED_SQL;
    const kind = h('select', {name: 'kind'}, ['table', 'republish', 'webhook', 'log'].map((k) => h('option', {}, k)));
    const p1 = h('input', {name: 'p1', value: 'chargePointHeartbeat'});
    const p2 = h('input', {name: 'p2', value: 'chargePointId'});
    const l1 = h('span', {}, 'Table');
    const l2 = h('span', {}, 'Key');
    kind.addEventListener('change', () => {
      const k = kind.value;
      l1.textContent = {table: 'Table', republish: 'Topic', webhook: 'URL', log: 'Level'}[k];
      l2.parentElement.style.display = k === 'table' ? '' : 'none';
      p1.value = {table: 'chargePointHeartbeat', republish: 'alerts/${chargePointId}', webhook: 'https://example.com/hook', log: 'info'}[k];
    });
    const out = h('div', {});
    return h('section', {class: 'panel'}, h('h2', {}, 'Create a rule'),
      h('form', {class: 'stack', 'data-testid': 'rule-form', onsubmit: async (e) => {
        e.preventDefault();
        const k = kind.value;
        const action = k === 'table' ? {table: {name: p1.value, key: p2.value}} : k === 'republish' ? {republish: {topic: p1.value}}
          : k === 'webhook' ? {webhook: {url: p1.value}} : {log: {level: p1.value}};
        try {
          await api('POST', '/rules', {name: name.value.trim(), sql: sql.value, actions: [action], enabled: true});
          replace(out, h('span', {class: 'ok-text'}, `Created ${name.value.trim()}.`));
          load();
        } catch (err) { replace(out, errorBox(err)); }
      }},
      h('label', {}, 'Name', name),
      h('label', {}, 'SQL', sql),
      h('div', {class: 'inline'}, h('label', {}, 'Action ', kind), h('label', {}, l1, ' ', p1), h('label', {}, l2, ' ', p2)),
      h('button', {type: 'submit'}, 'Create rule'), out));
  }

  load();
  // Counters and tables move with the traffic: re-read them.
  const tick = setInterval(() => { if (!document.hidden) { load(true); loadTables(); } }, 3000);
  return () => clearInterval(tick);
}
