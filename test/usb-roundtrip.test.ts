// Acceptance (issue 13, USB): a deployment for three devices (two share a bundle) exported onto a
// directory standing in for a stick, imported "on board" into one loopback registry per device
// (skopeo reads the targets back), receipts carried back and the inventory showing applied. Then
// the same set split over sticks smaller than it (a bundle cut into pieces), imported in reverse order.
// Progress runs over verify and apply, and a cancel mid-apply leaves no receipt.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeys } from '../io/keys.js';
import { openInventory } from '../main/inventory/open.js';
import { Inventory } from '../main/inventory/store.js';
import { seedFleet, type Fleet } from './support/fleet.js';
import { independentView } from './support/independent-view.js';
import { CancelledError } from '../io/operation.js';
import { UsbImporter } from '../main/usb/import.js';
import { startFailingProxy, startRegistry, type TestRegistry } from './support/registry.js';
import { deviceRegistries, lighter, lighterAsync, lighterJson } from './support/usb.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-usb-rt-'));
let fleet: Fleet;
let keys: { privateKey: string; publicKey: string };
let regs: TestRegistry[] = [];
let deployment: number;
const db = () => join(dir, 'shore', 'lighter.db');
const shore = (args: string[]) => lighterJson<Record<string, unknown>>([...args, '--db', db()], { LIGHTER_DATA_DIR: join(dir, 'shore') });

beforeAll(async () => {
  fleet = await seedFleet(join(dir, 'shore'), 'usbrt');
  keys = await generateKeys(join(dir, 'keys'));
  regs = await deviceRegistries(fleet);
  const manifest = join(dir, 'manifest.json');
  writeFileSync(manifest, fleet.manifest);
  deployment = shore(['deployment', 'create', '--manifest', manifest, '--group', 'usbrt-north', '--ordered-by', 'Ana Lima', '--email', 'ana@fleet.example', '--priority', '2']).id as number;
  const built = shore(['deployment', 'build', String(deployment), '--key', keys.privateKey]) as { bundles: Array<{ devices: string[] }> };
  expect(built.bundles.map((b) => b.devices.length).sort()).toEqual([1, 2]);
}, 600_000);

