// docker-archive: the tar `docker save` writes, in the legacy layout (<id>/layer.tar or
// <diffID>.tar, <config>.json, manifest.json, repositories) or the OCI-layout form of Docker 25+
// (oci-layout, index.json and blobs/sha256/* beside a manifest.json that points into blobs/).
// Reading indexes the tar once and streams entries by offset; writing spools layers to a staging
// directory and writes the archive atomically on commit.
import { promises as fs } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { buildArchiveManifest, OCI_LAYOUT_FILE, parseArchiveManifest, REF_NAME, selectArchiveImage } from '../../core/image/archive-manifest.js';
import { digestHex } from '../../core/image/descriptor.js';
import { buildManifest, familyFor, parseConfig } from '../../core/image/manifest.js';
import { layerCompression, layerMediaType, MediaType, sniffCompression } from '../../core/image/media-types.js';
import { tempPathFor, writeFileAtomic } from '../atomic-file.js';
import { DigestMismatchError, sha256, VerifyingStream } from '../digest.js';
import { chain, spool, type Spooled } from './layer-stream.js';
import { TarIndex } from './tar-index.js';
import type { ImageDestination, ImageInfo, ImageSource, LayerInfo, TransportOptions } from './types.js';
import { verifiedSource } from './verified-source.js';

const MAX_JSON = 32 << 20;
const BLOB_NAME = /(?:^|\/)([0-9a-f]{64})(?:\.json|\.tar)?$/;

async function hashEntry(s: Readable): Promise<string> {
  let digest = '';
  await new Promise<void>((res, rej) => {
    chain(s, new VerifyingStream('layer', undefined, (d) => (digest = d)))
      .on('error', rej)
      .on('end', res)
      .resume();
  });
  return digest;
}

