import {h, replace, api, query, has, findPath, fill, badge, pretty, errorBox, fmtTime, subscribe, debounce} from '../lib.js';

const is16 = (cp) => (cp?.protocol || '') === 'ocpp1.6';

// A command form: fields, and a builder of the OCPP action and payload for
// the station's version.
const COMMANDS = [
  {
    key: 'reset', label: 'Reset',
    fields: (cp) => [select('type', 'Type', is16(cp) ? ['Soft', 'Hard'] : ['OnIdle', 'Immediate'])],
    build: (v) => ({action: 'Reset', payload: {type: v.type}}),
  },
  {
    key: 'remote-start', label: 'Remote start',
    fields: (cp) => [text('idToken', 'ID token', 'TAG1'), num(is16(cp) ? 'connectorId' : 'evseId', is16(cp) ? 'Connector' : 'EVSE', 1)],
    build: (v, cp) => is16(cp)
      ? {action: 'RemoteStartTransaction', payload: {idTag: v.idToken, ...(v.connectorId ? {connectorId: +v.connectorId} : {})}}
      : {action: 'RequestStartTransaction', payload: {idToken: {idToken: v.idToken, type: 'Central'}, remoteStartId: Math.floor(Math.random() * 2 ** 31), ...(v.evseId ? {evseId: +v.evseId} : {})}},
  },
  {
    key: 'remote-stop', label: 'Remote stop',
    fields: () => [text('transactionId', 'Transaction id', '')],
    build: (v, cp) => is16(cp)
      ? {action: 'RemoteStopTransaction', payload: {transactionId: parseInt(v.transactionId, 10)}}
      : {action: 'RequestStopTransaction', payload: {transactionId: v.transactionId}},
  },
  {
    key: 'unlock', label: 'Unlock connector',
    fields: (cp) => is16(cp) ? [num('connectorId', 'Connector', 1)] : [num('evseId', 'EVSE', 1), num('connectorId', 'Connector', 1)],
    build: (v, cp) => ({action: 'UnlockConnector', payload: is16(cp) ? {connectorId: +v.connectorId} : {evseId: +v.evseId, connectorId: +v.connectorId}}),
  },
  {
    key: 'availability', label: 'Change availability',
    fields: (cp) => [select('type', 'Status', ['Operative', 'Inoperative']), num(is16(cp) ? 'connectorId' : 'evseId', is16(cp) ? 'Connector (0: station)' : 'EVSE (0: station)', 0)],
    build: (v, cp) => is16(cp)
      ? {action: 'ChangeAvailability', payload: {connectorId: +v.connectorId || 0, type: v.type}}
      : {action: 'ChangeAvailability', payload: {operationalStatus: v.type, ...(+v.evseId ? {evse: {id: +v.evseId}} : {})}},
  },
  {
    key: 'trigger', label: 'Trigger message',
    fields: (cp) => [select('requestedMessage', 'Message', is16(cp)
      ? ['StatusNotification', 'BootNotification', 'Heartbeat', 'MeterValues', 'FirmwareStatusNotification', 'DiagnosticsStatusNotification']
      : ['StatusNotification', 'BootNotification', 'Heartbeat', 'MeterValues', 'TransactionEvent', 'FirmwareStatusNotification', 'LogStatusNotification'])],
    build: (v) => ({action: 'TriggerMessage', payload: {requestedMessage: v.requestedMessage}}),
  },
  {
    key: 'configuration', label: 'Set configuration',
    fields: (cp) => is16(cp)
      ? [text('key', 'Key', 'HeartbeatInterval'), text('value', 'Value', '60')]
      : [text('component', 'Component', 'OCPPCommCtrlr'), text('variable', 'Variable', 'HeartbeatInterval'), text('value', 'Value', '60')],
    build: (v, cp) => is16(cp)
      ? {action: 'ChangeConfiguration', payload: {key: v.key, value: v.value}}
      : {action: 'SetVariables', payload: {setVariableData: [{component: {name: v.component}, variable: {name: v.variable}, attributeValue: v.value}]}},
  },
  {
    key: 'firmware', label: 'Update firmware',
    fields: () => [text('location', 'Firmware URL', 'https://example.com/fw.bin'), text('retrieveDate', 'Retrieve at (RFC 3339)', new Date().toISOString())],
    build: (v, cp) => is16(cp)
      ? {action: 'UpdateFirmware', payload: {location: v.location, retrieveDate: v.retrieveDate}}
      : {action: 'UpdateFirmware', payload: {requestId: Math.floor(Math.random() * 2 ** 31), firmware: {location: v.location, retrieveDateTime: v.retrieveDate}}},
  },
  {
    key: 'log', label: 'Get log',
    fields: () => [text('location', 'Upload to URL', 'https://example.com/upload')],
    build: (v, cp) => is16(cp)
      ? {action: 'GetDiagnostics', payload: {location: v.location}}
      : {action: 'GetLog', payload: {logType: 'DiagnosticsLog', requestId: Math.floor(Math.random() * 2 ** 31), log: {remoteLocation: v.location}}},
  },
];

function text(name, label, value) { return {name, label, value, type: 'text'}; }
function num(name, label, value) { return {name, label, value, type: 'number'}; }
function select(name, label, options) { return {name, label, options}; }

