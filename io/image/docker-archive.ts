// docker-archive: the tar `docker save` writes, in the legacy layout (<id>/layer.tar or
// <diffID>.tar, <config>.json, manifest.json, repositories) or the OCI-layout form of Docker 25+
// (oci-layout, index.json and blobs/sha256/* beside a manifest.json that points into blobs/).
// Reading indexes the tar once and streams entries by offset; writing streams each layer into the
// archive as it arrives, and the archive appears atomically on commit.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { buildArchiveManifest, OCI_LAYOUT_FILE, parseArchiveManifest, REF_NAME, selectArchiveImage } from '../../core/image/archive-manifest.js';
import { digestHex } from '../../core/image/descriptor.js';
import { buildManifest, familyFor, parseConfig } from '../../core/image/manifest.js';
import { layerCompression, layerMediaType, MediaType, sniffCompression } from '../../core/image/media-types.js';
import { padLength } from '../../core/tar/reader.js';
import { ustarHeader } from '../../core/tar/writer.js';
import { AtomicFile, tempPathFor } from '../atomic-file.js';
import { Copier, hashedBlocks } from './copier.js';
import { FileSource } from '../delta/file-source.js';
import { DigestMismatchError, sha256, VerifyingStream } from '../digest.js';
import { chain, spool } from './layer-stream.js';
import { TarIndex } from './tar-index.js';
import type { FileSpan, ImageDestination, ImageInfo, ImageSource, LayerInfo, TransportOptions } from './types.js';
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

/** Where an archive's bytes go, in order: a file (atomic, durable on commit) or a stream's consumer (docker load). */
interface ArchiveSink {
  /** Appends `b`; resolves when `b` may be reused. */
  write(b: Uint8Array): Promise<void>;
  /** Everything written: durable and visible (a file), or the consumer done (a stream). */
  close(): Promise<void>;
  /** Drops what was written. */
  destroy(err: Error): Promise<void>;
  /** A file's: appends `n` bytes that `fill` writes by position (AtomicFile.reserve). */
  reserve?(n: number, fill: (fd: number, at: number) => Promise<void>): Promise<void>;
}

function fileSink(file: AtomicFile): ArchiveSink {
  return { write: (b) => file.write(b), close: () => file.commit(), destroy: () => file.discard(), reserve: (n, fill) => file.reserve(n, fill) };
}

function streamSink(consume: (tar: Readable) => Promise<void>): ArchiveSink {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const consumed = consume(out);
  consumed.catch(() => undefined); // awaited by close; a failure before then surfaces there
  return {
    async write(b) {
      // the stream keeps what it is given: a copy, so the caller may reuse b
      if (!out.write(Buffer.from(b))) await Promise.race([once(out, 'drain'), consumed]);
    },
    async close() {
      out.end();
      await consumed;
    },
    async destroy(err) {
      out.destroy(err);
      await consumed.catch(() => undefined);
    },
  };
}

/** Bytes per read when a layer is copied from a file range (two such buffers, reused). */
const COPY_BLOCK = 1 << 20;
const ZEROS = new Uint8Array(1024);

/**
 * Writes the archive as tar entries (core/tar/writer.ts headers), to a file or, for `docker load`,
 * a stream. A layer whose size is known (every delta apply passes it) goes straight into the
 * archive as it arrives, verified on the way; only layers of unknown size are spooled first (the
 * tar header needs the size). A layer that lies in a local file (putLayerFile: a docker-archive
 * base's unchanged layer) is copied in reused 1 MiB buffers, hashed once as it is read, the write
 * of one buffer overlapping the read and hash of the next: through streams (ReadStream,
 * VerifyingStream, tar-stream, WriteStream) every MiB was a new buffer (app-update copies 324 MB).
 * The archive becomes visible on commit only (AtomicFile: fdatasync in the background while it is
 * written, fsync before the rename); a failed layer or abort() removes the partial file.
 */
