// What the edge-module tests share: a device sandbox (inbox, receipts, state, a real local
// registry), signed bundles built from the test images, the module started as the real program
// (`lighter edge run` through bin/lighter.js), and readers for what it leaves behind.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundle } from '../../io/bundle/build.js';
import { copyImage } from '../../io/image/copy.js';
import { openDestination, openSource } from '../../io/image/transport.js';
import { generateKeys, loadSigner } from '../../io/keys.js';
import { readReceipt } from '../../io/receipt.js';
import type { Receipt } from '../../core/edge/receipt.js';
import { decodePreamble, encodeHeader, headerLength, PREAMBLE_BYTES } from '../../core/bundle/format.js';
import { bundleIdInput, encodeManifest, parseManifest, type Manifest } from '../../core/bundle/manifest.js';
import { sha256 } from '../../io/digest.js';
import { buildTestImages, type TestImages } from './images.js';
import { startRegistry, type TestRegistry } from './registry.js';

export const CLI = join(import.meta.dirname, '..', '..', 'bin', 'lighter.js');

export interface Device {
  dir: string;
  inbox: string;
  receipts: string;
  state: string;
  registry: TestRegistry;
  stop(): Promise<void>;
}

export async function makeDevice(name: string): Promise<Device> {
  const dir = mkdtempSync(join(tmpdir(), `lighter-edge-${name}-`));
  const registry = await startRegistry();
  const d = { dir, inbox: join(dir, 'inbox'), receipts: join(dir, 'receipts'), state: join(dir, 'state'), registry };
  for (const p of [d.inbox, d.receipts]) mkdirSync(p, { recursive: true });
  return {
    ...d,
    async stop() {
      await registry.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Puts a docker-archive image into the device's store under `ref` (what an earlier bundle left). */
export async function seedStore(device: Device, archive: string, ref: string): Promise<void> {
  const src = await openSource(`docker-archive:${archive}`);
  try {
    await copyImage(src, await openDestination(`docker://${device.registry.host}/${ref}`));
  } finally {
    await src.close();
  }
}

export interface Shore {
  images: TestImages;
  dir: string;
  keys: { privateKey: string; publicKey: string };
  /** a bundle appV1 → appV2 (or a full image with from: null) tagged `tag`, at `version` */
  bundle(out: string, opts: { version: number; tag: string; from?: string | null; to?: string; expires?: Date; key?: string }): Promise<string>;
  stop(): void;
}

export async function makeShore(): Promise<Shore> {
  const images = buildTestImages();
  const dir = mkdtempSync(join(tmpdir(), 'lighter-edge-shore-'));
  const keys = await generateKeys(join(dir, 'keys'));
  const made = new Map<string, string>();
  return {
    images,
    dir,
    keys,
    async bundle(out, opts) {
      const from = opts.from === undefined ? images.appV1.archive : opts.from;
      const to = opts.to ?? images.appV2.archive;
      const key = `${from}|${to}|${opts.version}|${opts.tag}|${opts.expires?.toISOString()}|${opts.key}`;
      let built = made.get(key);
      if (!built) {
        built = join(dir, `b${made.size}.bundle`);
        await buildBundle({
          to: `docker-archive:${to}`,
          from: from ? [`docker-archive:${from}`] : [],
          fromSignatures: [],
          signer: await loadSigner(opts.key ?? keys.privateKey),
          out: built,
          version: opts.version,
          creator: 'edge-test',
          repoTag: opts.tag,
          ...(opts.expires ? { expires: opts.expires } : {}),
        });
        made.set(key, built);
      }
      copyFileSync(built, out);
      return out;
    },
    stop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `lighter edge run` for `device`, trusting the bundle key `trust` (a public key file). */
export function edgeRunArgs(device: Device, trust: string, extra: string[]): string[] {
  return [CLI, 'edge', 'run', '--inbox', device.inbox, '--receipts', device.receipts, '--state', device.state, '--trust', trust, '--registry', device.registry.host, '--settle-ms', '300', '--poll-ms', '100', ...(extra.includes('--no-hub') ? ['--device-id', 'ship-1'] : []), ...extra];
}

export function runArgs(device: Device, shore: Shore, extra: string[]): string[] {
  return edgeRunArgs(device, shore.keys.publicKey, extra);
}

/** Runs `lighter edge run ... --once`; returns its log (stdout and stderr); throws on a non-zero exit. */
export function runOnce(device: Device, shore: Shore, extra: string[] = ['--no-hub']): string {
  const r = spawnSync('node', [...runArgs(device, shore, extra), '--once'], { encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`lighter edge run --once exited ${r.status}: ${out}`);
  return out;
}

/**
 * `lighter edge run ... --once` as a child that leaves this process free: the hub stand-in it
 * reports to may be served from here. Resolves with its log; rejects on a non-zero exit.
 */
export function runOnceAsync(device: Device, trust: string, extra: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [...edgeRunArgs(device, trust, extra), '--once'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`lighter edge run --once exited ${code}: ${out}`))));
  });
}

/** Starts `lighter edge run` in the background; `output` collects its log. */
export function startModule(device: Device, shore: Shore, extra: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; output: () => string; stop(): Promise<void> } {
  const child = spawn('node', runArgs(device, shore, extra), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What skopeo (an independent reader) sees at docker://host/ref: config digest and diffIDs, or null. */
export function skopeoView(host: string, ref: string): { configDigest: string; diffIDs: string[] } | null {
  try {
    const raw = execFileSync('skopeo', ['inspect', '--tls-verify=false', '--config', '--raw', `docker://${host}/${ref}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const config = JSON.parse(raw.toString()) as { rootfs: { diff_ids: string[] } };
    return { configDigest: `sha256:${createHash('sha256').update(raw).digest('hex')}`, diffIDs: config.rootfs.diff_ids };
  } catch {
    return null;
  }
}

/** The image identity of a docker-archive, as skopeo reads it. */
export function archiveView(archive: string): { configDigest: string; diffIDs: string[] } {
  const raw = execFileSync('skopeo', ['inspect', '--config', '--raw', `docker-archive:${archive}`]);
  const config = JSON.parse(raw.toString()) as { rootfs: { diff_ids: string[] } };
  return { configDigest: `sha256:${createHash('sha256').update(raw).digest('hex')}`, diffIDs: config.rootfs.diff_ids };
}

export async function receipts(device: Device): Promise<Receipt[]> {
  const names = existsSync(device.receipts) ? readdirSync(device.receipts).filter((n) => n.endsWith('.receipt.json')) : [];
  return Promise.all(names.map((n) => readReceipt(join(device.receipts, n))));
}

export function quarantined(device: Device): Array<{ name: string; reason: string }> {
  const q = join(device.inbox, 'quarantine');
  if (!existsSync(q)) return [];
  return readdirSync(q)
    .filter((n) => n.endsWith('.reason.json'))
    .map((n) => ({ name: n.slice(0, -'.reason.json'.length), reason: (JSON.parse(readFileSync(join(q, n), 'utf8')) as { reason: string }).reason }));
}

export function outbox(device: Device): Array<{ seq: number; result: { file: string; result: string; reason?: string; version: number | null } }> {
  const dir = join(device.state, 'outbox');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /^\d{12}\.json$/.test(n))
    .sort()
    .map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')));
}

/**
 * A small image of its own (base + one file of `bytes` pseudo-random bytes), saved as a
 * docker-save archive: layers no other test image has, for quota tests.
 */
export function buildExtraImage(tag: string, seed: number, bytes: number, dir: string): string {
  const ctx = mkdtempSync(join(dir, 'ctx-'));
  const data = Buffer.alloc(bytes);
  let x = seed | 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  writeFileSync(join(ctx, 'blob.bin'), data);
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${buildTestImages().base.tag}\nCOPY blob.bin /blob.bin\n`);
  execFileSync('docker', ['build', '-q', '-t', tag, ctx], { stdio: 'ignore', env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  const archive = join(dir, `${tag.replace(/[/:]/g, '_')}.tar`);
  execFileSync('docker', ['save', '-o', archive, tag]);
  execFileSync('docker', ['image', 'rm', tag], { stdio: 'ignore' });
  return archive;
}

/** A copy of bundle `src` with its manifest changed and signed again by the shore key (a trusted signer's mistake). */
export async function resignBundle(shore: Shore, src: string, out: string, change: (m: Manifest) => Manifest): Promise<string> {
  const bytes = readFileSync(src);
  const preamble = decodePreamble(bytes);
  const manifest = parseManifest(bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + preamble.manifestLength));
  const changed = change(manifest);
  const header = encodeHeader(encodeManifest({ ...changed, id: sha256(bundleIdInput(changed)) }), await loadSigner(shore.keys.privateKey));
  writeFileSync(out, Buffer.concat([header, bytes.subarray(headerLength(preamble))]));
  return out;
}