// commandsPath is the API operation that issues a command.
export function commandsPath() {
  return findPath('post', '/chargepoints/{cp}/commands', '/commands');
}

// commandsPanel renders one form per command; each shows its result.
export function commandsPanel(el, id, getCP) {
  const post = commandsPath();
  if (!post) {
    replace(el, h('section', {class: 'panel unavailable', 'data-testid': 'unavailable'}, h('h2', {}, 'Commands'),
      h('p', {}, 'Not available in this build: the API of this ocppd does not offer commands.')));
    return null;
  }
  const getPath = findPath('get', '/chargepoints/{cp}/commands/{id}', '/commands/{id}');
  const listPath = findPath('get', '/chargepoints/{cp}/commands', '/commands');
  const forms = h('div', {class: 'commands'});
  const history = h('tbody', {});
  replace(el,
    h('section', {class: 'panel'}, h('h2', {}, 'Commands'), forms),
    listPath ? h('section', {class: 'panel'}, h('h2', {}, 'Recent commands'),
      h('table', {class: 'grid', 'data-testid': 'command-history'},
        h('thead', {}, h('tr', {}, ['Created', 'Action', 'State', 'Result'].map((t) => h('th', {}, t)))), history)) : null);

  let stopped = false;
  // The payloads depend on the station's OCPP version: draw the forms
  // once the station is known.
  const renderForms = () => {
    const cp = getCP();
    if (!cp) { replace(forms, h('p', {class: 'muted'}, 'Loading…')); return; }
    replace(forms, COMMANDS.map((c) => commandForm(c, cp)));
  };

  function commandForm(c, cp) {
    const inputs = {};
    const result = h('div', {class: 'result', 'data-testid': `result-${c.key}`});
    const fields = c.fields(cp).map((f) => {
      const input = f.options
        ? h('select', {name: f.name}, f.options.map((o) => h('option', {}, o)))
        : h('input', {name: f.name, type: f.type, value: f.value ?? '', min: f.type === 'number' ? 0 : null});
      inputs[f.name] = input;
      return h('label', {}, f.label, input);
    });
    return h('form', {class: 'command', 'data-command': c.key, onsubmit: async (e) => {
      e.preventDefault();
      const vals = Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value]));
      const {action, payload} = c.build(vals, getCP());
      replace(result, badge('sending', 'warn'));
      try {
        const body = post.includes('{cp}') ? {action, payload} : {chargePointId: id, action, payload};
        let cmd = await api('POST', (post.includes('{cp}') ? fill(post, {cp: id}) : post) + query({wait: '2s'}), body);
        showResult(result, cmd);
        // Follow it until it ends.
        const started = Date.now();
        while (cmd && !final(cmd.state) && getPath && !stopped && Date.now() - started < 120e3) {
          // The API holds the request until the command ends (or 20 s).
          cmd = await api('GET', fill(getPath, {cp: id, id: cmd.id}) + query({wait: '20s'}));
          showResult(result, cmd);
        }
        loadHistory();
      } catch (err) {
        replace(result, errorBox(err));
      }
    }},
    h('h3', {}, c.label), fields, h('button', {type: 'submit', 'data-testid': `send-${c.key}`}, 'Send'), result);
  }

  const loadHistory = async () => {
    if (!listPath) return;
    try {
      const url = listPath.includes('{cp}') ? fill(listPath, {cp: id}) + query({limit: 20}) : listPath + query({cp: id, limit: 20});
      const r = await api('GET', url);
      const items = r.items || [];
      replace(history, items.length ? items.map((c) => h('tr', {},
        h('td', {}, fmtTime(c.createdAt)), h('td', {}, c.action), h('td', {}, badge(c.state)),
        h('td', {}, h('code', {class: 'frame'}, c.response ? JSON.stringify(c.response) : (c.errorCode || c.errorDescription || ''))))) :
        h('tr', {}, h('td', {colspan: 4, class: 'empty'}, 'No commands yet.')));
    } catch { /* shown by the forms */ }
  };

  renderForms();
  loadHistory();
  const wait = setInterval(() => { if (getCP()) { clearInterval(wait); renderForms(); } }, 200);
  const reload = debounce(loadHistory, 500);
  const unsub = subscribe((ev) => { if (ev.cp === id && ev.direction === 'in' && ev.type !== 'CALL') reload(); });
  return () => { stopped = true; clearInterval(wait); unsub(); };
}

function final(state) {
  return ['answered', 'failed', 'timed_out', 'timedout', 'rejected', 'canceled', 'cancelled'].includes(String(state || '').toLowerCase());
}

// showResult shows a command's state and, once answered, the station's
// answer (e.g. {"status":"Accepted"}) or the error.
function showResult(el, cmd) {
  const state = cmd?.state || 'sent';
  const status = cmd?.response?.status;
  replace(el,
    h('div', {class: 'row', 'data-state': state, 'data-status': status || ''},
      badge(state), status ? [' ', badge(status)] : null),
    cmd?.response ? h('pre', {class: 'json small'}, pretty(cmd.response)) : null,
    cmd?.errorCode || cmd?.errorDescription ? h('div', {class: 'error'}, [cmd.errorCode, cmd.errorDescription].filter(Boolean).join(': ')) : null);
}
