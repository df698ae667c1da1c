// The ocppd operator portal: a single-page application routed by the URL
// fragment (#/fleet, #/station/CP1, …). It talks only to the REST API.

import 'uplot/dist/uPlot.min.css';
import './style.css';
import {h, replace, getToken, setToken, loadSpec, resetSpec, openStream, closeStream, onStreamState, setUnauthorizedHandler} from './lib.js';
import {loginPage} from './pages/login.js';
import {fleetPage} from './pages/fleet.js';
import {stationPage} from './pages/station.js';
import {transactionsPage} from './pages/transactions.js';
import {idTokensPage} from './pages/idtokens.js';
import {rulesPage} from './pages/rules.js';
import {firmwarePage} from './pages/firmware.js';
import {healthPage} from './pages/health.js';
import {analyticsPage} from './pages/analytics.js';

const NAV = [
  ['fleet', 'Fleet'],
  ['transactions', 'Transactions'],
  ['idtokens', 'ID tokens'],
  ['rules', 'Rules'],
  ['firmware', 'Firmware'],
  ['health', 'System health'],
  ['analytics', 'Analytics'],
];

const PAGES = {
  fleet: fleetPage,
  station: stationPage,
  transactions: transactionsPage,
  idtokens: idTokensPage,
  rules: rulesPage,
  firmware: firmwarePage,
  health: healthPage,
  analytics: analyticsPage,
};

const root = document.getElementById('app');
let cleanup = null;
let ready = false;

function logout() {
  setToken('');
  resetSpec();
  closeStream();
  ready = false;
  location.hash = '#/login';
}
setUnauthorizedHandler(logout);

function shell(active, content) {
  const live = h('span', {class: 'stream', 'data-testid': 'stream-state'}, '');
  const un = onStreamState((s) => { live.textContent = s === 'live' ? '● live' : s; live.className = 'stream ' + s; });
  const prevCleanup = cleanup;
  cleanup = () => { un(); prevCleanup && prevCleanup(); };
  return h('div', {class: 'layout'},
    h('nav', {class: 'side'},
      h('a', {class: 'brand', href: '#/fleet'}, 'ocppd'),
      NAV.map(([k, label]) => h('a', {href: '#/' + k, class: k === active ? 'active' : null, 'data-nav': k}, label)),
      h('div', {class: 'side-foot'}, live, h('button', {class: 'link', onclick: logout, 'data-testid': 'logout'}, 'Log out'))),
    h('main', {class: 'content'}, content));
}

async function route() {
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  const [name = 'fleet', ...rest] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (!getToken() || name === 'login') {
    closeStream();
    ready = false;
    replace(root, loginPage(async (token) => {
      setToken(token);
      location.hash = '#/fleet';
    }));
    return;
  }
  if (!ready) {
    try {
      await loadSpec();
      ready = true;
      openStream();
    } catch (e) {
      if (e.status === 401) { logout(); return; }
      replace(root, h('div', {class: 'panel'}, h('h2', {}, 'Cannot reach the API'), h('p', {}, e.message),
        h('button', {onclick: route}, 'Retry')));
      return;
    }
  }
  const page = PAGES[name] || fleetPage;
  const content = h('div', {class: 'page'});
  const active = name === 'station' ? 'fleet' : (PAGES[name] ? name : 'fleet');
  replace(root, shell(active, content));
  const done = page(content, ...rest);
  const prev = cleanup;
  cleanup = () => { prev && prev(); typeof done === 'function' && done(); };
}

window.addEventListener('hashchange', route);
route();
