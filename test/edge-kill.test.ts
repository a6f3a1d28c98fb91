// Acceptance of issue 11 (power loss): `lighter edge run` is SIGKILLed at random points while it
// works through a queue of bundles, again and again. After every kill the local registry shows
// each target tag either not at all or as exactly the target image (its config and every blob
// present), and the apply state is whole; restarted, the module finishes the queue, reporting
// each bundle once. LIGHTER_EDGE_KILL_CYCLES raises the count.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveView, makeDevice, makeShore, outbox, receipts, resignBundle, runArgs, runOnce, seedStore, skopeoView, type Device, type Shore } from './support/edge.js';

const CYCLES = Number(process.env.LIGHTER_EDGE_KILL_CYCLES ?? 30);
const REPO = 'lighter-edge-kill/app';

let shore: Shore;
let device: Device;
let template: string;
let target: { configDigest: string; diffIDs: string[] };

beforeAll(async () => {
  shore = await makeShore();
  device = await makeDevice('kill');
  await seedStore(device, shore.images.appV1.archive, `${REPO}:base`);
  template = await shore.bundle(join(shore.dir, 'template.bundle'), { version: 1, tag: `${REPO}:t` });
  target = archiveView(shore.images.appV2.archive);
});

afterAll(async () => {
  await device?.stop();
  shore?.stop();
});

/** What the registry shows for a tag: nothing, or a manifest whose config and blobs it all has. */
async function visible(tag: string): Promise<string | null> {
  const base = `http://${device.registry.host}/v2/${REPO}`;
  const res = await fetch(`${base}/manifests/${tag}`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } });
  if (res.status === 404) return null;
  const m = (await res.json()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  for (const d of [m.config, ...m.layers]) expect((await fetch(`${base}/blobs/${d.digest}`, { method: 'HEAD' })).status, `${tag}: blob ${d.digest}`).toBe(200);
  return m.config.digest;
}

/** Drops a bundle into the inbox the way a careful transfer does: a hidden temp name, then a rename. */
function drop(src: string, name: string): void {
  const tmp = join(device.inbox, `.incoming-${name}`);
  renameSync(src, tmp);
  renameSync(tmp, join(device.inbox, name));
}

function killedAfter(ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn('node', runArgs(device, shore, ['--no-hub', '--settle-ms', '0', '--poll-ms', '50']), { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('kill -9 during edge apply', () => {
  it(`never shows a partial image; after restart the queue finishes, each bundle reported once (${CYCLES} kills)`, { timeout: 60_000 + CYCLES * 10_000 }, async () => {
    let version = 1;
    const tags: string[] = [];
    const refill = async () => {
      for (let n = 0; n < 2; n++) {
        version++;
        const tag = `v${version}`;
        tags.push(tag);
        const out = join(shore.dir, `q${version}.bundle`);
        await resignBundle(shore, template, out, (m) => ({ ...m, version, entries: m.entries.map((e) => ({ ...e, target: { ...e.target, repoTag: `${REPO}:${tag}` } })) }));
        drop(out, `q${version}.bundle`);
      }
    };
    const queued = () => readdirSync(device.inbox).filter((n) => n.endsWith('.bundle')).length;

    // How long a whole run of two bundles takes here, so kills land anywhere in it.
    await refill();
    const t0 = Date.now();
    runOnce(device, shore, ['--no-hub', '--settle-ms', '0']);
    const whole = Date.now() - t0;
    expect(queued()).toBe(0);

    let killed = 0;
    for (let cycle = 0; killed < CYCLES && cycle < CYCLES * 3; cycle++) {
      if (queued() === 0) await refill();
      const code = await killedAfter(300 + Math.random() * whole);
      if (code === null) killed++;
      for (const tag of tags) {
        const id = await visible(tag);
        expect(id === null || id === target.configDigest, `cycle ${cycle}: ${tag} shows ${id}`).toBe(true);
      }
      const applied = JSON.parse(readFileSync(join(device.state, 'applied.json'), 'utf8')) as { version: number };
      expect(applied.version).toBeLessThanOrEqual(version);
    }
    expect(killed).toBe(CYCLES);

    runOnce(device, shore, ['--no-hub', '--settle-ms', '0']);
    expect(queued()).toBe(0);
    for (const tag of tags) expect(skopeoView(device.registry.host, `${REPO}:${tag}`), tag).toEqual(target);
    // every bundle once, in version order, in the outbox and as a receipt
    const results = outbox(device).map((m) => m.result);
    expect(results.every((r) => r.result === 'applied')).toBe(true);
    expect(results.map((r) => r.version)).toEqual(tags.map((t) => Number(t.slice(1))));
    expect((await receipts(device)).length).toBe(tags.length);
    expect(readdirSync(join(device.state, 'work'))).toEqual([]);
  });
});
