import {h, api, errorBox} from '../lib.js';

// loginPage asks for an API token and checks it against the API before
// keeping it.
export function loginPage(onLogin) {
  const input = h('input', {type: 'password', name: 'token', id: 'token', autocomplete: 'off', placeholder: 'ocppd_…', required: true, 'data-testid': 'token'});
  const msg = h('div', {});
  const form = h('form', {class: 'login', 'data-testid': 'login-form', onsubmit: async (e) => {
    e.preventDefault();
    msg.replaceChildren();
    const token = input.value.trim();
    try {
      await api('GET', '/system', undefined, {token});
      onLogin(token);
    } catch (err) {
      msg.replaceChildren(errorBox(err.status === 401 ? {message: 'This token is not valid (unknown or revoked).'} : err));
    }
  }},
  h('h1', {}, 'ocppd'),
  h('p', {class: 'muted'}, 'Operator portal'),
  h('label', {for: 'token'}, 'API token'),
  input,
  h('p', {class: 'hint'}, 'Create one on the server with ', h('code', {}, 'ocppd token create --name NAME'), '.'),
  h('button', {type: 'submit', 'data-testid': 'login'}, 'Log in'),
  msg);
  setTimeout(() => input.focus());
  return h('div', {class: 'login-wrap'}, form);
}
