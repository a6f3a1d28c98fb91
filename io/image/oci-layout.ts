// oci: an OCI image layout directory (oci-layout, index.json, blobs/sha256/*), tagged through the
// org.opencontainers.image.ref.name annotation. Blobs are content-addressed, so writing them early
// is harmless; the image becomes visible only when index.json is atomically replaced on commit.
import { createReadStream, promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildOciIndex, OCI_LAYOUT_FILE, parseOciIndex, REF_NAME, selectOciManifest } from '../../core/image/archive-manifest.js';
import { DEFAULT_PLATFORM, digestHex, type Descriptor } from '../../core/image/descriptor.js';
import { buildManifest, parseConfig, parseManifestOrIndex, selectPlatform } from '../../core/image/manifest.js';
import { layerCompression, MediaType } from '../../core/image/media-types.js';
import { tempPathFor, writeFileAtomic } from '../atomic-file.js';
import { DigestMismatchError, sha256, VerifyingStream } from '../digest.js';
import { chain, gzipper, spool } from './layer-stream.js';
import type { ImageDestination, ImageInfo, ImageSource, TransportOptions } from './types.js';
import { verifiedSource } from './verified-source.js';

const MAX_JSON = 32 << 20;

function blobPath(dir: string, digest: string): string {
  return join(dir, 'blobs', 'sha256', digestHex(digest));
}

/** A regular file inside the layout (a symlink could point anywhere, so none is followed). */
async function regularFile(path: string, what: string): Promise<number> {
  const st = await fs.lstat(path).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `${what} is missing` : `${what}: ${err.message}`);
  });
  if (!st.isFile()) throw new Error(`${what} is not a regular file (symlinks are not followed)`);
  return st.size;
}

async function readVerified(dir: string, d: Descriptor, what: string): Promise<Uint8Array> {
  const path = blobPath(dir, d.digest);
  const size = await regularFile(path, `${what} blob ${d.digest}`);
  if (size !== d.size || size > MAX_JSON) throw new Error(`${what} blob ${d.digest} is ${size} bytes, expected ${d.size}`);
  const bytes = await fs.readFile(path);
  const actual = sha256(bytes);
  if (actual !== d.digest) throw new DigestMismatchError(`${what} blob ${d.digest}`, d.digest, actual);
  return bytes;
}

export async function openOciSource(reference: string, path: string, tag: string | undefined, opts: TransportOptions): Promise<ImageSource> {
  const dir = resolve(path);
  let cached: ImageInfo | undefined;
  const info = async (): Promise<ImageInfo> => {
    if (cached) return cached;
    await regularFile(join(dir, 'index.json'), `${reference}: index.json`);
    let desc = selectOciManifest(parseOciIndex(await fs.readFile(join(dir, 'index.json')), `${reference}: index.json`), tag, reference);
    let doc = parseManifestOrIndex(await readVerified(dir, desc, 'manifest'), desc.mediaType, `${reference} manifest`);
    if (doc.kind === 'index') {
      desc = selectPlatform(doc, opts.platform ?? DEFAULT_PLATFORM);
      doc = parseManifestOrIndex(await readVerified(dir, desc, 'manifest'), desc.mediaType, `${reference} manifest`);
      if (doc.kind === 'index') throw new Error(`${reference}: nested index where a manifest was expected`);
    }
    const manifestBytes = await readVerified(dir, desc, 'manifest');
    const configBytes = await readVerified(dir, doc.config, 'config');
    const config = parseConfig(configBytes);
    if (config.diffIDs.length !== doc.layers.length) throw new Error(`${reference}: manifest has ${doc.layers.length} layers but the config has ${config.diffIDs.length} diffIDs`);
    const layers = doc.layers.map((descriptor, i) => ({ diffID: config.diffIDs[i]!, descriptor }));
    // A ref name is often a bare tag ("v1"); only a full name:tag is a Docker repo tag.
    const named = desc.annotations?.['io.containerd.image.name'] ?? desc.annotations?.[REF_NAME] ?? '';
    const repoTags = /^[^:]+:[^:/]+$/.test(named) || /^[^/]+:\d+\/.+:[^:/]+$/.test(named) ? [named] : [];
    cached = { reference, configDigest: doc.config.digest, configBytes, layers, repoTags, manifestBytes, manifestMediaType: doc.mediaType };
    return cached;
  };
  return verifiedSource({
    info,
    async readStored(d, as) {
      const p = blobPath(dir, d.digest);
      await regularFile(p, `${reference}: blob ${d.digest}`);
      return { data: createReadStream(p, { highWaterMark: 1 << 20 }), what: `${as === 'layer' ? 'layer blob' : 'blob'} ${d.digest} in ${reference}` };
    },
    async close() {},
  });
}

