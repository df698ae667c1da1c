// An independent OCPP-J station for ocppd's end-to-end tests, built on the
// npm package ocpp-rpc in strict mode: every call we send and every answer
// ocppd returns is validated against the official JSON schemas by ocpp-rpc
// itself, so a schema-invalid response from ocppd fails the test.
//
// usage: node station.js --url ws://127.0.0.1:PORT --id CP1 --protocol ocpp2.0.1
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
const now = () => new Date().toISOString();

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

async function main() {
  const script = scripts[protocol];
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
  for (const [action, request] of script) {
    const response = await cli.call(action, request);
    console.log(JSON.stringify({ action, request, response }));
  }
  await cli.close({ code: 1000 });
}

main().then(() => process.exit(0), (err) => {
  console.error(`ocpp-rpc station failed: ${err && (err.stack || err.message || err)}`);
  if (err && err.details) console.error(JSON.stringify(err.details));
  process.exit(1);
});
