// An independent OCPP-J station for ocppd's end-to-end tests, built on the
// npm package ocpp-rpc in strict mode: every call we send and every answer
// ocppd returns is validated against the official JSON schemas by ocpp-rpc
// itself, so a schema-invalid response from ocppd fails the test.
//
// usage: node station.js --url ws://127.0.0.1:PORT --id CP1 --protocol ocpp2.0.1
//          [--script boot|session] [--id-tag TAG]
// The boot script (default) is boot, heartbeat, status. The session script
// is a whole charging session after the boot: Authorize, then
// StartTransaction / MeterValues / StopTransaction (1.6) or TransactionEvent
// Started / Updated / Ended (2.0.1), one hour long (timestamps an hour ago
// to now) at 11 kW from a 1000 Wh register: 11000 Wh.
// Prints one JSON line per exchange ({"action","request","response"}) and
// exits 0 when all succeeded, 1 otherwise.
import { RPCClient } from 'ocpp-rpc';

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : def;
}

const url = arg('url');
const identity = arg('id', 'CP1');
const protocol = arg('protocol', 'ocpp2.0.1');
const scriptName = arg('script', 'boot');
const idTag = arg('id-tag', 'RPCTAG01');
const now = () => new Date().toISOString();
const ago = (min) => new Date(Date.now() - min * 60000).toISOString();

const scripts = {
  'ocpp1.6': [
    ['BootNotification', { chargePointVendor: 'Acme Electrical', chargePointModel: 'ABC 123 XYZ', chargePointSerialNumber: 'CP1234567890A01', firmwareVersion: '10.9.8.ABC' }],
    ['Heartbeat', {}],
    ['StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: now() }],
  ],
  'ocpp2.0.1': [
    ['BootNotification', { chargingStation: { model: 'ABC 123 XYZ', vendorName: 'Acme Electrical Systems', firmwareVersion: '10.9.8.ABC', serialNumber: 'CP1234567890A01', modem: { iccid: '891004234814455936F', imsi: '310410123456789' } }, reason: 'PowerUp' }],
    ['Heartbeat', {}],
    ['StatusNotification', { timestamp: now(), connectorStatus: 'Available', evseId: 1, connectorId: 1 }],
  ],
};

// Session steps are functions of the answers so far (a 1.6 transaction id
// comes from the StartTransaction answer).
const energy = (v, context) => protocol === 'ocpp1.6'
  ? { value: String(v), context, measurand: 'Energy.Active.Import.Register', location: 'Outlet', unit: 'Wh' }
  : { value: v, context, measurand: 'Energy.Active.Import.Register', location: 'Outlet', unitOfMeasure: { unit: 'Wh' } };
const txId = 'rpc-' + Date.now();
const sessions = {
  'ocpp1.6': [
    () => ['StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing', timestamp: ago(60) }],
    () => ['Authorize', { idTag }],
    () => ['StartTransaction', { connectorId: 1, idTag, meterStart: 1000, timestamp: ago(60) }],
    () => ['StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: ago(60) }],
    (a) => ['MeterValues', { connectorId: 1, transactionId: a.StartTransaction.transactionId, meterValue: [{ timestamp: ago(30), sampledValue: [energy(6500, 'Sample.Periodic')] }] }],
    (a) => ['StopTransaction', { transactionId: a.StartTransaction.transactionId, idTag, meterStop: 12000, timestamp: ago(0), reason: 'Local' }],
    () => ['StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: now() }],
  ],
  'ocpp2.0.1': [
    () => ['Authorize', { idToken: { idToken: idTag, type: 'ISO14443' } }],
    () => ['TransactionEvent', { eventType: 'Started', timestamp: ago(60), triggerReason: 'Authorized', seqNo: 0,
      transactionInfo: { transactionId: txId, chargingState: 'Charging' }, idToken: { idToken: idTag, type: 'ISO14443' },
      evse: { id: 1, connectorId: 1 }, meterValue: [{ timestamp: ago(60), sampledValue: [energy(1000, 'Transaction.Begin')] }] }],
    () => ['StatusNotification', { timestamp: ago(60), connectorStatus: 'Occupied', evseId: 1, connectorId: 1 }],
    () => ['TransactionEvent', { eventType: 'Updated', timestamp: ago(30), triggerReason: 'MeterValuePeriodic', seqNo: 1,
      transactionInfo: { transactionId: txId, chargingState: 'Charging' }, meterValue: [{ timestamp: ago(30), sampledValue: [energy(6500, 'Sample.Periodic')] }] }],
    () => ['TransactionEvent', { eventType: 'Ended', timestamp: ago(0), triggerReason: 'StopAuthorized', seqNo: 2,
      transactionInfo: { transactionId: txId, chargingState: 'EVConnected', stoppedReason: 'Local' }, idToken: { idToken: idTag, type: 'ISO14443' },
      meterValue: [{ timestamp: ago(0), sampledValue: [energy(12000, 'Transaction.End')] }] }],
    () => ['StatusNotification', { timestamp: now(), connectorStatus: 'Available', evseId: 1, connectorId: 1 }],
  ],
};

async function main() {
  let script = scripts[protocol];
  if (scriptName === 'session' && sessions[protocol]) {
    script = [script[0], ...sessions[protocol]];
  } else if (scriptName !== 'boot') {
    throw new Error(`no script ${scriptName} for ${protocol}`);
  }
  if (!script) throw new Error(`no script for ${protocol}`);
  const cli = new RPCClient({
    endpoint: url,
    identity,
    protocols: [protocol],
    strictMode: true,
    reconnect: false,
  });
  await cli.connect();
  if (cli.protocol !== protocol) throw new Error(`negotiated ${cli.protocol}, wanted ${protocol}`);
  const answers = {};
  for (const step of script) {
    const [action, request] = typeof step === 'function' ? step(answers) : step;
    const response = await cli.call(action, request);
    answers[action] = response;
    console.log(JSON.stringify({ action, request, response }));
  }
  await cli.close({ code: 1000 });
}

main().then(() => process.exit(0), (err) => {
  console.error(`ocpp-rpc station failed: ${err && (err.stack || err.message || err)}`);
  if (err && err.details) console.error(JSON.stringify(err.details));
  process.exit(1);
});
