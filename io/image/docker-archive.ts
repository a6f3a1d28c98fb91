// docker-archive: the tar `docker save` writes, in the legacy layout (<id>/layer.tar or
// <diffID>.tar, <config>.json, manifest.json, repositories) or the OCI-layout form of Docker 25+
// (oci-layout, index.json and blobs/sha256/* beside a manifest.json that points into blobs/).
// Reading indexes the tar once and streams entries by offset; writing streams each layer into the
// archive as it arrives, and the archive appears atomically on commit.
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
import { chain, spool } from './layer-stream.js';
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

/**
 * Writes the archive as a stream of tar entries, for `docker load` or a file. A layer whose size is
 * known (every delta apply passes it) goes straight into the archive as it arrives, verified on the
 * way; only layers of unknown size are spooled first (the tar header needs the size). Staging every
 * layer and copying it into the archive on commit wrote each byte twice. The archive becomes
 * visible on commit only (writeFileAtomic); a failed layer or abort() destroys the stream, which
 * removes the partial file.
 */
export async function openArchiveDestination(path: string, tag: string | undefined, opts: TransportOptions): Promise<ImageDestination & { writeTo(sink: (tar: Readable) => Promise<void>): void }> {
  const finalPath = resolve(path);
  const staging = tempPathFor(join(opts.tmpDir ?? dirname(finalPath), basename(finalPath)));
  await fs.mkdir(staging, { recursive: false });
  const oci = (opts.archiveLayout ?? 'legacy') === 'oci';
  /** digest -> size of every blob already in the archive stream */
  const stored = new Map<string, number>();
  let sink: (tar: Readable) => Promise<void> = (tar) => writeFileAtomic(finalPath, tar);
  let out: { pack: tarStream.Pack; written: Promise<void> } | undefined;
  const mtime = new Date(0);
  const blobName = (d: string, ext: '.json' | '.tar') => (oci ? `blobs/sha256/${digestHex(d)}` : `${digestHex(d)}${ext}`);

  const archive = () => {
    if (out) return out.pack;
    const pack = tarStream.pack();
    const written = sink(pack as unknown as Readable);
    written.catch(() => undefined); // awaited by commit; a failure before then surfaces there
    out = { pack, written };
    if (oci) for (const dir of ['blobs/', 'blobs/sha256/']) pack.entry({ name: dir, type: 'directory', mtime, mode: 0o755 });
    return pack;
  };
  const fail = async (err: unknown) => {
    if (out) {
      out.pack.destroy(err instanceof Error ? err : new Error(String(err)));
      await out.written.catch(() => undefined);
    }
  };
  const addBytes = (name: string, data: Uint8Array | string) =>
    new Promise<void>((res, rej) => archive().entry({ name, mtime, mode: 0o644 }, Buffer.from(data), (err) => (err ? rej(err) : res())));
  const addStream = (name: string, size: number, data: Readable) =>
    new Promise<void>((res, rej) => {
      const entry = archive().entry({ name, size, mtime, mode: 0o644 }, (err) => (err ? rej(err) : res()));
      data.on('error', rej);
      data.pipe(entry);
    });

  const put = async (digest: string, data: Readable, size?: number): Promise<number> => {
    const have = stored.get(digest);
    if (have !== undefined) {
      data.resume();
      return have;
    }
    const expect = { digest, ...(size !== undefined ? { size } : {}), what: `layer ${digest}` };
    try {
      if (size !== undefined) {
        // A stream that already verifies this digest (a source's layer, a rebuilt layer) is not hashed twice.
        const checked = data instanceof VerifyingStream && data.checks(digest, size) ? data : chain(data, new VerifyingStream(expect.what, expect));
        await addStream(blobName(digest, '.tar'), size, checked);
      } else {
        const s = await spool(data, join(staging, digestHex(digest)), expect);
        try {
          await addStream(blobName(digest, '.tar'), s.size, s.open());
        } finally {
          await s.dispose();
        }
        size = s.size;
      }
    } catch (err) {
      // A half-written entry leaves the archive unusable: end it now, whatever the caller does next.
      await fail(err);
      throw err;
    }
    stored.set(digest, size);
    return size;
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
    async putLayerTar(diffID, tar, sizeHint) {
      const size = await put(diffID, tar, sizeHint);
      return { mediaType: MediaType.dockerLayer, digest: diffID, size };
    },
    async putBlob(d, data) {
      if (layerCompression(d.mediaType) !== 'none') throw new Error('docker-archive stores uncompressed layers only; use putLayerTar');
      await put(d.digest, data, d.size);
    },
    async commit(image) {
      const repoTags = tag ? [tag] : image.repoTags;
      const configDigest = sha256(image.configBytes);
      const cfg = parseConfig(image.configBytes);
      try {
        if (cfg.diffIDs.join() !== image.layers.map((l) => l.diffID).join()) throw new Error('image config diffIDs do not match the layers being committed');
        for (const l of image.layers) if (!stored.has(l.descriptor.digest)) throw new Error(`layer ${l.diffID} was never stored`);
        await addBytes(blobName(configDigest, '.json'), image.configBytes);
        if (oci) {
          const m = buildManifest('oci', { digest: configDigest, size: image.configBytes.length }, image.layers.map((l) => l.descriptor));
          const mDigest = sha256(m.bytes);
          await addBytes(blobName(mDigest, '.json'), m.bytes);
          const annotations = repoTags[0] ? { 'io.containerd.image.name': repoTags[0], [REF_NAME]: repoTags[0].slice(repoTags[0].lastIndexOf(':') + 1) } : undefined;
          await addBytes('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [{ mediaType: m.mediaType, digest: mDigest, size: m.bytes.length, ...(annotations ? { annotations } : {}) }] }));
          await addBytes('oci-layout', OCI_LAYOUT_FILE);
        }
        const { manifest, repositories } = buildArchiveManifest({
          config: blobName(configDigest, '.json'),
          repoTags,
          layers: image.layers.map((l) => blobName(l.descriptor.digest, '.tar')),
        });
        await addBytes('manifest.json', manifest);
        if (repositories) await addBytes('repositories', repositories);
        archive().finalize();
      } catch (err) {
        await fail(err);
        throw err;
      }
      await out!.written;
      await fs.rm(staging, { recursive: true, force: true });
    },
    async abort() {
      await fail(new Error('aborted'));
      await fs.rm(staging, { recursive: true, force: true });
    },
  };
}