afterAll(async () => {
  await Promise.all(regs.map((r) => r.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function imageStates(): Promise<string[]> {
  const d = await openInventory(db());
  try {
    const inv = new Inventory(d, 'test');
    return fleet.devices.map((id) => inv.imagesOnDevice(id).find((i) => i.config_digest === fleet.described.appV2.configDigest)?.state ?? 'none');
  } finally {
    d.close();
  }
}

describe('USB round trip', () => {
  it('exports three devices (the shared bundle once), applies on board into each device registry, and takes the receipts back', async () => {
    const stick = join(dir, 'stick');
    mkdirSync(stick);
    const exported = shore(['usb', 'export', '--deployment', String(deployment), '--to', stick, '--key', keys.privateKey]) as { sticks: number; devices: Array<{ deviceId: string }> };
    expect(exported.sticks).toBe(1);
    expect(exported.devices.map((d) => d.deviceId)).toEqual(fleet.devices);
    // The shared bundle is on the stick once: two files for three devices.
    expect(readdirSync(join(stick, 'lighter', 'bundles'))).toHaveLength(2);
    const index = JSON.parse(readFileSync(join(stick, 'lighter', 'index.json'), 'utf8')) as { index: { devices: Array<{ bundles: string[] }> } };
    expect(new Set(index.index.devices.flatMap((d) => d.bundles)).size).toBe(2);
    expect(await imageStates()).toEqual(['in_transit', 'in_transit', 'in_transit']);

    // On board: a crew laptop with its own data directory (its receipt key is made there).
    const crew = { LIGHTER_DATA_DIR: join(dir, 'crew') };
    const applied = lighterJson<{ devices: Array<{ bundles: Array<{ outcome: string }> }> }>(
      ['usb', 'import', stick, '--pubkey', keys.publicKey, ...fleet.devices.flatMap((d, i) => ['--apply', `${d}=docker://${regs[i]!.host}`])],
      crew,
    );
    expect(applied.devices.map((d) => d.bundles.map((b) => b.outcome))).toEqual([['applied'], ['applied'], ['applied']]);
    for (const r of regs) expect(independentView(`docker://${r.host}/${fleet.images.appV2.tag}`).configDigest).toBe(fleet.described.appV2.configDigest);
    const receipts = readdirSync(join(stick, 'receipts'));
    expect(receipts.filter((f) => f.endsWith('.receipt.json'))).toHaveLength(3);

    // Shore: the crew laptop's key is unknown until enrolled; then the receipts are taken.
    const before = lighter(['usb', 'receipts', stick, '--db', db(), '--json']);
    expect(before.status).toBe(1);
    expect((JSON.parse(before.stdout) as { refused: Array<{ code: string }> }).refused.map((r) => r.code)).toEqual(['unknown-key', 'unknown-key', 'unknown-key']);
    expect(await imageStates()).toEqual(['in_transit', 'in_transit', 'in_transit']);
    const pem = receipts.find((f) => f.endsWith('.pem'))!;
    expect(shore(['keys', 'trust', join(stick, 'receipts', pem), '--label', 'crew laptop'])).toMatchObject({ added: true });
    const taken = shore(['usb', 'receipts', stick]) as { taken: Array<{ result: string; keySource: string }>; refused: unknown[] };
    expect(taken.taken.map((t) => [t.result, t.keySource])).toEqual([['applied', 'enrolled'], ['applied', 'enrolled'], ['applied', 'enrolled']]);
    expect(taken.refused).toEqual([]);
    expect(await imageStates()).toEqual(['applied', 'applied', 'applied']);
    // Carried back twice: replays, refused, nothing changes.
    const again = lighter(['usb', 'receipts', stick, '--db', db(), '--json']);
    expect((JSON.parse(again.stdout) as { refused: Array<{ code: string }> }).refused.map((r) => r.code)).toEqual(['replay', 'replay', 'replay']);
    const d = await openInventory(db());
    try {
      const sync = d.prepare("SELECT summary FROM sync_history WHERE source = 'usb-receipt' ORDER BY id").all() as Array<{ summary: string }>;
      expect(sync.map((s) => s.summary.replace(/^receipts from \S+: /, ''))).toEqual([
        '0 taken (0 applied, 0 failed), 3 refused',
        '3 taken (3 applied, 0 failed), 0 refused',
        '0 taken (0 applied, 0 failed), 3 refused',
      ]);
      expect(d.prepare("SELECT action FROM audit_log WHERE action = 'key-trusted'").all()).toHaveLength(1);
    } finally {
      d.close();
    }
  }, 300_000);

  it('splits the set over sticks smaller than it (a bundle in pieces) that import in any order', async () => {
    const sizes = (shore(['deployment', 'show', String(deployment)]) as { bundles: Array<{ size: number }> }).bundles.map((b) => b.size);
    const largest = Math.max(...sizes);
    // Room for a bit more than half the largest bundle after the 1 MiB reserve: it goes in pieces.
    const media = (1 << 20) + Math.ceil(largest * 0.6);
    const sticks = [1, 2, 3, 4].map((n) => join(dir, `split-${n}`));
    for (const s of sticks) mkdirSync(s);
    const plan = lighter(['usb', 'export', '--deployment', String(deployment), '--to', sticks[0]!, '--media-size', String(media), '--key', keys.privateKey, '--db', db()], { LIGHTER_DATA_DIR: join(dir, 'shore') });
    expect(plan.status, plan.stderr).toBe(1);
    const n = Number(/the set needs (\d+) stick/.exec(plan.stderr)?.[1]);
    expect(n).toBeGreaterThanOrEqual(2);
    const exported = shore(['usb', 'export', '--deployment', String(deployment), '--media-size', String(media), '--key', keys.privateKey, ...sticks.slice(0, n).flatMap((s) => ['--to', s])]) as { sticks: number };
    expect(exported.sticks).toBe(n);
    const files = sticks.slice(0, n).flatMap((s) => readdirSync(join(s, 'lighter', 'bundles')));
    expect(files.some((f) => /\.bundle\.1of\d+$/.test(f))).toBe(true);

    const fresh = await deviceRegistries(fleet);
    try {
      const crew = { LIGHTER_DATA_DIR: join(dir, 'crew-split') };
      const outcomes: string[][] = [];
      for (const s of sticks.slice(0, n).reverse()) {
        const r = lighterJson<{ stick: { number: number; of: number }; devices: Array<{ bundles: Array<{ outcome: string }> }> }>(
          ['usb', 'import', s, '--pubkey', keys.publicKey, ...fleet.devices.flatMap((d, i) => ['--apply', `${d}=docker://${fresh[i]!.host}`])],
          crew,
        );
        expect(r.stick.of).toBe(n);
        outcomes.push(r.devices.map((d) => d.bundles[0]!.outcome));
      }
      // Every device applied exactly once over the set, whatever stick its bundle came on.
      for (let i = 0; i < 3; i++) expect(outcomes.map((o) => o[i]).filter((x) => x === 'applied')).toHaveLength(1);
      for (const r of fresh) expect(independentView(`docker://${r.host}/${fleet.images.appV2.tag}`).configDigest).toBe(fleet.described.appV2.configDigest);
    } finally {
      await Promise.all(fresh.map((r) => r.stop()));
    }
  }, 300_000);

  it('applies into a plain-HTTP device registry off loopback (the ship LAN) only with --insecure, and names the flag without it', async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    expect(external, 'this machine has a non-loopback address').toBeDefined();
    const device = fleet.devices[0]!;
    const stick = join(dir, 'lan');
    mkdirSync(stick);
    shore(['usb', 'export', '--deployment', String(deployment), '--to', stick, '--devices', device, '--key', keys.privateKey]);
    const fresh = await deviceRegistries(fleet);
    // The device's registry as the LAN shows it: plain HTTP on a non-loopback address.
    const lan = await startFailingProxy(fresh[0]!.host, () => undefined, external);
    try {
      const crew = { LIGHTER_DATA_DIR: join(dir, 'crew-lan') };
      const args = ['usb', 'import', stick, '--pubkey', keys.publicKey, '--apply', `${device}=docker://${lan.host}`];
      // Not spawnSync: the proxy is served by this process.
      const refused = await lighterAsync([...args, '--json'], crew);
      expect(refused.status, refused.stderr).toBe(1);
      const bundle = (JSON.parse(refused.stdout) as { devices: Array<{ bundles: Array<{ outcome: string; detail?: string }> }> }).devices[0]!.bundles[0]!;
      expect(bundle.outcome).toBe('failed');
      expect(bundle.detail).toMatch(/over HTTPS.*needs --insecure/s);
      const run = await lighterAsync([...args, '--insecure', '--json'], crew);
      expect(run.status, run.stderr).toBe(0);
      expect((JSON.parse(run.stdout) as { devices: Array<{ bundles: Array<{ outcome: string }> }> }).devices[0]!.bundles[0]!.outcome).toBe('applied');
      expect(independentView(`docker://${fresh[0]!.host}/${fleet.images.appV2.tag}`).configDigest).toBe(fleet.described.appV2.configDigest);
    } finally {
      await lan.stop();
      await Promise.all(fresh.map((r) => r.stop()));
    }
  }, 300_000);

  it('reports progress through verify and apply, and cancelled mid-apply writes no receipt; the next run applies', async () => {
    const device = fleet.devices[0]!;
    const stick = join(dir, 'cancel');
    mkdirSync(stick);
    shore(['usb', 'export', '--deployment', String(deployment), '--to', stick, '--devices', device, '--key', keys.privateKey]);
    const reg = await startRegistry();
    try {
      execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `docker-archive:${fleet.images.appV1.archive}`, `docker://${reg.host}/${fleet.images.appV1.tag}`]);
      const importer = new UsbImporter(join(dir, 'crew-cancel'));
      const req = { dir: stick, pubkey: keys.publicKey, apply: { [device]: `docker://${reg.host}` } };
      // Cancelled as the job service does: the signal aborts and the next progress report throws.
      const control = new AbortController();
      const seen: Array<[number, number, string | undefined]> = [];
      let applyingFrom: number | null = null;
      const cancelled = importer.import(req, {
        signal: control.signal,
        onProgress: (d, t, stage) => {
          seen.push([d, t, stage]);
          if (stage?.startsWith('applying to')) applyingFrom ??= d;
          // the first report from inside the apply (layers rebuilt) cancels it
          if (applyingFrom !== null && d > applyingFrom) {
            control.abort();
            throw new CancelledError('USB import cancelled');
          }
        },
      });
      await expect(cancelled).rejects.toThrow(CancelledError);
      expect(seen.map((s) => s[2])).toContain('verifying the stick');
      expect(seen.some((s) => s[2]?.startsWith(`applying to ${device}: `)), JSON.stringify(seen)).toBe(true);
      const done = seen.map((s) => s[0]);
      expect(done).toEqual([...done].sort((a, b) => a - b));
      expect(new Set(seen.map((s) => s[1])).size).toBe(1);
      expect(existsSync(join(stick, 'receipts')) ? readdirSync(join(stick, 'receipts')) : []).toEqual([]);

      const report = await importer.import(req);
      expect(report.devices[0]!.bundles.map((b) => b.outcome)).toEqual(['applied']);
      expect(readdirSync(join(stick, 'receipts')).filter((f) => f.endsWith('.receipt.json'))).toHaveLength(1);
      expect(independentView(`docker://${reg.host}/${fleet.images.appV2.tag}`).configDigest).toBe(fleet.described.appV2.configDigest);
    } finally {
      await reg.stop();
    }
  }, 300_000);
});
