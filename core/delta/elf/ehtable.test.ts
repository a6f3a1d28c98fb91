import { describe, expect, it } from 'vitest';
import { i32le as i32, put32le, u32le as u32 } from '../bytes.js';
import { rng } from '../testing.js';
import { predictTable, type EhTable } from './ehtable.js';

/** predictTable as first written (number arrays, an index array sorted by a comparator): the order every patch of formats 5-7 was built with. */
function reference(t: EhTable, buf: Uint8Array): Uint8Array {
  const pcs: number[] = [];
  const fdes: number[] = [];
  const bias = t.layout.loads[0]!.va - t.layout.loads[0]!.off;
  for (let pos = t.ehStart, n = 0; n < 1 << 22 && pos + 12 <= t.walkEnd; n++) {
    const len = u32(buf, pos - t.start);
    if (len === 0 || len === 0xffffffff || pos + 4 + len > t.walkEnd) break;
    if (u32(buf, pos + 4 - t.start) !== 0 && len >= 8) {
      pcs.push(bias + pos + 8 + i32(buf, pos + 8 - t.start));
      fdes.push(bias + pos);
    }
    pos += 4 + len;
  }
  const order = Array.from(pcs, (_, i) => i).sort((x, y) => pcs[x]! - pcs[y]! || fdes[x]! - fdes[y]!);
  const out = new Uint8Array(t.end - t.start);
  for (let k = 0; k < order.length && 8 * k + 8 <= out.length; k++) {
    put32le(out, 8 * k, pcs[order[k]!]! - t.hdrVa);
    put32le(out, 8 * k + 4, fdes[order[k]!]! - t.hdrVa);
  }
  return out;
}

/**
 * A table of `slots` entries followed by an .eh_frame of `records` records (CIEs, FDEs, short
 * ones), whose pc_begin operands `operand` draws; buf holds [start, walkEnd) at index 0.
 */
function frames(r: () => number, slots: number, records: number, operand: () => number): { t: EhTable; buf: Uint8Array } {
  const start = 0x1000 + 12;
  const end = start + 8 * slots;
  const ehStart = end + 4 * Math.floor(r() * 4);
  const body: number[] = [];
  for (let i = 0; i < records; i++) {
    const len = r() < 0.1 ? 4 + 4 * Math.floor(r() * 2) : 8 + 4 * Math.floor(r() * 6);
    const rec = new Uint8Array(4 + len);
    put32le(rec, 0, len);
    put32le(rec, 4, r() < 0.15 ? 0 : 1 + Math.floor(r() * 1000)); // CIE id 0: a CIE
    if (len >= 8) put32le(rec, 8, operand());
    body.push(...rec);
  }
  const walkEnd = ehStart + body.length + 4; // a zero length ends the walk
  const buf = new Uint8Array(walkEnd - start);
  buf.set(body, ehStart - start);
  const layout = { loads: [{ off: 0, va: 0x400000, size: 1 << 30, exec: true }], exec: [] };
  return { t: { hdr: start - 12, start, end, ehStart, walkEnd, hdrVa: 0x400000 + start - 12, layout }, buf };
}

describe('.eh_frame_hdr table prediction', () => {
  it('orders FDEs as the first implementation did: by pc_begin, ties by address, whatever their spread', () => {
    const r = rng(15);
    const cases: Array<[string, () => number]> = [
      ['few distinct targets (ties)', () => Math.floor(r() * 16) * 64],
      ['code nearby', () => Math.floor(r() * 2 ** 20) - 2 ** 19],
      ['any int32 (a spread over 2^31: the comparator path)', () => Math.floor(r() * 2 ** 32) - 2 ** 31],
    ];
    for (const [what, operand] of cases) {
      for (const [slots, records] of [
        [0, 10],
        [40, 40],
        [60, 50],
        [500, 700],
      ] as const) {
        const { t, buf } = frames(r, slots, records, operand);
        expect(Buffer.from(predictTable(t, buf)).equals(Buffer.from(reference(t, buf))), `${what}, ${slots} slots, ${records} records`).toBe(true);
      }
    }
  });
});
