import {h, replace, api, query, has, findPath, fill, fmtTime, badge, errorBox, unavailable} from '../lib.js';

// idTokensPage: the ID tokens (RFID cards, eMAIDs…) the CSMS knows, with
// a form to add or change one and a button to delete one.
export function idTokensPage(el) {
  const list = findPath('get', '/idtokens', '/id-tokens', '/tokens/id');
  if (!list) { replace(el, h('h1', {}, 'ID tokens'), unavailable('ID tokens', 'ID tokens')); return null; }
  const item = findPath('put', list + '/{token}', list + '/{idToken}', list + '/{id}');
  const del = findPath('delete', list + '/{token}', list + '/{idToken}', list + '/{id}');
  const create = has('post', list) ? list : '';
  const tbody = h('tbody', {});
  const msg = h('div', {});
  const search = h('input', {type: 'search', placeholder: 'Search tokens…'});
  replace(el,
    h('header', {class: 'page-head'}, h('h1', {}, 'ID tokens'), search),
    msg,
    h('table', {class: 'grid', 'data-testid': 'idtokens'},
      h('thead', {}, h('tr', {}, ['ID token', 'Type', 'Status', 'Expires', 'Group', 'Updated', ''].map((t) => h('th', {}, t)))), tbody),
    item || create ? tokenForm() : null);
  let items = [];
  const render = () => {
    const f = search.value.trim().toLowerCase();
    const shown = items.filter((t) => !f || t.idToken.toLowerCase().includes(f));
    replace(tbody, shown.length ? shown.map((t) => h('tr', {},
      h('td', {}, h('code', {}, t.idToken)), h('td', {}, t.type || '—'), h('td', {}, badge(t.status)),
      h('td', {}, fmtTime(t.expiresAt)), h('td', {}, t.groupId || '—'), h('td', {}, fmtTime(t.updatedAt)),
      h('td', {}, del ? h('button', {class: 'link danger', onclick: async () => {
        if (!confirm(`Delete ID token ${t.idToken}?`)) return;
        try { await api('DELETE', fill(del, {token: t.idToken}) + query({type: t.type})); load(); } catch (e) { replace(msg, errorBox(e)); }
      }}, 'Delete') : null)))
      : h('tr', {}, h('td', {colspan: 7, class: 'empty'}, 'No ID tokens.')));
  };
  search.addEventListener('input', render);
  async function load() {
    try {
      items = [];
      let after = '';
      do {
        const r = await api('GET', list + query({limit: 1000, after}));
        items.push(...(r.items || []));
        after = r.next || '';
      } while (after && items.length < 10000);
      render();
    } catch (e) { replace(msg, errorBox(e)); }
  }
  function tokenForm() {
    const token = h('input', {name: 'idToken', required: true, placeholder: 'e.g. 04A2B3C4D5'});
    const type = h('select', {name: 'type'}, ['ISO14443', 'ISO15693', 'eMAID', 'Central', 'KeyCode', 'Local', 'MacAddress', 'NoAuthorization'].map((t) => h('option', {}, t)));
    const status = h('select', {name: 'status'}, ['Accepted', 'Blocked', 'Expired', 'Invalid'].map((t) => h('option', {}, t)));
    const expires = h('input', {type: 'datetime-local', name: 'expiresAt'});
    const group = h('input', {name: 'groupId', placeholder: 'optional'});
    const out = h('span', {});
    return h('section', {class: 'panel'}, h('h2', {}, 'Add or change an ID token'),
      h('form', {class: 'inline', onsubmit: async (e) => {
        e.preventDefault();
        const tok = token.value.trim();
        const body = {type: type.value, status: status.value,
          ...(expires.value ? {expiresAt: new Date(expires.value).toISOString()} : {}), ...(group.value ? {groupId: group.value.trim()} : {})};
        try {
          if (item) await api('PUT', fill(item, {token: tok}), body);
          else await api('POST', create, {idToken: tok, ...body});
          replace(out, h('span', {class: 'ok-text'}, 'Saved.'));
          load();
        } catch (err) { replace(out, errorBox(err)); }
      }}, h('label', {}, 'Token ', token), h('label', {}, 'Type ', type), h('label', {}, 'Status ', status),
      h('label', {}, 'Expires ', expires), h('label', {}, 'Group ', group), h('button', {type: 'submit'}, 'Save'), out));
  }
  load();
  return null;
}