export async function openOciDestination(path: string, tag: string | undefined, opts: TransportOptions): Promise<ImageDestination> {
  const dir = resolve(path);
  const createdDir = await fs.mkdir(dir, { recursive: true }).then((first) => first !== undefined);
  const blobs = join(dir, 'blobs', 'sha256');
  await fs.mkdir(blobs, { recursive: true });
  const tmpDir = opts.tmpDir ?? blobs;
  const added: string[] = [];
  let committed = false;

  const exists = (digest: string) =>
    fs.lstat(blobPath(dir, digest)).then(
      (s) => s.isFile(),
      () => false,
    );
  /** Moves a verified temp file into blobs/ (a no-op when the blob is already there). */
  const install = async (tmp: string, digest: string) => {
    if (await exists(digest)) return fs.rm(tmp, { force: true });
    await fs.rename(tmp, blobPath(dir, digest)).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EXDEV') throw err;
      await writeFileAtomic(blobPath(dir, digest), createReadStream(tmp));
      await fs.rm(tmp, { force: true });
    });
    added.push(blobPath(dir, digest));
  };

  return {
    async hasLayer(l) {
      return l.descriptor !== undefined && layerCompression(l.descriptor.mediaType) !== 'none' && (await exists(l.descriptor.digest));
    },
    acceptsBlob() {
      return true;
    },
    async putLayerTar(diffID, tar) {
      const s = await spool(chain(tar, new VerifyingStream(`layer ${diffID}`, { digest: diffID })), tempPathFor(join(tmpDir, 'layer')), undefined, gzipper());
      await install(s.path, s.digest);
      return { mediaType: MediaType.ociLayerGzip, digest: s.digest, size: s.size };
    },
    async putBlob(d, data) {
      if (await exists(d.digest)) {
        data.resume();
        return;
      }
      const s = await spool(data, tempPathFor(join(tmpDir, 'blob')), { digest: d.digest, size: d.size, what: `blob ${d.digest}` });
      await install(s.path, s.digest);
    },
    async commit(image) {
      const configDigest = sha256(image.configBytes);
      const descriptors = image.layers.map((l) => l.descriptor);
      for (const d of descriptors) if (!(await exists(d.digest))) throw new Error(`layer blob ${d.digest} was never stored`);
      const config = parseConfig(image.configBytes);
      if (config.diffIDs.join() !== image.layers.map((l) => l.diffID).join()) throw new Error('image config diffIDs do not match the layers being committed');
      // OCI layouts hold OCI manifests (what skopeo writes); the bytes of the blobs are unchanged.
      const m = buildManifest('oci', { digest: configDigest, size: image.configBytes.length }, descriptors);
      const mDigest = sha256(m.bytes);
      for (const [digest, bytes] of [
        [configDigest, image.configBytes],
        [mDigest, m.bytes],
      ] as const) {
        if (!(await exists(digest))) {
          await writeFileAtomic(blobPath(dir, digest), bytes);
          added.push(blobPath(dir, digest));
        }
      }
      await writeFileAtomic(join(dir, 'oci-layout'), OCI_LAYOUT_FILE);
      const existing = await fs.readFile(join(dir, 'index.json')).then(
        (b) => parseOciIndex(b, `${dir}/index.json`),
        () => [],
      );
      const entry: Descriptor = { mediaType: m.mediaType, digest: mDigest, size: m.bytes.length, ...(tag ? { annotations: { [REF_NAME]: tag } } : {}) };
      await writeFileAtomic(join(dir, 'index.json'), buildOciIndex(existing, entry));
      added.length = 0;
      committed = true;
    },
    async abort() {
      if (committed) return;
      for (const p of added) await fs.rm(p, { force: true });
      added.length = 0;
      if (createdDir) await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
