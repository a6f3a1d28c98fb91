// Copies an image between any two transports. Layers the destination has are skipped; compressed
// blobs the destination can store as they are go across unchanged (still checked against their
// diffID on the way); everything else travels as a verified uncompressed tar.
import { Transform, type TransformCallback } from 'node:stream';
import { layerCompression } from '../../core/image/media-types.js';
import { DiffIDCheck, chain } from './layer-stream.js';
import type { ImageDestination, ImageSource, LayerInfo } from './types.js';

export interface CopyOptions {
  /** bytes read from the source so far, of the total stored size of the layers */
  progress?(done: number, total: number): void;
}

export async function copyImage(src: ImageSource, dst: ImageDestination, opts: CopyOptions = {}): Promise<void> {
  try {
    const info = await src.info();
    const total = info.layers.reduce((n, l) => n + l.descriptor.size, 0);
    let done = 0;
    const tick = (n: number) => {
      done += n;
      opts.progress?.(done, total);
    };
    const count = () =>
      new Transform({
        transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback) {
          tick(chunk.length);
          cb(null, chunk);
        },
      });
    opts.progress?.(0, total);
    const layers: LayerInfo[] = [];
    for (const [i, l] of info.layers.entries()) {
      if (await dst.hasLayer(l)) {
        tick(l.descriptor.size);
        layers.push(l);
        continue;
      }
      const compression = layerCompression(l.descriptor.mediaType);
      if (compression !== 'none' && dst.acceptsBlob(l.descriptor)) {
        const blob = await src.openBlob(l.descriptor);
        await dst.putBlob(l.descriptor, chain(blob, count(), new DiffIDCheck(compression, l.diffID)));
        layers.push(l);
      } else {
        const tar = await src.openLayerTar(i);
        const before = done;
        const descriptor = await dst.putLayerTar(l.diffID, chain(tar, count()));
        // uncompressed bytes can exceed the stored size; keep the bar honest
        done = before + l.descriptor.size;
        layers.push({ diffID: l.diffID, descriptor });
      }
    }
    await dst.commit({ configBytes: info.configBytes, layers, repoTags: info.repoTags });
  } catch (err) {
    await dst.abort();
    throw err;
  }
}
