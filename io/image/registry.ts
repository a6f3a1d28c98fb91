// docker://HOST/REPO:TAG|@digest: images in a registry. Reading streams blobs straight from the
// registry, verified and decompressed as they arrive. Writing spools each layer to a temp file
// (its digest must be known, and an interrupted upload must be able to resend from any offset),
// skips blobs the registry has, and pushes the manifest last, which is what makes the tag appear.
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DEFAULT_PLATFORM, type Descriptor } from '../../core/image/descriptor.js';
import { buildManifest, familyFor, parseConfig, parseManifestOrIndex, selectPlatform } from '../../core/image/manifest.js';
import { layerCompression, MediaType } from '../../core/image/media-types.js';
import { familiarTag } from '../../core/image/reference.js';
import { tempPathFor } from '../atomic-file.js';
import { DigestMismatchError, sha256, VerifyingStream } from '../digest.js';
import { RegistryClient } from '../registry/client.js';
import { processScratch } from '../scratch.js';
import { chain, gzipper, spool, type Spooled } from './layer-stream.js';
import type { ImageDestination, ImageInfo, ImageSource, TransportOptions } from './types.js';
import { verifiedBlob, verifiedSource } from './verified-source.js';

interface DockerRef {
  host: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const MAX_CONFIG = 32 << 20;

function clientFor(r: DockerRef, opts: TransportOptions): RegistryClient {
  return new RegistryClient(
    r.host,
    r.repository,
    {
      ...(opts.insecure ? { insecure: true } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}),
    },
    opts.mountFrom ?? [],
  );
}

async function readAll(s: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of s as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw new Error(`${what} is larger than ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export async function openRegistrySource(reference: string, r: DockerRef, opts: TransportOptions): Promise<ImageSource & { client: RegistryClient }> {
  const client = clientFor(r, opts);
  let cached: ImageInfo | undefined;
  const fetchManifest = async (ref: string, expected?: string) => {
    const m = await client.getManifest(ref);
    if (expected) {
      const actual = sha256(m.bytes);
      if (actual !== expected) throw new DigestMismatchError(`manifest ${r.host}/${r.repository}@${expected}`, expected, actual);
    }
    return { ...m, doc: parseManifestOrIndex(m.bytes, m.contentType, `manifest of ${reference}`) };
  };
  const readStored = async (d: Descriptor) => ({ data: await client.getBlob(d.digest), what: `blob ${d.digest} from ${r.host}/${r.repository}` });
  const info = async (): Promise<ImageInfo> => {
    if (cached) return cached;
    let m = await fetchManifest(r.digest ?? r.tag ?? 'latest', r.digest);
    if (m.doc.kind === 'index') {
      const chosen = selectPlatform(m.doc, opts.platform ?? DEFAULT_PLATFORM);
      m = await fetchManifest(chosen.digest, chosen.digest);
    }
    const doc = m.doc;
    if (doc.kind !== 'manifest') throw new Error(`${reference}: nested index where a manifest was expected`);
    const configBytes = await readAll(verifiedBlob(await readStored(doc.config), doc.config), MAX_CONFIG, `config of ${reference}`);
    const config = parseConfig(configBytes, `config of ${reference}`);
    if (config.diffIDs.length !== doc.layers.length) throw new Error(`${reference}: manifest has ${doc.layers.length} layers but the config has ${config.diffIDs.length} diffIDs`);
    cached = {
      reference,
      configDigest: doc.config.digest,
      configBytes,
      layers: doc.layers.map((descriptor, i) => ({ diffID: config.diffIDs[i]!, descriptor })),
      repoTags: r.tag ? [familiarTag({ host: r.host, repository: r.repository, tag: r.tag })] : [],
      manifestBytes: m.bytes,
      manifestMediaType: doc.mediaType,
    };
    return cached;
  };
  return { client, ...verifiedSource({ info, readStored, async close() {} }) };
}

export async function openRegistryDestination(r: DockerRef, opts: TransportOptions): Promise<ImageDestination & { client: RegistryClient }> {
  const client = clientFor(r, opts);
  const tmp = opts.tmpDir ?? (await processScratch());
  const temps = new Set<Spooled>();
  /** Whether the repository has the blob, after asking the registry to mount it from mountFrom. */
  const present = async (digest: string) => {
    if (await client.hasBlob(digest)) return true;
    for (const from of opts.mountFrom ?? []) if (await client.mountBlob(digest, from)) return true;
    return false;
  };
  const upload = async (s: Spooled) => {
    if (!(await present(s.digest))) {
      await client.uploadBlob({ digest: s.digest, size: s.size, open: (start, end) => s.open(start, end) });
    }
  };
  const withSpool = async <T>(data: Readable, expect: Parameters<typeof spool>[2], gzip: boolean, then: (s: Spooled) => Promise<T>): Promise<T> => {
    const s = await spool(data, tempPathFor(join(tmp, 'upload')), expect, gzip ? gzipper() : undefined);
    temps.add(s);
    try {
      return await then(s);
    } finally {
      temps.delete(s);
      await s.dispose();
    }
  };
  const dispose = async () => {
    for (const s of temps) await s.dispose();
    temps.clear();
  };
  return {
    client,
    async hasLayer(l) {
      const d = l.descriptor;
      return d !== undefined && layerCompression(d.mediaType) !== 'none' && (await present(d.digest));
    },
    acceptsBlob(d) {
      return layerCompression(d.mediaType) !== 'none';
    },
    async putLayerTar(diffID, tar) {
      return withSpool(chain(tar, new VerifyingStream(`layer ${diffID}`, { digest: diffID })), undefined, true, async (s) => {
        await upload(s);
        return { mediaType: MediaType.dockerLayerGzip, digest: s.digest, size: s.size };
      });
    },
    async putBlob(d, data) {
      if (await present(d.digest)) {
        data.destroy();
        return;
      }
      await withSpool(data, { digest: d.digest, size: d.size, what: `blob ${d.digest}` }, false, upload);
    },
    async commit(image) {
      const configDigest = sha256(image.configBytes);
      const config = parseConfig(image.configBytes);
      if (config.diffIDs.join() !== image.layers.map((l) => l.diffID).join()) throw new Error('image config diffIDs do not match the layers being committed');
      const descriptors = image.layers.map((l) => l.descriptor);
      await withSpool(Readable.from([Buffer.from(image.configBytes)]), { digest: configDigest, what: 'config' }, false, upload);
      const m = buildManifest(familyFor(descriptors), { digest: configDigest, size: image.configBytes.length }, descriptors);
      await client.putManifest(r.tag ?? 'latest', m.bytes, m.mediaType);
      await dispose();
    },
    async abort() {
      await dispose();
    },
  };
}
