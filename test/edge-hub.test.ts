// Acceptance of issue 11 with IoT Hub (the stand-in on loopback, reached by the real device SDK
// over MQTT/TLS): the twin holds the report and the stand-in the D2C message, and the receipt
// verifies with the key the twin reports; five bundles applied while the hub is down all reach it
// when it is back, in order, none twice; bad input (unknown key, rollback, expired, wrong base,
// store full) shows its specific reason in the twin, the D2C message and the receipt.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { d2cMessageSchema, type D2cMessage, type Report } from '../core/edge/report.js';
import { readReport } from '../main/hub/report-apply.js';
import { generateKeys } from '../io/keys.js';
import { verifyReceipt } from '../io/receipt.js';
import { archiveView, buildExtraImage, makeDevice, makeShore, outbox, receipts, resignBundle, seedStore, skopeoView, startModule, waitFor, type Device, type Shore } from './support/edge.js';
import { startHubStandin, type HubStandin } from './support/hub-standin/index.js';

let shore: Shore;
let device: Device;
let hub: HubStandin;
let module: ReturnType<typeof startModule> | undefined;

const DEVICE = 'ship-hub';
const REPO = 'lighter-edge-hub/app';

beforeAll(async () => {
  shore = await makeShore();
  device = await makeDevice('hub');
  hub = await startHubStandin({ devices: [{ deviceId: DEVICE, capabilities: { iotEdge: true }, modules: ['lighter'] }] });
  await seedStore(device, shore.images.appV1.archive, `${REPO}:v1`);
});

afterAll(async () => {
  await module?.stop();
  await hub?.stop();
  await device?.stop();
  shore?.stop();
});

function start(extra: string[] = []) {
  // The connection string goes in the environment, not the argument list (ps shows arguments).
  module = startModule(device, shore, ['--hub-ca', hub.caFile, '--hub-retry-ms', '300', ...extra], { LIGHTER_EDGE_HUB_CONNECTION_STRING: hub.moduleConnectionString(DEVICE, 'lighter') });
  return module;
}

/** The report as shore sync reads it from the twin (main/hub/report-apply.ts). */
function twinReport(): Report | undefined {
  const reported = (hub.twin(DEVICE, 'lighter').properties as { reported?: { lighter?: unknown } }).reported;
  if (!reported?.lighter) return undefined;
  const r = readReport(reported);
  if ('error' in r) throw new Error(`the twin report does not parse: ${r.error}`);
  return r.report;
}

function messages(): D2cMessage[] {
  return hub.d2c.filter((m) => m.deviceId === DEVICE && m.moduleId === 'lighter').map((m) => d2cMessageSchema.parse(JSON.parse(m.text)));
}

