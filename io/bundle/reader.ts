// Opens a bundle file from an untrusted place (USB, a download): reads only the bounded header,
// checks the signature before parsing the manifest, checks the file is exactly as long as the
// signed manifest says, and hands out parts only through digest-verifying streams.
import { createReadStream, promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import { BundleError } from '../../core/bundle/errors.js';
import { declaredLength, headerLength, openHeader, decodePreamble, partOffsets, PREAMBLE_BYTES, type ManifestVerifier, type Preamble } from '../../core/bundle/format.js';
import { bundleIdInput, type Manifest } from '../../core/bundle/manifest.js';
import { sha256, VerifyingStream } from '../digest.js';

export interface OpenBundle {
  path: string;
  manifest: Manifest;
  preamble: Preamble;
  /** a stream of one part's bytes that fails (DigestMismatchError) if they were altered, BundleError('read-error') if they cannot be read */
  openPart(digest: string): Readable;
  /** a whole (small) part in memory, verified */
  readPart(digest: string, maxBytes: number): Promise<Buffer>;
  /** hashes every part; throws BundleError('part-digest') on the first mismatch, 'read-error' when the file cannot be read */
  verifyParts(onProgress?: (done: number, total: number) => void): Promise<void>;
}

async function readExactly(fh: fs.FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

export async function openBundle(path: string, verifier: ManifestVerifier): Promise<OpenBundle> {
  const fh = await fs.open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot open bundle ${path}: ${err.code ?? err.message}`);
  });
  let preamble: Preamble;
  let manifest: Manifest;
  let fileSize: number;
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
    fileSize = stat.size;
    preamble = decodePreamble(await readExactly(fh, PREAMBLE_BYTES, 0));
    ({ manifest } = openHeader(await readExactly(fh, headerLength(preamble), 0), verifier));
  } finally {
    await fh.close();
  }
  if (sha256(bundleIdInput(manifest)) !== manifest.id) throw new BundleError('bad-id', `id ${manifest.id} does not match the bundle's entries and parts`);
  const want = declaredLength(preamble, manifest);
  if (fileSize < want) throw new BundleError('truncated', `${fileSize} bytes, the manifest declares ${want}`);
  if (fileSize > want) throw new BundleError('trailing-data', `${fileSize - want} bytes after the last part`);
  const offsets = partOffsets(preamble, manifest);

  const openPart = (digest: string): Readable => {
    const at = offsets.get(digest);
    if (!at) throw new Error(`bundle has no part ${digest}`);
    const verifying = new VerifyingStream(`part ${digest}`, { digest, size: at.length });
    if (at.length === 0) {
      verifying.end();
      return verifying;
    }
    // the medium failing (an I/O error, a file that shrank under us) is not evidence of tampering:
    // it gets its own code, with where the read stopped
    let read = 0;
    const source = createReadStream(path, { start: at.offset, end: at.offset + at.length - 1 });
    source.on('data', (c) => (read += c.length));
    source.on('error', (err: NodeJS.ErrnoException) => verifying.destroy(new BundleError('read-error', `cannot read ${path} at offset ${at.offset + read}: ${err.code ?? err.message}`)));
    source.on('end', () => {
      if (read < at.length) verifying.destroy(new BundleError('read-error', `cannot read ${path} at offset ${at.offset + read}: the file ended ${at.length - read} bytes early (it changed while being read)`));
    });
    return source.pipe(verifying);
  };

  const consume = async (digest: string, onChunk: (c: Buffer) => void): Promise<void> => {
    try {
      for await (const c of openPart(digest)) onChunk(c as Buffer);
    } catch (err) {
      if (err instanceof BundleError) throw err;
      throw new BundleError('part-digest', `part ${digest}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  return {
    path,
    manifest,
    preamble,
    openPart,
    async readPart(digest, maxBytes) {
      const length = offsets.get(digest)?.length ?? 0;
      if (length > maxBytes) throw new BundleError('too-large', `part ${digest} is ${length} bytes (limit ${maxBytes})`);
      const chunks: Buffer[] = [];
      await consume(digest, (c) => chunks.push(c));
      return Buffer.concat(chunks);
    },
    async verifyParts(onProgress) {
      const total = want - headerLength(preamble);
      let done = 0;
      for (const part of manifest.parts) {
        await consume(part.digest, (c) => {
          done += c.length;
          onProgress?.(done, total);
        });
      }
    },
  };
}
