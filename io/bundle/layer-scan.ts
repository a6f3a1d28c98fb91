// One pass over a layer tar: lists its entries with sizes and content hashes (an image signature's
// layer fingerprint) and refuses entries that would escape the directory the layer is unpacked in.
// Streams through core/tar/reader.ts: one chunk of content in memory at a time.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { LayerSafety } from '../../core/bundle/layer-safety.js';
import type { FileFingerprint } from '../../core/signature/types.js';
import { normalisePath } from '../../core/tar/path.js';
import { streamInput, TarReader } from '../../core/tar/reader.js';

/** What a caller learns of each regular file's content as it streams by (signatures: content-features.ts). */
export interface ContentObserver {
  update(chunk: Uint8Array): void;
  /** adds what it learnt to the file's fingerprint (at once, or by the layer's end()) */
  finish(fingerprint: FileFingerprint): void;
}

export interface LayerObserver {
  file(size: number): ContentObserver;
  end(): void;
}

export async function scanLayer(tar: Readable, observe?: LayerObserver): Promise<{ files: FileFingerprint[]; tarSize: number }> {
  const reader = new TarReader(streamInput(tar as AsyncIterable<Buffer>));
  const files: FileFingerprint[] = [];
  const safety = new LayerSafety();
  try {
    for (let e = await reader.next(); e; e = await reader.next()) {
      safety.check(e);
      if (e.global) continue;
      const path = normalisePath(e.path);
      if (e.type !== '0' && e.type !== '7') {
        files.push({ path, size: 0 });
        continue;
      }
      const hash = createHash('sha256');
      const observer = observe?.file(e.size);
      for (let b = await reader.content(); b.length > 0; b = await reader.content()) {
        hash.update(b);
        observer?.update(b);
      }
      const fingerprint: FileFingerprint = { path, size: e.size, hash: `sha256:${hash.digest('hex')}` };
      observer?.finish(fingerprint);
      files.push(fingerprint);
    }
    await reader.finish();
    observe?.end();
  } finally {
    tar.destroy(); // a refused layer is not read to its end
  }
  return { files, tarSize: reader.offset };
}