export async function openArchiveDestination(path: string, tag: string | undefined, opts: TransportOptions): Promise<ImageDestination & { writeTo(sink: (tar: Readable) => Promise<void>): void }> {
  const finalPath = resolve(path);
  const staging = tempPathFor(join(opts.tmpDir ?? dirname(finalPath), basename(finalPath)));
  await fs.mkdir(staging, { recursive: false });
  const oci = (opts.archiveLayout ?? 'legacy') === 'oci';
  /** digest -> size of every blob already in the archive stream */
  const stored = new Map<string, number>();
  let openSink: () => Promise<ArchiveSink> = async () => fileSink(await AtomicFile.open(finalPath));
  let sink: Promise<ArchiveSink> | undefined;
  const copier = Copier.create();
  /** the write in flight: each write waits for the one before (so a buffer two writes back is free) */
  let last: Promise<void> = Promise.resolve();
  const blobName = (d: string, ext: '.json' | '.tar') => (oci ? `blobs/sha256/${digestHex(d)}` : `${digestHex(d)}${ext}`);

  const archive = async (): Promise<ArchiveSink> => {
    if (sink) return sink;
    sink = openSink();
    const s = await sink;
    if (oci) for (const dir of ['blobs/', 'blobs/sha256/']) await put(ustarHeader({ name: dir, size: 0, type: 'directory', mode: 0o755, mtime: 0 }));
    return s;
  };
  /** Queues `b` after the writes before it; resolves when the previous write is done. */
  const put = async (b: Uint8Array) => {
    const s = await archive();
    await last;
    last = s.write(b);
    last.catch(() => undefined); // surfaces at the next put or at flush
  };
  const flush = async () => {
    await last;
  };
  const fail = async (err: unknown) => {
    if (sink) {
      const s = await sink.catch(() => undefined);
      await last.catch(() => undefined);
      await s?.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  };
  const header = (name: string, size: number) => put(ustarHeader({ name, size, type: 'file', mode: 0o644, mtime: 0 }));
  const pad = async (size: number) => {
    if (padLength(size)) await put(ZEROS.subarray(0, padLength(size)));
  };
  const addBytes = async (name: string, data: Uint8Array | string) => {
    const b = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    await header(name, b.length);
    await put(b);
    await pad(b.length);
  };
  /** An entry of `size` bytes from `data`, which must yield exactly that many (else it fails). */
  const addStream = async (name: string, size: number, data: AsyncIterable<Uint8Array>, what: string) => {
    await header(name, size);
    let n = 0;
    for await (const c of data) {
      n += c.length;
      if (n > size) throw new Error(`${what} is larger than its declared ${size} bytes`);
      await put(c);
    }
    if (n !== size) throw new Error(`${what} is truncated: ${n} of ${size} bytes`);
    await pad(size);
  };

  const storeLayer = async (digest: string, size: number | undefined, write: () => Promise<number>): Promise<number> => {
    const have = stored.get(digest);
    if (have !== undefined) return have;
    try {
      size = await write();
    } catch (err) {
      // A half-written entry leaves the archive unusable: end it now, whatever the caller does next.
      await fail(err);
      throw err;
    }
    stored.set(digest, size);
    return size;
  };

  const putStream = async (digest: string, data: Readable, size?: number): Promise<number> => {
    if (stored.has(digest)) {
      data.resume();
      return stored.get(digest)!;
    }
    const expect = { digest, ...(size !== undefined ? { size } : {}), what: `layer ${digest}` };
    return storeLayer(digest, size, async () => {
      if (size !== undefined) {
        // A stream that already verifies this digest (a source's layer, a rebuilt layer) is not hashed twice.
        const checked = data instanceof VerifyingStream && data.checks(digest, size) ? data : chain(data, new VerifyingStream(expect.what, expect));
        await addStream(blobName(digest, '.tar'), size, checked, expect.what);
        return size;
      }
      const s = await spool(data, join(staging, digestHex(digest)), expect);
      try {
        await addStream(blobName(digest, '.tar'), s.size, s.open(), expect.what);
      } finally {
        await s.dispose();
      }
      return s.size;
    });
  };

  /**
   * Copies file bytes [offset, offset + size) as the entry for `digest`, checking them against it as
   * they are read: into a file archive on the copier's thread while it has no other copy (the entry's
   * range reserved; a mismatch fails the commit, naming the layer), else here.
   */
  const putFile = (digest: string, file: FileSpan, what: string): Promise<number> =>
    storeLayer(digest, file.size, async () => {
      const src = await FileSource.open(file.path);
      try {
        if (file.offset < 0 || file.offset + file.size > src.size) throw new Error(`${what}: ${file.path} is shorter than the layer it should hold`);
        await header(blobName(digest, '.tar'), file.size);
        const s = await archive();
        if (copier && !copier.busy && s.reserve) {
          // the header's write has its place: the range after it is the entry's
          const copied = s.reserve(file.size, async (fd, at) => {
            const actual = await copier.copy({ path: file.path, offset: file.offset, size: file.size, fd, at });
            if (actual !== digest) throw new DigestMismatchError(what, digest, actual);
          });
          copied.catch(() => undefined); // the commit waits for it and fails with its error
          await pad(file.size);
          return file.size;
        }
        const hash = createHash('sha256');
        // two buffers: a buffer is filled again two puts after its own, and put() returns only
        // when the write before it is done
        const bufs = [new Uint8Array(COPY_BLOCK), new Uint8Array(COPY_BLOCK)];
        for (const b of hashedBlocks((t, o) => src.readIntoSync(t, o), file.offset, file.size, bufs, hash)) await put(b);
        const actual = `sha256:${hash.digest('hex')}`;
        if (actual !== digest) throw new DigestMismatchError(what, digest, actual);
        await pad(file.size);
        await flush(); // the last buffer is written before the buffers go
        return file.size;
      } finally {
        await src.close();
      }
    });

  return {
    writeTo(consume) {
      openSink = async () => streamSink(consume);
    },
    async hasLayer() {
      return false; // an archive is self-contained: every layer goes in
    },
    acceptsBlob(d) {
      return layerCompression(d.mediaType) === 'none';
    },
    async putLayerTar(diffID, tar, sizeHint) {
      const size = await putStream(diffID, tar, sizeHint);
      return { mediaType: MediaType.dockerLayer, digest: diffID, size };
    },
    async putLayerFile(diffID, file, what) {
      const size = await putFile(diffID, file, what);
      return { mediaType: MediaType.dockerLayer, digest: diffID, size };
    },
    async putBlob(d, data) {
      if (layerCompression(d.mediaType) !== 'none') throw new Error('docker-archive stores uncompressed layers only; use putLayerTar');
      await putStream(d.digest, data, d.size);
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
        await put(ZEROS); // the end-of-archive blocks
        await flush();
      } catch (err) {
        await fail(err);
        throw err;
      }
      await (await archive()).close();
      await fs.rm(staging, { recursive: true, force: true });
    },
    async abort() {
      await fail(new Error('aborted'));
      await fs.rm(staging, { recursive: true, force: true });
    },
  };
}
