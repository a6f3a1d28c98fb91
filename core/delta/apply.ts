// Runs a layer program (ops.ts) against base layers and the patch sections, yielding the rebuilt
// layer tar in chunks. Memory stays bounded: base bytes are read in chunks at need, sections are
// pulled as streams. Every length and offset from the patch is checked; violations are
// CorruptPatchError. The caller verifies the result's sha256 against the diffID before use.
import { CorruptPatchError, type ByteSource, type ChunkReader } from './bytes.js';
import { OP } from './ops.js';

export interface LayerStreams {
  ops: ChunkReader;
  hdr: ChunkReader;
  ctrl: ChunkReader;
  diff: ChunkReader;
  lit: ChunkReader;
}

const CHUNK = 1 << 20;

function baseLayer(base: ByteSource[], i: number): ByteSource {
  const b = base[i];
  if (!b) throw new CorruptPatchError(`patch refers to base layer ${i}, base has ${base.length}`);
  return b;
}

async function readBase(src: ByteSource, offset: number, len: number): Promise<Uint8Array> {
  if (offset < 0 || len < 0 || offset + len > src.size) throw new CorruptPatchError(`patch reads base bytes ${offset}+${len} outside a ${src.size}-byte layer`);
  return src.read(offset, len);
}

/** Rebuilds one layer; `expectedSize` bounds the output. */
export async function* applyLayer(s: LayerStreams, base: ByteSource[], expectedSize: number): AsyncGenerator<Uint8Array> {
  let produced = 0;
  const check = (n: number) => {
    produced += n;
    if (produced > expectedSize) throw new CorruptPatchError(`patch rebuilds more than the layer's ${expectedSize} bytes`);
  };
  for (;;) {
    const op = await s.ops.byte();
    switch (op) {
      case OP.END: {
        if (produced !== expectedSize) throw new CorruptPatchError(`patch rebuilds ${produced} of the layer's ${expectedSize} bytes`);
        for (const [name, r] of Object.entries(s)) if (!(await (r as ChunkReader).atEnd())) throw new CorruptPatchError(`patch section ${name} has unused bytes`);
        return;
      }
      case OP.HDR: {
        const ref = await s.ops.uvar();
        const offset = ref ? await s.ops.uvar() : 0;
        const len = await s.ops.uvar();
        check(len);
        const bytes = await s.hdr.exact(len);
        if (ref) {
          const old = await readBase(baseLayer(base, ref - 1), offset, len);
          for (let i = 0; i < len; i++) bytes[i]! ^= old[i]!;
        }
        yield bytes;
        break;
      }
      case OP.COPY: {
        const src = baseLayer(base, await s.ops.uvar());
        const offset = await s.ops.uvar();
        const len = await s.ops.uvar();
        check(len);
        for (let o = 0; o < len; o += CHUNK) yield (await readBase(src, offset + o, Math.min(CHUNK, len - o))).slice();
        break;
      }
      case OP.DELTA: {
        const src = baseLayer(base, await s.ops.uvar());
        const offset = await s.ops.uvar();
        const oldLen = await s.ops.uvar();
        const newLen = await s.ops.uvar();
        check(newLen);
        if (offset + oldLen > src.size) throw new CorruptPatchError(`patch diffs against base bytes ${offset}+${oldLen} outside a ${src.size}-byte layer`);
        yield* applyDelta(s, src, offset, oldLen, newLen);
        break;
      }
      case OP.LIT: {
        const len = await s.ops.uvar();
        check(len);
        for (let o = 0; o < len; ) {
          const b = await s.lit.some(Math.min(CHUNK, len - o));
          o += b.length;
          yield b.slice();
        }
        break;
      }
      case OP.ZERO: {
        const len = await s.ops.uvar();
        check(len);
        for (let o = 0; o < len; o += CHUNK) yield new Uint8Array(Math.min(CHUNK, len - o));
        break;
      }
      default:
        throw new CorruptPatchError(`patch has unknown op ${op}`);
    }
  }
}

/** bsdiff triples (bsdiff.ts) over old = src[offset, offset+oldLen). */
async function* applyDelta(s: LayerStreams, src: ByteSource, offset: number, oldLen: number, newLen: number): AsyncGenerator<Uint8Array> {
  let oldPos = 0;
  let done = 0;
  while (done < newLen) {
    oldPos += await s.ctrl.svar();
    const add = await s.ctrl.uvar();
    const extra = await s.ctrl.uvar();
    if (oldPos < 0 || oldPos + add > oldLen || done + add + extra > newLen) throw new CorruptPatchError('patch delta control is out of bounds');
    // add region: old bytes + zero-run coded differences
    let left = add;
    while (left > 0) {
      const zeros = await s.diff.uvar();
      const n = await s.diff.uvar();
      if (zeros + n > left || zeros + n === 0) throw new CorruptPatchError('patch delta differences are out of bounds');
      for (let o = 0; o < zeros; o += CHUNK) {
        const len = Math.min(CHUNK, zeros - o);
        yield (await src.read(offset + oldPos, len)).slice();
        oldPos += len;
      }
      for (let o = 0; o < n; ) {
        const d = await s.diff.some(Math.min(CHUNK, n - o));
        const b = (await src.read(offset + oldPos, d.length)).slice();
        for (let i = 0; i < d.length; i++) b[i] = (b[i]! + d[i]!) & 0xff;
        oldPos += d.length;
        o += d.length;
        yield b;
      }
      left -= zeros + n;
    }
    for (let o = 0; o < extra; ) {
      const b = await s.lit.some(Math.min(CHUNK, extra - o));
      o += b.length;
      yield b.slice();
    }
    done += add + extra;
  }
}
