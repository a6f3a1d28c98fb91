// One bundle file from the inbox, start to end: which trusted key it claims, the checks in the
// order docs/bundle-format.md promises (signature, version, expiry), the base found in the store
// (or Docker) by identity, the store's room, the rebuild into the local registry, `docker load`.
// Every way it can end is an Outcome with a reason code; nothing here reports or moves files.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { BundleError } from '../core/bundle/errors.js';
import { decodePreamble, PREAMBLE_BYTES, type ManifestVerifier } from '../core/bundle/format.js';
import type { Manifest } from '../core/bundle/manifest.js';
import { checkExpiry, checkVersion } from '../core/bundle/policy.js';
import type { ImageRef } from '../core/edge/receipt.js';
import { MAX_MESSAGE_CHARS } from '../core/edge/receipt.js';
import { isBundleFault, type Reason } from '../core/edge/reasons.js';
import { applyBundle } from '../io/bundle/apply.js';
import { openBundle } from '../io/bundle/reader.js';
import { ApplyState } from '../io/bundle/state.js';
import { sha256 } from '../io/digest.js';
import { copyImage } from '../io/image/copy.js';
import { openDestination, openSource } from '../io/image/transport.js';
import { RegistryError } from '../io/registry/client.js';
import { storeRefOf, type Store, type StoredImage } from './store.js';

export interface ApplyContext {
  store: Store;
  stateDir: string;
  trusted: ManifestVerifier[];
  /** load into this Docker engine too (and look for bases in it) */
  docker?: { socket?: string };
  now?: () => Date;
}

export interface Outcome {
  result: 'applied' | 'failed';
  reason?: Reason;
  message?: string;
  manifest?: Manifest;
  fileSha: string;
  target?: ImageRef;
  base?: ImageRef;
  /** what becomes of the file: applied → removed; its own fault → quarantine; the device's → kept, retried */
  disposition: 'remove' | 'quarantine' | 'retry';
}

export async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/**
 * The trusted key the bundle claims to be signed by (its unverified manifest names it), so the
 * signature is checked against that key; an unknown claim is checked against the first trusted
 * key, which refuses it as 'wrong-key' naming the key it claimed.
 */
export async function verifierFor(path: string, trusted: ManifestVerifier[]): Promise<ManifestVerifier> {
  const fh = await fs.open(path, 'r');
  try {
    const pre = Buffer.alloc(PREAMBLE_BYTES);
    await fh.read(pre, 0, PREAMBLE_BYTES, 0);
    const { manifestLength } = decodePreamble(pre);
    const head = Buffer.alloc(Math.min(manifestLength, 1 << 20));
    await fh.read(head, 0, head.length, PREAMBLE_BYTES);
    const claimed = /"signer":"(sha256:[0-9a-f]{64})"/.exec(head.toString('utf8'))?.[1];
    return trusted.find((v) => v.keyId === claimed) ?? trusted[0]!;
  } catch {
    // An unreadable preamble is refused, specifically, when the bundle is opened.
    return trusted[0]!;
  } finally {
    await fh.close();
  }
}

function one(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > MAX_MESSAGE_CHARS ? `${line.slice(0, MAX_MESSAGE_CHARS - 1)}…` : line;
}

/** The reason code for an error, and whether the bundle (not the device) is at fault. */
export function reasonOf(err: unknown): { reason: Reason; message: string } {
  const message = one(err instanceof Error ? err.message : String(err));
  if (err instanceof BundleError) return { reason: err.code, message };
  if (err instanceof StoreFullError) return { reason: 'store-full', message };
  if (err instanceof DockerLoadError) return { reason: 'docker-failed', message };
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || /no space left/i.test(message)) return { reason: 'store-full', message };
  if (err instanceof RegistryError || /registry|ECONNREFUSED|ECONNRESET/.test(message)) return { reason: 'store-unavailable', message };
  if (code === 'EIO' || code === 'ENOENT' || /cannot open bundle/.test(message)) return { reason: 'read-error', message };
  return { reason: 'internal', message };
}

/** dockerode (and the SSH stack it brings, ~25 MB) is loaded only on a device that uses Docker. */
export async function dockerClient(socket?: string): Promise<Docker> {
  const { default: Dockerode } = await import('dockerode');
  return socket ? new Dockerode({ socketPath: socket }) : new Dockerode();
}

class StoreFullError extends Error {}
class DockerLoadError extends Error {}

/** The store image a bundle entry starts from: same config digest and the same layers. */
function findBase(manifest: Manifest, images: StoredImage[]): { entryBase: string; image: StoredImage } | undefined {
  for (const e of manifest.entries) {
    if (!e.base) continue;
    const b = e.base;
    const image = images.find((i) => i.id === b.configDigest && i.diffIDs.length === b.diffIDs.length && i.diffIDs.every((d, n) => d === b.diffIDs[n]));
    if (image) return { entryBase: b.configDigest, image };
  }
  return undefined;
}

/** A base in the Docker engine by image ID, when the store has none. */
async function findDockerBase(manifest: Manifest, docker: Docker): Promise<string | undefined> {
  for (const e of manifest.entries) {
    if (!e.base) continue;
    const found = await docker.getImage(e.base.configDigest).inspect().then(() => true, () => false);
    if (found) return e.base.configDigest;
  }
  return undefined;
}

