// Helpers shared by the delta engine's unit tests: run one diff through the real apply path.
import { applyDelta, applyLayer } from './apply.js';
import { diffRange, newDiffOutput, type DiffOutput } from './bsdiff.js';
import type { BuildEnv, IncrementalHash } from './build.js';
import { bufferSource, ByteWriter, ChunkReader, type ByteSource } from './bytes.js';
import { inThreadDiffer, type Differ } from './differ.js';
import { SECTION_NAMES, type PatchHeader, type SectionName } from './format.js';
import type { Matcher } from './matcher.js';
import { PAST, SiteCursor, type Sites } from './elf/references.js';

/** A seeded generator of numbers in [0, 1): the same inputs on every run, so a failure can be replayed. */
export function rng(seed: number): () => number {
  return () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

/** `n` bytes from `r`, each below `alphabet`. */
export function randomBytes(n: number, r: () => number, alphabet = 256): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * alphabet);
  return b;
}

/** Feeds bytes in small uneven chunks, as a decompressor would. */
export function chunked(b: Uint8Array, what: string, size = 7777): ChunkReader {
  async function* gen() {
    for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
  }
  return new ChunkReader(gen(), what);
}

export async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Rebuilds new bytes from old + diff streams via applyDelta; throws if a stream has bytes left over. */
export async function rebuild(old: Uint8Array, d: { ctrl: Uint8Array; runs: Uint8Array; diff: Uint8Array; extra: Uint8Array }, newLength: number): Promise<Uint8Array> {
  const streams = {
    ops: chunked(new Uint8Array(0), 'ops'),
    hdr: chunked(new Uint8Array(0), 'hdr'),
    ctrl: chunked(d.ctrl, 'ctrl'),
    runs: chunked(d.runs, 'runs'),
    diff: chunked(d.diff, 'diff'),
    lit: chunked(d.extra, 'lit'),
  };
  const rebuilt = await collect(applyDelta(streams, bufferSource(old), 0, old.length, newLength));
  for (const r of [streams.ctrl, streams.runs, streams.diff, streams.lit]) if (!(await r.atEnd())) throw new Error('diff streams have unused bytes');
  return rebuilt;
}

/** Diffs old→new (optionally in windows) and rebuilds new from old + the diff via applyDelta. */
export async function roundTrip(old: Uint8Array, nw: Uint8Array, matcher: Matcher, window = nw.length || 1): Promise<{ rebuilt: Uint8Array; out: DiffOutput }> {
  const out = newDiffOutput();
  let state = { oldCursor: 0, lastOffset: 0 };
  for (let w = 0; w < nw.length; w += window) state = diffRange(old, matcher, nw.subarray(w, w + window), out, state, w);
  const rebuilt = await rebuild(old, { ctrl: out.ctrl.view(), runs: out.runs.view(), diff: out.diff.view(), extra: out.extra.view() }, nw.length);
  return { rebuilt, out };
}

/**
 * A BuildEnv keeping sections uncompressed in memory, and the matching applier: enough to run
 * buildPatch/applyLayer end to end in-thread. `hash` comes from the test (core has no crypto).
 */
export function memoryEnv(hash: () => IncrementalHash, differ: Differ = inThreadDiffer) {
  const data: Uint8Array[] = [];
  let offset = 0;
  const env: BuildEnv = {
    hash,
    differ,
    openLayer: () => {
      const start = offset;
      return {
        section: () => {
          const w = new ByteWriter();
          return {
            write: async (b) => w.bytes(b),
            finish: async () => {
              const b = w.take();
              data.push(b);
              offset += b.length;
              return { length: b.length, rawLength: b.length };
            },
          };
        },
        finish: async () => ({ offset: start, length: offset - start, sha256: `sha256:${'0'.repeat(64)}` }),
      };
    },
  };
  const all = () => {
    const out = new Uint8Array(offset);
    let o = 0;
    for (const d of data) {
      out.set(d, o);
      o += d.length;
    }
    return out;
  };
  /** Rebuilds target layer `index` of `header` from `base`. */
  const rebuild = async (header: PatchHeader, index: number, base: ByteSource[]) => {
    const l = header.layers[index]!;
    if (l.from !== 'patch') throw new Error('layer not carried');
    const bytes = all();
    let o = l.offset;
    const readers = {} as Record<SectionName, ChunkReader>;
    for (const name of SECTION_NAMES) {
      readers[name] = chunked(bytes.subarray(o, o + l.sections[name].length), name);
      o += l.sections[name].length;
    }
    return collect(applyLayer(readers, base, l.size));
  };
  return { env, rebuild };
}

/** The sites of a scan as [offset, kind] pairs, in their order. */
export function siteList(sites: Sites): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const c = new SiteCursor(sites);
  for (c.seek(0); c.pos < PAST; c.next()) out.push([c.pos, c.kind]);
  return out;
}
