// Acceptance of issue 11 without a hub: a bundle dropped in the inbox ends as the target image in
// the device's local registry (read back by skopeo) and in Docker, with a signed receipt and a D2C
// message waiting in the outbox; foreign files are left alone; the store is restored into a wiped
// Docker engine with identical ids, and pruned keeping the previous version.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateReceiptKey, verifyReceipt } from '../io/receipt.js';
import { archiveView, CLI, makeDevice, makeShore, outbox, receipts, runOnce, seedStore, skopeoView, type Device, type Shore } from './support/edge.js';

let shore: Shore;
let device: Device;

beforeAll(async () => {
  shore = await makeShore();
  device = await makeDevice('e2e');
});

afterAll(async () => {
  await device?.stop();
  shore?.stop();
});

function dockerId(name: string): string | null {
  try {
    return execFileSync('docker', ['image', 'inspect', '-f', '{{.Id}}', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

describe('edge module, end to end without a hub', () => {
  it('applies a bundle from the inbox into the registry and Docker, with a receipt and an outbox message', async () => {
    await seedStore(device, shore.images.appV1.archive, 'lighter-edge-e2e/app:v1');
    await shore.bundle(join(device.inbox, 'app-v2.bundle'), { version: 10, tag: 'lighter-edge-e2e/app:v2' });
    const foreign = ['README.txt', '._app-v2.bundle', 'next.bundle.part', '.DS_Store'];
    for (const f of foreign) writeFileSync(join(device.inbox, f), 'not for the module');

    const log = runOnce(device, shore, ['--no-hub', '--docker']);
    expect(log).toMatch(/app-v2\.bundle: applied/);

    const want = archiveView(shore.images.appV2.archive);
    expect(skopeoView(device.registry.host, 'lighter-edge-e2e/app:v2')).toEqual(want);
    expect(dockerId(`${device.registry.host}/lighter-edge-e2e/app:v2`)).toBe(want.configDigest);

    const [receipt, ...more] = await receipts(device);
    expect(more).toEqual([]);
    expect(receipt).toMatchObject({ deviceId: 'ship-1', result: 'applied', version: 10, target: { ref: 'lighter-edge-e2e/app:v2', id: want.configDigest }, base: { ref: 'lighter-edge-e2e/app:v1' } });
    const key = await loadOrCreateReceiptKey(device.state);
    expect(verifyReceipt(receipt!, key.publicKeyBase64)).toEqual({ ok: true });

    expect(outbox(device).map((m) => [m.seq, m.result.result, m.result.version])).toEqual([[1, 'applied', 10]]);
    // the bundle is gone (its image stored, its receipt written); foreign files are untouched
    expect(readdirSync(device.inbox).sort()).toEqual(foreign.sort());
  });

  it('restores every image of the deployment into a wiped Docker engine, with no network, same ids', () => {
    const name = `${device.registry.host}/lighter-edge-e2e/app:v2`;
    const id = dockerId(name)!;
    execFileSync('docker', ['image', 'rm', '-f', name], { stdio: 'ignore' });
    expect(dockerId(name)).toBeNull();
    const out = execFileSync('node', [CLI, 'edge', 'restore', '--state', device.state, '--registry', device.registry.host], { encoding: 'utf8' });
    expect(out).toMatch(/restored 1 image/);
    expect(dockerId(name)).toBe(id);
    execFileSync('docker', ['image', 'rm', '-f', name], { stdio: 'ignore' });
  });

  // Building the full-image bundle is most of this test: 75-86 s on the shared 2-core machine at load 22.
  it('prunes what the deployment does not use, keeping the previous version, and says how many bytes', { timeout: 300_000 }, async () => {
    await seedStore(device, shore.images.base.archive, 'lighter-edge-e2e/unused:v1');
    // a full-image bundle for v3 of the app makes v2 the previous version, v1 older still
    await shore.bundle(join(device.inbox, 'app-v3.bundle'), { version: 11, tag: 'lighter-edge-e2e/app:v3', from: null, to: shore.images.base.archive });
    runOnce(device, shore);
    const prune = (extra: string[]) => execFileSync('node', [CLI, 'edge', 'prune', '--state', device.state, '--registry', device.registry.host, ...extra], { encoding: 'utf8' });
    expect(prune(['--dry-run'])).toMatch(/would remove 2 image\(s\), kept 2; [1-9]\d* bytes freed/);
    expect(skopeoView(device.registry.host, 'lighter-edge-e2e/unused:v1')).not.toBeNull();
    const out = prune([]);
    expect(out).toMatch(/removed 2 image\(s\), kept 2; [1-9]\d* bytes freed/);
    expect(skopeoView(device.registry.host, 'lighter-edge-e2e/unused:v1')).toBeNull();
    expect(skopeoView(device.registry.host, 'lighter-edge-e2e/app:v1')).toBeNull();
    expect(skopeoView(device.registry.host, 'lighter-edge-e2e/app:v2')).not.toBeNull();
    expect(skopeoView(device.registry.host, 'lighter-edge-e2e/app:v3')).not.toBeNull();
    expect(existsSync(join(device.inbox, 'app-v3.bundle'))).toBe(false);
  });
});
