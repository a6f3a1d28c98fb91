// .eh_frame_hdr's binary-search table predicted from the new file's own .eh_frame (patch format 5,
// docs/patch-format.md "x86-64 reference prediction"). The table (pairs of datarel sdata4
// initial_location and FDE address, sorted) is all new bytes after a recompile (no add region
// covers it: 0.73 MB of literal on the node binary), yet it follows from .eh_frame, which comes
// after it. So the builder replaces the table's literal bytes (those the delta's triples take from
// the literal stream; bytes in add regions keep their differences from the old bytes) by their
// difference (mod 256, bytewise) from the table it predicts from the new file's .eh_frame; the
// applier rebuilds those differences, holds the new bytes from the table to the end of what it
// walks (4 MB on the node binary, at most TABLE_REACH), predicts the same table from them and
// adds it back where the bytes were literal. Both sides compute the prediction from bytes outside the table only, so any input
// round-trips; anything unexpected in the header means no table, and the bytes pass unchanged.
import { i32le as i32, put32le, u32le as u32 } from '../bytes.js';
import { biasAt, elfLayout, HEAD_BYTES, type ElfLayout } from './layout.js';

/** Bytes from the table's start that are walked for FDEs (and that the applier holds). */
export const TABLE_REACH = 16 << 20;
/** The .eh_frame_hdr header before the table: version, three encodings, eh_frame_ptr, fde_count. */
export const HDR_BYTES = 12;
const MAX_RECORDS = 1 << 22;

export interface EhTable {
  /** File offset of the .eh_frame_hdr (its header's 12 bytes are not predicted). */
  hdr: number;
  /** The table: file offsets [start, end). */
  start: number;
  end: number;
  /** .eh_frame's first record and the end of the walk (exclusive), both ≥ end. */
  ehStart: number;
  walkEnd: number;
  hdrVa: number;
  layout: ElfLayout;
}

/** Where the .eh_frame_hdr is in a file of `size` bytes whose first HEAD_BYTES are `head`; undefined if none lies past them. */
export function ehHeader(head: Uint8Array, size: number): { layout: ElfLayout; off: number } | undefined {
  if (size < HEAD_BYTES || head.length < HEAD_BYTES) return undefined;
  const layout = elfLayout(head.subarray(0, HEAD_BYTES), size);
  const h = layout?.ehFrameHdr;
  return layout && h && h.off >= HEAD_BYTES ? { layout, off: h.off } : undefined;
}

/** The table of the header found by ehHeader, from the header's first 12 bytes `b`; undefined unless the encodings are the usual ones. */
export function ehTable(layout: ElfLayout, b: Uint8Array, size: number): EhTable | undefined {
  const h = layout.ehFrameHdr!;
  if (b.length < HDR_BYTES || b[0] !== 1 || b[1] !== 0x1b || b[2] !== 0x03 || b[3] !== 0x3b) return undefined;
  const count = u32(b, 8);
  const start = h.off + HDR_BYTES;
  const end = start + 8 * count;
  if (count === 0 || end > h.off + h.size || end > size) return undefined;
  const ehVa = h.va + 4 + i32(b, 4);
  const seg = layout.loads.find((s) => ehVa >= s.va && ehVa < s.va + s.size);
  if (!seg) return undefined;
  const ehStart = ehVa - seg.va + seg.off;
  const walkEnd = Math.min(seg.off + seg.size, start + TABLE_REACH, size);
  if (ehStart < end || ehStart + 8 > walkEnd) return undefined;
  return { hdr: h.off, start, end, ehStart, walkEnd, hdrVa: h.va, layout };
}

/**
 * The predicted table bytes (end − start of them) from the new file's bytes `buf`, which hold
 * [t.start, t.walkEnd) at index 0: every FDE of .eh_frame (records followed from ehStart until a
 * zero or unfollowable length) as (pc_begin, record address) relative to the header's address,
 * pc_begin read as pcrel sdata4 at the record's offset 8, sorted by pc_begin then address.
 */
export function predictTable(t: EhTable, buf: Uint8Array): Uint8Array {
  const bias = biasAt(t.layout, t.ehStart)!;
  // Walked twice, counting the FDEs first, so that they go into typed arrays of that size: number
  // arrays grown by push, an index array and a comparator sort over node's 91k FDEs raised the
  // applier's heap by ~7 MB, its peak RSS (runtime-update) 8 MB at this step.
  const walk = (fde: (pos: number) => void): void => {
    for (let pos = t.ehStart, n = 0; n < MAX_RECORDS && pos + 12 <= t.walkEnd; n++) {
      const len = u32(buf, pos - t.start);
      if (len === 0 || len === 0xffffffff || pos + 4 + len > t.walkEnd) break;
      if (u32(buf, pos + 4 - t.start) !== 0 && len >= 8) fde(pos);
      pos += 4 + len;
    }
  };
  let count = 0;
  walk(() => count++);
  const pcs = new Float64Array(count);
  const fdes = new Float64Array(count);
  let lo = Infinity;
  let hi = -Infinity;
  let i = 0;
  walk((pos) => {
    const pc = bias + pos + 8 + i32(buf, pos + 8 - t.start);
    pcs[i] = pc;
    fdes[i++] = bias + pos;
    lo = Math.min(lo, pc);
    hi = Math.max(hi, pc);
  });
  const out = new Uint8Array(t.end - t.start);
  const n = Math.min(count, Math.floor(out.length / 8));
  const put = (k: number, pc: number, fde: number) => {
    put32le(out, 8 * k, pc - t.hdrVa);
    put32le(out, 8 * k + 4, fde - t.hdrVa);
  };
  // FDE addresses increase along the walk, so "by pc_begin, then address" is by pc_begin, then walk
  // index: one exact key per FDE, (pc − lo) × 2^22 + index (count ≤ MAX_RECORDS = 2^22; exact below
  // 2^53 while the pc_begins span under 2^31), sorted natively, in place.
  if (hi - lo < 2 ** 31) {
    const keys = pcs;
    for (let j = 0; j < count; j++) keys[j] = (pcs[j]! - lo) * MAX_RECORDS + j;
    keys.sort();
    for (let k = 0; k < n; k++) {
      const j = keys[k]! % MAX_RECORDS;
      put(k, lo + (keys[k]! - j) / MAX_RECORDS, fdes[j]!);
    }
  } else {
    const order = Array.from(pcs, (_, j) => j).sort((x, y) => pcs[x]! - pcs[y]! || fdes[x]! - fdes[y]!);
    for (let k = 0; k < n; k++) put(k, pcs[order[k]!]!, fdes[order[k]!]!);
  }
  return out;
}

