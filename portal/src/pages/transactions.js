import {h, replace, api, query, findPath, errorBox, unavailable, debounce, subscribe} from '../lib.js';
import {txRow} from './station.js';

// transactionsPage: every station's transactions, filtered by station,
// ID token and time, with paging.
export function transactionsPage(el) {
  const path = findPath('get', '/transactions');
  if (!path) { replace(el, h('h1', {}, 'Transactions'), unavailable('Transactions', 'transactions')); return null; }
  const cp = h('input', {type: 'search', placeholder: 'Station', name: 'cp'});
  const token = h('input', {type: 'search', placeholder: 'ID token', name: 'idToken'});
  const from = h('input', {type: 'date', name: 'from'});
  const to = h('input', {type: 'date', name: 'to'});
  const tbody = h('tbody', {});
  const pager = h('div', {class: 'row'});
  const msg = h('div', {});
  let cursors = [''];
  replace(el,
    h('header', {class: 'page-head'}, h('h1', {}, 'Transactions')),
    h('form', {class: 'inline filters', onsubmit: (e) => { e.preventDefault(); cursors = ['']; load(); }},
      cp, token, h('label', {}, 'From ', from), h('label', {}, 'To ', to), h('button', {type: 'submit'}, 'Filter')),
    msg,
    h('table', {class: 'grid', 'data-testid': 'transactions'},
      h('thead', {}, h('tr', {}, ['Station', 'Transaction', 'Connector', 'ID token', 'State', 'Started', 'Ended', 'Energy (kWh)', 'Stop reason'].map((t) => h('th', {}, t)))),
      tbody),
    pager);
  async function load() {
    try {
      const r = await api('GET', path + query({
        cp: cp.value.trim(), idToken: token.value.trim(),
        from: from.value ? new Date(from.value).toISOString() : '',
        to: to.value ? new Date(new Date(to.value).getTime() + 86400e3).toISOString() : '',
        after: cursors[cursors.length - 1], limit: 50,
      }));
      const items = r.items || [];
      replace(tbody, items.length ? items.map((t) => {
        const tr = txRow(t);
        tr.prepend(h('td', {}, h('a', {href: '#/station/' + encodeURIComponent(t.chargePointId)}, t.chargePointId)));
        return tr;
      }) : h('tr', {}, h('td', {colspan: 9, class: 'empty'}, 'No transactions match.')));
      replace(pager,
        cursors.length > 1 ? h('button', {class: 'secondary', onclick: () => { cursors.pop(); load(); }}, '← Newer') : null,
        r.next ? h('button', {class: 'secondary', onclick: () => { cursors.push(r.next); load(); }}, 'Older →') : null);
      msg.replaceChildren();
    } catch (e) { replace(msg, errorBox(e)); }
  }
  load();
  const reload = debounce(() => { if (cursors.length === 1) load(); }, 1000);
  return subscribe((ev) => { if (/Transaction/.test(ev.action || '') && ev.type === 'CALL') reload(); });
}
