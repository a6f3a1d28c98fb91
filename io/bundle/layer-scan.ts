// One pass over a layer tar: lists its entries with sizes and content hashes (an image signature's
// layer fingerprint) and refuses entries that would escape the directory the layer is unpacked in.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { LayerSafety } from '../../core/bundle/layer-safety.js';
import type { FileFingerprint } from '../../core/signature/types.js';

export async function scanLayer(tar: Readable): Promise<{ files: FileFingerprint[]; tarSize: number }> {
  let tarSize = 0;
  tar.on('data', (c: Buffer) => (tarSize += c.length));
  const files: FileFingerprint[] = [];
  const safety = new LayerSafety();
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    try {
      safety.check({ name: header.name, type: header.type ?? 'file', linkname: header.linkname });
    } catch (err) {
      stream.on('error', () => {}).resume(); // the extract's own error is the one reported
      next(err as Error);
      return;
    }
    const path = header.name.replace(/^(\.\/)+/, '');
    if (header.type !== 'file' && header.type !== 'contiguous-file') {
      files.push({ path, size: 0 });
      stream.on('end', next).resume();
      return;
    }
    const hash = createHash('sha256');
    let size = 0;
    stream.on('data', (c: unknown) => {
      hash.update(c as Buffer);
      size += (c as Buffer).length;
    });
    stream.on('end', () => {
      files.push({ path, size, hash: `sha256:${hash.digest('hex')}` });
      next();
    });
  });
  await pipeline(tar, ex);
  return { files, tarSize };
}