/** Reads an archive file; `onClose` runs when the source is closed (docker-daemon removes its temp file). */
export async function archiveSourceFromFile(reference: string, path: string, tag: string | undefined, onClose?: () => Promise<void>): Promise<ImageSource> {
  let tar: TarIndex;
  try {
    tar = await TarIndex.open(path, reference);
  } catch (err) {
    await onClose?.();
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${reference}: no such file`);
    throw err;
  }
  let cached: ImageInfo | undefined;
  const entryOf = new Map<string, string>();

  const info = async (): Promise<ImageInfo> => {
    if (cached) return cached;
    if (!tar.has('manifest.json')) throw new Error(`${reference}: manifest.json is missing (not a docker save archive)`);
    const img = selectArchiveImage(parseArchiveManifest(await tar.read(tar.file('manifest.json'), MAX_JSON, 'manifest.json')), tag);
    const configBytes = await tar.read(tar.file(img.config, `config ${img.config}`), MAX_JSON, `config ${img.config}`);
    const configDigest = sha256(configBytes);
    const named = BLOB_NAME.exec(img.config)?.[1];
    if (named && `sha256:${named}` !== configDigest) throw new DigestMismatchError(`config ${img.config} in ${reference}`, `sha256:${named}`, configDigest);
    const config = parseConfig(configBytes, `config ${img.config}`);
    if (config.diffIDs.length !== img.layers.length) {
      throw new Error(`${reference}: manifest.json lists ${img.layers.length} layers but the config has ${config.diffIDs.length} diffIDs`);
    }
    const layers: LayerInfo[] = [];
    for (const [i, name] of img.layers.entries()) {
      const diffID = config.diffIDs[i]!;
      const e = tar.file(name, `layer ${i} (${name})`);
      const compression = sniffCompression(await tar.head(e, 4));
      const blobHex = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name)?.[1];
      const digest = blobHex ? `sha256:${blobHex}` : compression === 'none' ? diffID : await hashEntry(tar.stream(e));
      entryOf.set(digest, name);
      layers.push({ diffID, descriptor: { mediaType: layerMediaType(compression === 'zstd' ? 'oci' : 'docker', compression), digest, size: e.size } });
    }
    const manifest = buildManifest(familyFor(layers.map((l) => l.descriptor)), { digest: configDigest, size: configBytes.length }, layers.map((l) => l.descriptor));
    cached = { reference, configDigest, configBytes, layers, repoTags: img.repoTags, manifestBytes: manifest.bytes, manifestMediaType: manifest.mediaType };
    return cached;
  };

  return verifiedSource({
    info,
    async readStored(d, as) {
      await info();
      const name = entryOf.get(d.digest);
      if (!name) throw new Error(`${reference}: no blob ${d.digest} in the archive`);
      return { data: tar.stream(tar.file(name)), what: `${as} ${name} in ${reference}` };
    },
    async layerFile(index) {
      const l = (await info()).layers[index];
      if (!l || layerCompression(l.descriptor.mediaType) !== 'none' || l.descriptor.digest !== l.diffID) return undefined;
      const e = tar.file(entryOf.get(l.descriptor.digest)!);
      return { path, offset: e.offset, size: e.size };
    },
    async close() {
      await onClose?.();
    },
  });
}

export function openArchiveSource(reference: string, path: string, tag: string | undefined, _opts: TransportOptions): Promise<ImageSource> {
  return archiveSourceFromFile(reference, path, tag);
}

/** Writes the archive as a stream of tar entries, for `docker load` or a file. */
export async function openArchiveDestination(path: string, tag: string | undefined, opts: TransportOptions): Promise<ImageDestination & { writeTo(sink: (tar: Readable) => Promise<void>): void }> {
  const finalPath = resolve(path);
  const staging = tempPathFor(join(opts.tmpDir ?? dirname(finalPath), basename(finalPath)));
  await fs.mkdir(staging, { recursive: false });
  const layout = opts.archiveLayout ?? 'legacy';
  const stored = new Map<string, Spooled>();
  let sink: (tar: Readable) => Promise<void> = (tar) => writeFileAtomic(finalPath, tar);

  const put = async (digest: string, data: Readable, size?: number): Promise<Spooled> => {
    const have = stored.get(digest);
    if (have) {
      data.resume();
      return have;
    }
    const s = await spool(data, join(staging, digestHex(digest)), { digest, ...(size !== undefined ? { size } : {}), what: `layer ${digest}` });
    stored.set(digest, s);
    return s;
  };

  return {
    writeTo(s) {
      sink = s;
    },
    async hasLayer() {
      return false; // an archive is self-contained: every layer goes in
    },
    acceptsBlob(d) {
      return layerCompression(d.mediaType) === 'none';
    },
    async putLayerTar(diffID, tar) {
      const s = await put(diffID, tar);
      return { mediaType: MediaType.dockerLayer, digest: diffID, size: s.size };
    },
    async putBlob(d, data) {
      if (layerCompression(d.mediaType) !== 'none') throw new Error('docker-archive stores uncompressed layers only; use putLayerTar');
      await put(d.digest, data, d.size);
    },
    async commit(image) {
      const repoTags = tag ? [tag] : image.repoTags;
      const configDigest = sha256(image.configBytes);
      const cfg = parseConfig(image.configBytes);
      if (cfg.diffIDs.join() !== image.layers.map((l) => l.diffID).join()) throw new Error('image config diffIDs do not match the layers being committed');
      for (const l of image.layers) if (!stored.has(l.descriptor.digest)) throw new Error(`layer ${l.diffID} was never stored`);
      const oci = layout === 'oci';
      const blobName = (d: string) => (oci ? `blobs/sha256/${digestHex(d)}` : `${digestHex(d)}${d === configDigest ? '.json' : '.tar'}`);
      const pack = tarStream.pack();
      const written = sink(pack as unknown as Readable);
      const mtime = new Date(0);
      const add = (name: string, data: Uint8Array | string) =>
        new Promise<void>((res, rej) => pack.entry({ name, mtime, mode: 0o644 }, Buffer.from(data), (err) => (err ? rej(err) : res())));
      const addFile = (name: string, s: Spooled) =>
        new Promise<void>((res, rej) => {
          const entry = pack.entry({ name, size: s.size, mtime, mode: 0o644 }, (err) => (err ? rej(err) : res()));
          const rs = s.open();
          rs.on('error', rej);
          rs.pipe(entry);
        });
      try {
        if (oci) {
          for (const dir of ['blobs/', 'blobs/sha256/']) pack.entry({ name: dir, type: 'directory', mtime, mode: 0o755 });
        }
        await add(blobName(configDigest), image.configBytes);
        const seen = new Set<string>();
        for (const l of image.layers) {
          if (seen.has(l.descriptor.digest)) continue;
          seen.add(l.descriptor.digest);
          await addFile(blobName(l.descriptor.digest), stored.get(l.descriptor.digest)!);
        }
        if (oci) {
          const m = buildManifest('oci', { digest: configDigest, size: image.configBytes.length }, image.layers.map((l) => l.descriptor));
          const mDigest = sha256(m.bytes);
          await add(blobName(mDigest), m.bytes);
          const annotations = repoTags[0] ? { 'io.containerd.image.name': repoTags[0], [REF_NAME]: repoTags[0].slice(repoTags[0].lastIndexOf(':') + 1) } : undefined;
          await add('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [{ mediaType: m.mediaType, digest: mDigest, size: m.bytes.length, ...(annotations ? { annotations } : {}) }] }));
          await add('oci-layout', OCI_LAYOUT_FILE);
        }
        const { manifest, repositories } = buildArchiveManifest({ config: blobName(configDigest), repoTags, layers: image.layers.map((l) => blobName(l.descriptor.digest)) });
        await add('manifest.json', manifest);
        if (repositories) await add('repositories', repositories);
        pack.finalize();
      } catch (err) {
        pack.destroy(err as Error);
        await written.catch(() => undefined);
        throw err;
      }
      await written;
      await fs.rm(staging, { recursive: true, force: true });
    },
    async abort() {
      await fs.rm(staging, { recursive: true, force: true });
    },
  };
}
