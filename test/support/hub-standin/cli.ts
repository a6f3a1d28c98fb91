// `npm run hub-standin -- [--devices FILE] [--port N] [--mqtt-port N]`: the stand-in for a person.
// FILE is the JSON `az iot hub device-identity list` prints (tags, Edge capability and status
// kept; keys are made here unless the file has them). Prints the service connection string, each
// identity's, and the CA file to trust, then serves until Ctrl-C.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startHubStandin, type DeviceDefinition } from './index.js';

function readDevices(file: string): DeviceDefinition[] {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  if (!Array.isArray(parsed)) throw new Error(`${file}: expected the JSON array \`az iot hub device-identity list\` prints`);
  return parsed.map((d, n) => {
    if (typeof d !== 'object' || d === null || typeof (d as { deviceId?: unknown }).deviceId !== 'string') throw new Error(`${file}: entry ${n} has no deviceId`);
    return d as DeviceDefinition;
  });
}

const { values } = parseArgs({ options: { devices: { type: 'string' }, port: { type: 'string' }, 'mqtt-port': { type: 'string' } } });
const hub = await startHubStandin({
  devices: values.devices ? readDevices(values.devices) : [],
  ...(values.port ? { port: Number(values.port) } : {}),
  ...(values['mqtt-port'] ? { mqttPort: Number(values['mqtt-port']) } : {}),
});
const out = [
  `IoT Hub stand-in: HTTPS (service API) 127.0.0.1:${hub.httpsPort}, MQTT over TLS 127.0.0.1:${hub.mqttPort}`,
  `CA to trust: ${hub.caFile}   (service side: NODE_EXTRA_CA_CERTS=${hub.caFile})`,
  '',
  `service: ${hub.serviceConnectionString}`,
];
for (const d of hub.hub.registry.devices()) {
  const tags = Object.keys(d.twin.tags).length ? `  tags ${JSON.stringify(d.twin.tags)}` : '';
  out.push(`device ${d.deviceId}${d.iotEdge ? ' (IoT Edge)' : ''}${tags}: ${hub.deviceConnectionString(d.deviceId)}`);
  for (const m of hub.hub.registry.modulesOf(d.deviceId)) out.push(`  module ${m.moduleId}: ${hub.moduleConnectionString(d.deviceId, m.moduleId!)}`);
}
process.stdout.write(`${out.join('\n')}\n\nCtrl-C stops it.\n`);
const stop = () => void hub.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
