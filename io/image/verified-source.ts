// The one place a transport's stored bytes become what ImageSource promises: every blob is checked
// against its digest and size as it is read, and every layer is decompressed once and checked
// against its diffID. Transports only say where the stored bytes are (StoredImage).
import type { Readable } from 'node:stream';
import type { Descriptor } from '../../core/image/descriptor.js';
import { layerCompression, type Compression } from '../../core/image/media-types.js';
import { VerifyingStream } from '../digest.js';
import { chain, decompressor } from './layer-stream.js';
import type { ImageSource, StoredImage } from './types.js';

/** A stored blob checked against its descriptor as it is read (the stream errors on a mismatch). */
export function verifiedBlob(stored: { data: Readable; what: string }, d: Pick<Descriptor, 'digest' | 'size'>): Readable {
  return chain(stored.data, new VerifyingStream(stored.what, { digest: d.digest, size: d.size }));
}

/**
 * The uncompressed, verified tar of a stored blob: the blob is checked against its descriptor and
 * the tar against the diffID, and the returned stream errors (with the blob named) on a mismatch.
 */
export function layerTarFrom(stored: Readable, blob: { what: string; digest: string; size: number; compression: Compression }, diffID: string): Readable {
  const checked = verifiedBlob({ data: stored, what: blob.what }, blob);
  // an uncompressed blob is its own tar: its digest is the diffID, checked above
  if (blob.compression === 'none' && blob.digest === diffID) return checked;
  return chain(checked, decompressor(blob.compression), new VerifyingStream(`layer ${diffID} (uncompressed)`, { digest: diffID }));
}

export function verifiedSource(stored: StoredImage): ImageSource {
  return {
    info: () => stored.info(),
    openBlob: async (d) => verifiedBlob(await stored.readStored(d, 'blob'), d),
    async openLayerTar(index) {
      const info = await stored.info();
      const l = info.layers[index];
      if (!l) throw new Error(`${info.reference}: no layer ${index}`);
      const d = l.descriptor;
      const { data, what } = await stored.readStored(d, 'layer');
      return layerTarFrom(data, { what, digest: d.digest, size: d.size, compression: layerCompression(d.mediaType) }, l.diffID);
    },
    ...(stored.layerFile ? { layerFile: (index: number) => stored.layerFile!(index) } : {}),
    close: () => stored.close(),
  };
}