describe('edge module with IoT Hub', () => {
  it('reports to the twin and as a D2C message; the receipt verifies with the key the twin reports', async () => {
    const m = start();
    await shore.bundle(join(device.inbox, 'v2.bundle'), { version: 10, tag: `${REPO}:v2` });
    const msg = await waitFor('the D2C message', () => messages()[0]);
    const want = archiveView(shore.images.appV2.archive);
    expect(skopeoView(device.registry.host, `${REPO}:v2`)).toEqual(want);
    expect(msg).toMatchObject({ seq: 1, deviceId: DEVICE, moduleId: 'lighter', result: { result: 'applied', version: 10, target: { ref: `${REPO}:v2`, id: want.configDigest } } });
    const report = await waitFor('the twin report', () => twinReport()?.results.length === 1 && twinReport());
    expect(report.images).toEqual(expect.arrayContaining([{ ref: `${REPO}:v2`, id: want.configDigest }, { ref: `${REPO}:v1`, id: archiveView(shore.images.appV1.archive).configDigest }]));
    expect(report.lastVersion).toBe(10);
    expect(report.store.usedBytes).toBeGreaterThan(0);
    const [receipt] = await receipts(device);
    expect(verifyReceipt(receipt!, report.receiptKey)).toEqual({ ok: true });
    expect(verifyReceipt(msg.receipt, report.receiptKey)).toEqual({ ok: true });
    expect(receipt).toEqual(msg.receipt);
    expect(m.output()).not.toContain(hub.moduleConnectionString(DEVICE, 'lighter').match(/SharedAccessKey=([^;]+)/)![1]);
  });

  it('five bundles applied while the hub is down all arrive when it is back, in order, none twice', async () => {
    await hub.down();
    for (let v = 21; v <= 25; v++) await shore.bundle(join(device.inbox, `offline-${v}.bundle`), { version: v, tag: `${REPO}:v${v}` });
    await waitFor('five results in the outbox', () => outbox(device).length === 5, 120_000);
    expect(messages()).toHaveLength(1);
    await hub.up();
    await waitFor('six D2C messages', () => messages().length >= 6, 60_000);
    await new Promise((r) => setTimeout(r, 1500)); // time for a duplicate to show up, if one were sent
    const got = messages();
    expect(got.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(got.slice(1).map((x) => x.result.version)).toEqual([21, 22, 23, 24, 25]);
    expect(outbox(device)).toEqual([]);
    const report = await waitFor('the twin after the outage', () => twinReport()?.lastVersion === 25 && twinReport());
    expect(report.results.map((r) => r.version)).toEqual([25, 24, 23, 22, 21, 10]);
  });

  it('bad input: each a specific reason in the twin, the D2C message and the receipt; nothing lost', async () => {
    const other = await generateKeys(join(shore.dir, 'other-keys'));
    const cases: Array<{ file: string; reason: string; make: () => Promise<unknown> }> = [
      { file: 'unknown-key.bundle', reason: 'wrong-key', make: () => shore.bundle(join(shore.dir, 'unknown-key.bundle'), { version: 30, tag: `${REPO}:k`, key: other.privateKey }) },
      { file: 'rollback.bundle', reason: 'replay', make: () => shore.bundle(join(shore.dir, 'rollback.bundle'), { version: 5, tag: `${REPO}:old` }) },
      { file: 'wrong-base.bundle', reason: 'no-matching-base', make: () => shore.bundle(join(shore.dir, 'wrong-base.bundle'), { version: 32, tag: `${REPO}:wb`, from: shore.images.base.archive }) },
    ];
    for (const c of cases) await c.make();
    // a target with 2 MB of layers the store lacks, for a store that has 100 kB left
    const big = buildExtraImage('lighter-edge-hub/big:1', 42, 2 << 20, shore.dir);
    await shore.bundle(join(shore.dir, 'store-full.bundle'), { version: 33, tag: `${REPO}:big`, to: big });
    // shore refuses to build a bundle that is already expired: this one was signed with a past expiry
    await shore.bundle(join(shore.dir, 'to-expire.bundle'), { version: 31, tag: `${REPO}:exp` });
    await resignBundle(shore, join(shore.dir, 'to-expire.bundle'), join(shore.dir, 'expired.bundle'), (m) => ({ ...m, created: new Date(Date.now() - 3600_000).toISOString(), expires: new Date(Date.now() - 60_000).toISOString() }));
    cases.push({ file: 'expired.bundle', reason: 'expired', make: async () => undefined });
    await module?.stop();
    const used = twinReport()!.store.usedBytes;
    const m = start(['--store-quota', String(used + 100_000)]);
    const before = messages().length;
    for (const c of [...cases, { file: 'store-full.bundle', reason: 'store-full' }]) copyFileSync(join(shore.dir, c.file), join(device.inbox, c.file));
    await waitFor('five failure messages', () => messages().length >= before + 5, 120_000);
    const got = messages().slice(before);
    const report = await waitFor('the twin with the failures', () => twinReport()?.results.filter((r) => r.result === 'failed').length === 5 && twinReport());
    const all = await receipts(device);
    for (const c of [...cases.map((x) => ({ file: x.file, reason: x.reason })), { file: 'store-full.bundle', reason: 'store-full' }]) {
      expect(got.find((x) => x.result.file === c.file)?.result, c.file).toMatchObject({ result: 'failed', reason: c.reason });
      expect(report.results.find((r) => r.file === c.file), c.file).toMatchObject({ result: 'failed', reason: c.reason });
      const receipt = all.find((r) => r.file.name === c.file);
      expect(receipt, c.file).toMatchObject({ result: 'failed', reason: c.reason });
      expect(verifyReceipt(receipt!, report.receiptKey)).toEqual({ ok: true });
    }
    // nothing lost: the bad ones are in quarantine with their reason, the good one waits for room
    expect(existsSync(join(device.inbox, 'store-full.bundle'))).toBe(true);
    for (const c of cases) expect(existsSync(join(device.inbox, 'quarantine', `${c.file}.reason.json`)), c.file).toBe(true);
    expect(report.lastVersion).toBe(25);
    expect(skopeoView(device.registry.host, `${REPO}:big`)).toBeNull();
    await m.stop();
  });
});