export async function applyFile(path: string, ctx: ApplyContext): Promise<Outcome> {
  const now = ctx.now ?? (() => new Date());
  let fileSha: string;
  try {
    fileSha = await fileSha256(path);
  } catch (err) {
    // Unreadable, so its content has no digest: the receipt names it by a digest of its path.
    return { result: 'failed', ...reasonOf(err), reason: 'read-error', fileSha: sha256(path), disposition: 'retry' };
  }
  let manifest: Manifest | undefined;
  let target: ImageRef | undefined;
  let base: ImageRef | undefined;
  try {
    const verifier = await verifierFor(path, ctx.trusted);
    const bundle = await openBundle(path, verifier);
    manifest = bundle.manifest;
    const state = await ApplyState.open(ctx.stateDir);
    const last = await state.lastApplied();
    checkVersion(manifest, last);
    checkExpiry(manifest, now());

    const images = await ctx.store.images();
    const found = findBase(manifest, images);
    const engine = ctx.docker ? await dockerClient(ctx.docker.socket) : undefined;
    const dockerBase = !found && engine ? await findDockerBase(manifest, engine) : undefined;
    const entry = manifest.entries.find((e) => (found ? e.base?.configDigest === found.entryBase : dockerBase ? e.base?.configDigest === dockerBase : e.base === null)) ?? manifest.entries[0]!;
    const ref = storeRefOf(entry.target.repoTag);
    target = { ref, id: entry.target.configDigest };
    if (found) base = { ref: found.image.ref, id: found.image.id };

    // The same bundle applied before a crash, its image stored: only the report is left to do.
    const stored = images.find((i) => i.ref === ref);
    const done = last?.id === manifest.id && last.version === manifest.version && stored?.id === entry.target.configDigest;
    // Even then every part is checked: a damaged copy of an applied bundle is refused, not "applied".
    if (done) {
      await bundle.verifyParts();
      // A kill between recording the apply and removing its work area leaves the rebuilt layers
      // behind; nothing will resume them, so they go now.
      await (await state.workArea(manifest.id)).remove();
    } else {
      await checkRoom(ctx.store, images, entry.target.layers);
      await fs.mkdir(join(ctx.stateDir, 'tmp'), { recursive: true });
      await applyBundle({
        bundle: path,
        verifier,
        from: found ? ctx.store.reference(found.image.ref) : dockerBase ? `docker-daemon:${dockerBase}` : null,
        to: ctx.store.reference(ref),
        stateDir: ctx.stateDir,
        now: now(),
        transport: { tmpDir: join(ctx.stateDir, 'tmp'), mountFrom: found ? [found.image.repository] : [], ...(ctx.docker?.socket ? { dockerSocket: ctx.docker.socket } : {}) },
      });
    }
    if (ctx.docker) await dockerLoad(ctx.store, ref, entry.target.configDigest, ctx.docker.socket);
    return { result: 'applied', manifest, fileSha, target, ...(base ? { base } : {}), disposition: 'remove' };
  } catch (err) {
    const { reason, message } = reasonOf(err);
    const disposition = isBundleFault(reason) ? 'quarantine' : reason === 'docker-failed' ? 'remove' : 'retry';
    return { result: 'failed', reason, message, ...(manifest ? { manifest } : {}), fileSha, ...(target ? { target } : {}), ...(base ? { base } : {}), disposition };
  }
}

/**
 * Refuses a target that would not fit: its layers the store does not have yet, counted at their
 * uncompressed size (the store keeps them gzipped, so this errs on the side of room).
 */
async function checkRoom(store: Store, images: StoredImage[], layers: Array<{ diffID: string; size: number }>): Promise<void> {
  const have = new Set(images.flatMap((i) => i.diffIDs));
  const need = layers.filter((l) => !have.has(l.diffID)).reduce((n, l) => n + l.size, 0);
  const { freeBytes } = await store.usage(images);
  if (need > freeBytes) throw new StoreFullError(`the target needs up to ${need} bytes of new layers; the store has ${freeBytes} bytes left`);
}

/**
 * Puts the stored image into Docker as `<registry>/<ref>`, unless the engine has it already. The
 * engine is asked to pull it from the store first (the local registry, on loopback: no outside
 * network, and the module's memory stays flat while the engine does the work); when the engine
 * cannot reach the store under that address, the module streams it in (`docker load`).
 */
export async function dockerLoad(store: Store, ref: string, id: string, socket?: string): Promise<void> {
  const name = `${store.host}/${ref}`;
  const docker = await dockerClient(socket);
  const present = async () => (await docker.getImage(name).inspect().catch(() => undefined))?.Id === id;
  if (await present()) return;
  const pulled = await new Promise<boolean>((resolve) => {
    docker.pull(name, {}, (err: Error | null, stream?: NodeJS.ReadableStream) => {
      if (err || !stream) return resolve(false);
      docker.modem.followProgress(stream, (e: Error | null, events: Array<{ error?: string }>) => resolve(!e && !events.some((x) => x.error)));
    });
  });
  if (pulled && (await present())) return;
  // The engine could not reach the store under this address (another network view): stream it in.
  try {
    const src = await openSource(store.reference(ref));
    try {
      await copyImage(src, await openDestination(`docker-daemon:${name}`, socket ? { dockerSocket: socket } : {}));
    } finally {
      await src.close();
    }
  } catch (err) {
    throw new DockerLoadError(`docker load of ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!(await present())) throw new DockerLoadError(`docker load of ${name} did not give image ${id}`);
}
