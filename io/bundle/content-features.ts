// What a signature records of a file's content besides its hash, for estimating a patch's size
// from signatures alone (core/signature/estimate.ts): how small it compresses (`packed`), and a
// sketch of its windows (core/signature/sketch.ts) that tells how much of it an older version lacks.
import { brotliCompressSync, constants } from 'node:zlib';
import { ContentSketcher, encodeSamples } from '../../core/signature/sketch.js';
import type { FileFingerprint } from '../../core/signature/types.js';
import type { ContentObserver, LayerObserver } from './layer-scan.js';

/** Files smaller than this are too small to sketch: an edit anywhere costs about the same. */
const SKETCH_MIN_SIZE = 16 << 10;
/**
 * Files smaller than this are gauged together, a block of them at a time in layer order, because
 * the patch codes them as one literal stream: alone, a 2 KiB script compresses to half its size; in
 * the company of its neighbours, to a fifth.
 */
const SMALL = 64 << 10;
const BLOCK = 1 << 20;
/** Larger files are gauged by the first PIECE bytes of every STRIDE (all of it up to 1 MiB). */
const PIECE = 256 << 10;
const STRIDE = 4 << 20;
// Brotli 3 with a 4 MiB window: a 330 MB image's signature takes 4.7 s of CPU with it (5.4 s at
// quality 4, 8.1 s at 5, 1.2 s with no features at all), and it lands a steady fraction above what
// the patch's own literal coder reaches (the factor is in core/signature/estimate.ts).
const GAUGE = { params: { [constants.BROTLI_PARAM_QUALITY]: 3, [constants.BROTLI_PARAM_LGWIN]: 22 } };

const packedSize = (pieces: Uint8Array[], bytes: number) => brotliCompressSync(Buffer.concat(pieces, bytes), GAUGE).length;

/** One per layer: hands each regular file an observer, and gauges the small ones together. */
export class LayerContentFeatures implements LayerObserver {
  private block: Uint8Array[] = [];
  private blockBytes = 0;
  private blockFiles: FileFingerprint[] = [];

  file(size: number): ContentObserver {
    return size < SMALL ? new SmallFile(this, size) : new LargeFile(size);
  }

  /** Adds a finished small file to the block, gauging the block once it is full. */
  addSmall(fingerprint: FileFingerprint, pieces: Uint8Array[], bytes: number): void {
    this.block.push(...pieces);
    this.blockBytes += bytes;
    this.blockFiles.push(fingerprint);
    if (this.blockBytes >= BLOCK) this.flush();
  }

  end(): void {
    this.flush();
  }

  private flush(): void {
    if (this.blockFiles.length === 0) return;
    const ratio = this.blockBytes === 0 ? 0 : packedSize(this.block, this.blockBytes) / this.blockBytes;
    for (const f of this.blockFiles) f.packed = Math.round(f.size * ratio);
    this.block = [];
    this.blockBytes = 0;
    this.blockFiles = [];
  }
}

function sketcherFor(size: number): ContentSketcher | null {
  return size >= SKETCH_MIN_SIZE ? new ContentSketcher(size) : null;
}

function sketchOf(sketcher: ContentSketcher | null): Pick<FileFingerprint, 'sketch' | 'sketchBits'> {
  if (!sketcher) return {};
  const { rateBits, samples } = sketcher.finish();
  return { sketchBits: rateBits, sketch: encodeSamples(samples) };
}

class SmallFile implements ContentObserver {
  private readonly pieces: Uint8Array[] = [];
  private bytes = 0;
  private readonly sketcher: ContentSketcher | null;

  constructor(
    private readonly layer: LayerContentFeatures,
    size: number,
  ) {
    this.sketcher = sketcherFor(size);
  }

  update(chunk: Uint8Array): void {
    this.pieces.push(chunk);
    this.bytes += chunk.length;
    this.sketcher?.update(chunk);
  }

  finish(fingerprint: FileFingerprint): void {
    Object.assign(fingerprint, sketchOf(this.sketcher));
    this.layer.addSmall(fingerprint, this.pieces, this.bytes);
  }
}

class LargeFile implements ContentObserver {
  private readonly sketcher: ContentSketcher;
  private piece: Uint8Array[] = [];
  private pieceBytes = 0;
  private offset = 0;
  private raw = 0;
  private packed = 0;

  constructor(private readonly size: number) {
    this.sketcher = new ContentSketcher(size);
  }

  update(chunk: Uint8Array): void {
    this.sketcher.update(chunk);
    for (let at = 0; at < chunk.length; ) {
      const inStride = this.offset % STRIDE;
      const kept = inStride < PIECE;
      const span = Math.min(chunk.length - at, kept ? PIECE - inStride : STRIDE - inStride);
      if (kept) {
        this.piece.push(chunk.subarray(at, at + span));
        this.pieceBytes += span;
        if (inStride + span === PIECE) this.gauge();
      }
      at += span;
      this.offset += span;
    }
  }

  private gauge(): void {
    if (this.pieceBytes === 0) return;
    this.packed += packedSize(this.piece, this.pieceBytes);
    this.raw += this.pieceBytes;
    this.piece = [];
    this.pieceBytes = 0;
  }

  finish(fingerprint: FileFingerprint): void {
    this.gauge();
    Object.assign(fingerprint, { packed: this.raw === 0 ? 0 : Math.round((this.size * this.packed) / this.raw) }, sketchOf(this.sketcher));
  }
}