/** The parts of new file offsets [start, end) that a delta takes from its literal stream, in order. */
export type LiteralSpans = (start: number, end: number) => Array<[number, number]>;

function addTable(b: Uint8Array, bStart: number, t: EhTable, pred: Uint8Array, literal: LiteralSpans, sign: 1 | -1): void {
  for (const [s, e] of literal(t.start, t.end)) for (let i = s; i < e; i++) b[i - bStart] = (b[i - bStart]! + sign * pred[i - t.start]!) & 0xff;
}

/** The builder's side: a copy of `nw` with its table's literal bytes replaced by their difference from the prediction, or `nw` itself when it has no table. */
export function withTableDifferences(nw: Uint8Array, literal: LiteralSpans): Uint8Array {
  const h = ehHeader(nw, nw.length);
  const t = h && ehTable(h.layout, nw.subarray(h.off, h.off + HDR_BYTES), nw.length);
  if (!t) return nw;
  const pred = predictTable(t, nw.subarray(t.start, t.walkEnd));
  const out = nw.slice();
  addTable(out, 0, t, pred, literal, -1);
  return out;
}

/**
 * The applier's side: the new file's bytes as `blocks` gives them with table differences, with the
 * table's bytes restored. An iterator of its own rather than a generator: a suspended generator
 * keeps the registers it last used, and one of them held the 4 MB span after it was handed on, to
 * the end of the delta (runtime-update's peak); here the span lives in `held` only, cleared once out.
 */
export function restoreTable(blocks: AsyncIterable<Uint8Array>, size: number, literal: LiteralSpans): AsyncIterableIterator<Uint8Array> {
  const source = blocks[Symbol.asyncIterator]();
  const head = new Uint8Array(HEAD_BYTES);
  let pos = 0;
  let hdr: { layout: ElfLayout; off: number } | undefined;
  let decided = size < HEAD_BYTES;
  // new bytes from the header on, while the table is not yet predicted
  let held: Uint8Array | undefined;
  let heldLen = 0;
  let t: EhTable | undefined;
  /** what is ready to hand out, in order */
  const ready: Uint8Array[] = [];
  let ended = false;
  const take = (b: Uint8Array): void => {
    if (decided) {
      ready.push(b);
      pos += b.length;
      return;
    }
    let rest = b;
    if (pos < HEAD_BYTES) {
      const n = Math.min(HEAD_BYTES - pos, rest.length);
      head.set(rest.subarray(0, n), pos);
      if (pos + n === HEAD_BYTES) {
        hdr = ehHeader(head, size);
        decided = !hdr;
      }
    }
    if (decided || !hdr || pos + rest.length <= hdr.off) {
      ready.push(rest);
      pos += rest.length;
      return;
    }
    if (!held) {
      const before = hdr.off - pos;
      if (before > 0) ready.push(rest.subarray(0, before));
      pos += before;
      rest = rest.subarray(before);
      held = new Uint8Array(HDR_BYTES);
    }
    while (held && rest.length > 0 && !decided) {
      const n = Math.min(held.length - heldLen, rest.length);
      held.set(rest.subarray(0, n), heldLen);
      heldLen += n;
      pos += n;
      rest = rest.subarray(n);
      if (heldLen < held.length) break;
      if (!t) {
        t = ehTable(hdr.layout, held, size);
        if (!t) {
          decided = true;
          ready.push(held);
          held = undefined;
          break;
        }
        const grown = new Uint8Array(t.walkEnd - t.hdr);
        grown.set(held);
        held = grown;
        continue;
      }
      addTable(held, t.hdr, t, predictTable(t, held.subarray(HDR_BYTES)), literal, 1);
      decided = true;
      ready.push(held);
      held = undefined;
    }
    if (rest.length > 0) {
      ready.push(rest);
      pos += rest.length;
    }
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next(): Promise<IteratorResult<Uint8Array>> {
      while (ready.length === 0) {
        if (ended) return { done: true, value: undefined };
        const r = await source.next();
        if (!r.done) take(r.value);
        else {
          ended = true;
          // A stream that ends inside the held bytes is short; the caller's size check reports it.
          if (!decided && held && heldLen > 0) ready.push(held.subarray(0, heldLen));
          held = undefined;
        }
      }
      return { done: false, value: ready.shift()! };
    },
    // a consumer that stops early (an error downstream) stops the source too, as for await would
    async return(): Promise<IteratorResult<Uint8Array>> {
      ended = true;
      ready.length = 0;
      held = undefined;
      await source.return?.();
      return { done: true, value: undefined };
    },
  };
}
