import { describe, expect, it } from 'vitest';
import { diffBytes } from '../bsdiff.js';
import { bufferSource, ByteWriter, CorruptPatchError } from '../bytes.js';
import { takeResult } from '../differ.js';
import { SuffixMatcher } from '../matcher.js';
import { chunked, collect, randomBytes, rng } from '../testing.js';
import { applyX86Delta, x86Differences } from './delta.js';
import { bssShift, matchSymbols, readSymbolTables, sectionHeaders, writeSymbolTables } from './symbols.js';

const BIAS = 0x400000;
const CODE_OFF = 0x1000;

interface Sym {
  name: string;
  /** Function index the symbol names (its value is that function's address). */
  fn: number;
}

/**
 * An ELF64 x86-64 file: one executable segment of functions (`code[k]` each), then
 * .symtab/.strtab and .dynsym/.dynstr (names in symbol order, as ld writes .strtab), .gnu.hash,
 * then the section headers [null, .text, .symtab, .strtab, .dynsym, .dynstr, .gnu.hash].
 */
function renderElf(code: Uint8Array[], syms: Sym[], dynIn: Sym[]): Uint8Array {
  let dyn = dynIn;
  const starts: number[] = [];
  const sizes = code.map((c) => c.length);
  let off = CODE_OFF;
  for (const s of sizes) {
    starts.push(off);
    off += s;
  }
  const codeEnd = off;
  const enc = new TextEncoder();
  const table = (list: Sym[]) => {
    const strs: number[] = [0];
    const ents = new Uint8Array(24 * (list.length + 1));
    const dv = new DataView(ents.buffer);
    list.forEach((s, i) => {
      dv.setUint32(24 * (i + 1), strs.length, true);
      strs.push(...enc.encode(s.name), 0);
      ents[24 * (i + 1) + 4] = 0x12; // global function
      dv.setUint16(24 * (i + 1) + 6, 1, true);
      dv.setBigUint64(24 * (i + 1) + 8, BigInt(starts[s.fn]! + BIAS), true);
      dv.setBigUint64(24 * (i + 1) + 16, BigInt(sizes[s.fn]!), true);
    });
    return { ents, strs: Uint8Array.from(strs) };
  };
  const st = table(syms);
  // .dynsym sorted by .gnu.hash bucket, as ld does
  const gnu = (name: string) => [...enc.encode(name)].reduce((h, c) => (h * 33 + c) >>> 0, 5381);
  const NB = 7;
  dyn = [...dyn].sort((a, b) => (gnu(a.name) % NB) - (gnu(b.name) % NB));
  const dy = table(dyn);
  const hash = new Uint8Array(16 + 8 + 4 * NB + 4 * dyn.length);
  const hv = new DataView(hash.buffer);
  hv.setUint32(0, NB, true);
  hv.setUint32(4, 1, true); // symoffset: the null entry is not hashed
  hv.setUint32(8, 1, true); // one bloom word (left zero)
  dyn.forEach((s, k) => {
    const b = gnu(s.name) % NB;
    if (hv.getUint32(24 + 4 * b, true) === 0) hv.setUint32(24 + 4 * b, k + 1, true);
    const last = k + 1 === dyn.length || gnu(dyn[k + 1]!.name) % NB !== b;
    hv.setUint32(24 + 4 * NB + 4 * k, (gnu(s.name) & ~1) | (last ? 1 : 0), true);
  });
  const symOff = Math.ceil(codeEnd / 8) * 8;
  const strOff = symOff + st.ents.length;
  const dynOff = Math.ceil((strOff + st.strs.length) / 8) * 8;
  const dynStrOff = dynOff + dy.ents.length;
  const hashOff = Math.ceil((dynStrOff + dy.strs.length) / 8) * 8;
  const shoff = Math.ceil((hashOff + hash.length) / 8) * 8;
  const b = new Uint8Array(shoff + 7 * 64);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  dv.setUint16(16, 2, true);
  dv.setUint16(18, 62, true);
  dv.setBigUint64(0x20, 64n, true);
  dv.setBigUint64(0x28, BigInt(shoff), true);
  dv.setUint16(0x36, 56, true);
  dv.setUint16(0x38, 1, true);
  dv.setUint16(0x3a, 64, true);
  dv.setUint16(0x3c, 7, true);
  dv.setUint32(64, 1, true);
  dv.setUint32(68, 5, true);
  dv.setBigUint64(72, BigInt(CODE_OFF), true);
  dv.setBigUint64(80, BigInt(CODE_OFF + BIAS), true);
  dv.setBigUint64(96, BigInt(codeEnd - CODE_OFF), true);
  dv.setBigUint64(104, BigInt(codeEnd - CODE_OFF), true);
  code.forEach((c, k) => b.set(c, starts[k]!));
  b.set(st.ents, symOff);
  b.set(st.strs, strOff);
  b.set(dy.ents, dynOff);
  b.set(dy.strs, dynStrOff);
  b.set(hash, hashOff);
  const sh = (i: number, type: number, o: number, size: number, link: number, entsize: number) => {
    const at = shoff + 64 * i;
    dv.setUint32(at + 4, type, true);
    dv.setBigUint64(at + 24, BigInt(o), true);
    dv.setBigUint64(at + 32, BigInt(size), true);
    dv.setUint32(at + 40, link, true);
    dv.setBigUint64(at + 56, BigInt(entsize), true);
  };
  sh(1, 1, CODE_OFF, codeEnd - CODE_OFF, 0, 0);
  sh(2, 2, symOff, st.ents.length, 3, 24);
  sh(3, 3, strOff, st.strs.length, 0, 0);
  sh(4, 11, dynOff, dy.ents.length, 5, 24);
  sh(5, 3, dynStrOff, dy.strs.length, 0, 0);
  sh(6, 0x6ffffff6, hashOff, hash.length, 4, 0);
  return b;
}

interface Pair {
  old: Uint8Array;
  nw: Uint8Array;
}

/** An old file and a recompile of it: functions grown, symbols inserted and removed, code bytes the same. */
function randomPair(seed: number, functions: number): Pair {
  const r = rng(seed);
  const code = Array.from({ length: functions }, () => randomBytes(16 + Math.floor(r() * 200), r));
  const name = (k: number) => `_ZN4node${k}fn${Math.floor(r() * 1e6)}Ev`;
  const syms = code.map((_, k) => ({ name: name(k), fn: k }));
  const dyn = syms.filter(() => r() < 0.5);
  const old = renderElf(code, syms, dyn);
  const grown = code.map((c) => (r() < 0.1 ? Uint8Array.from([...c, ...randomBytes(1 + Math.floor(r() * 40), r)]) : c));
  const edit = (list: Sym[]) => {
    const out: Sym[] = [];
    for (const s of list) {
      if (r() < 0.05) continue;
      if (r() < 0.05) out.push({ name: `inserted${Math.floor(r() * 1e6)}`, fn: Math.floor(r() * functions) });
      out.push(s);
    }
    return out;
  };
  const nw = renderElf(grown, edit(syms), edit(dyn));
  return { old, nw };
}

async function roundTrip(old: Uint8Array, nw: Uint8Array): Promise<{ predicted: number; plain: number }> {
  const plain = takeResult(diffBytes(old, nw, new SuffixMatcher(old)));
  const p = x86Differences(old, nw, plain.ctrl);
  if (!p) return { predicted: -1, plain: plain.diff.length };
  const s = {
    ops: chunked(new Uint8Array(0), 'ops'),
    hdr: chunked(new Uint8Array(0), 'hdr'),
    ctrl: chunked(p.ctrl, 'ctrl', 333),
    runs: chunked(p.runs, 'runs', 777),
    diff: chunked(p.diff, 'diff', 1001),
    lit: chunked(p.extra, 'lit', 555),
  };
  const rebuilt = await collect(applyX86Delta(s, bufferSource(old), 0, old.length, nw.length));
  expect(Buffer.from(rebuilt).equals(Buffer.from(nw))).toBe(true);
  for (const x of [s.ctrl, s.runs, s.diff, s.lit]) expect(await x.atEnd()).toBe(true);
  const nonzero = (b: Uint8Array) => b.reduce((n, v) => n + (v ? 1 : 0), 0);
  return { predicted: nonzero(p.diff), plain: nonzero(plain.diff) };
}

describe('symbol table prediction', () => {
  it('matches symbols by name and round-trips random ELF-like recompiles exactly, predicting most entries', async () => {
    let predicted = 0;
    let plain = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const { old, nw } = randomPair(seed, 100 + seed * 40);
      const tables = matchSymbols(old, nw, sectionHeaders(old), sectionHeaders(nw));
      expect(tables.length).toBe(2);
      for (const t of tables) expect(t.match.filter((j) => j >= 0).length).toBeGreaterThan(t.count * 0.8);
      expect(tables.filter((t) => t.hash).length).toBe(1);
      const n = await roundTrip(old, nw);
      predicted += n.predicted;
      plain += n.plain;
    }
    // the code is unchanged bytes; the moved entries' differences are what the prediction removes
    expect(predicted).toBeLessThan(plain * 0.3);
  });

  it('round-trips and predicts nothing from malformed section headers and tables, without error', async () => {
    const { old, nw } = randomPair(99, 120);
    const shoff = (b: Uint8Array) => Number(new DataView(b.buffer).getBigUint64(0x28, true));
    const spoils: Array<(b: Uint8Array, dv: DataView) => void> = [
      (_b, dv) => dv.setBigUint64(0x28, 1n << 40n, true), // section headers far away
      (b, dv) => dv.setBigUint64(0x28, BigInt(b.length - 100), true), // section headers cut by the end
      (_b, dv) => dv.setUint16(0x3a, 40, true), // wrong shentsize
      (_b, dv) => dv.setUint16(0x3c, 0, true), // no sections
      (b, dv) => dv.setBigUint64(shoff(b) + 128 + 56, 16n, true), // .symtab entsize 16
      (b, dv) => dv.setBigUint64(shoff(b) + 128 + 32, BigInt(b.length), true), // .symtab past the end
      (b, dv) => dv.setUint32(shoff(b) + 128 + 40, 77, true), // string table link out of range
      (b, dv) => dv.setUint32(shoff(b) + 128 + 40, 1, true), // linked to .text
      (b, dv) => dv.setBigUint64(shoff(b) + 192 + 32, BigInt(b.length), true), // .strtab past the end
      (b, dv) => dv.setBigUint64(shoff(b) + 384 + 32, 8n, true), // .gnu.hash cut short
      (b, dv) => dv.setUint32(Number(dv.getBigUint64(shoff(b) + 384 + 24, true)), 1 << 30, true), // nbuckets beyond the section
      (b, dv) => dv.setUint32(Number(dv.getBigUint64(shoff(b) + 384 + 24, true)) + 4, 1 << 20, true), // symoffset beyond .dynsym
    ];
    for (const spoil of spoils) {
      for (const which of ['old', 'new'] as const) {
        const o = old.slice();
        const n = nw.slice();
        const target = which === 'old' ? o : n;
        spoil(target, new DataView(target.buffer));
        expect(() => matchSymbols(o, n, sectionHeaders(o), sectionHeaders(n))).not.toThrow();
        expect((await roundTrip(o, n)).predicted).toBeGreaterThanOrEqual(0);
      }
    }
    // string offsets out of range, random bytes in the tables, truncated files
    const r = rng(5);
    for (let trial = 0; trial < 30; trial++) {
      const o = old.slice();
      const n = nw.slice();
      for (let k = 0; k < 200; k++) {
        const t = r() < 0.5 ? o : n;
        t[Math.floor(r() * t.length)] = Math.floor(r() * 256);
      }
      await roundTrip(o, n);
      const cut = n.subarray(0, Math.floor(r() * n.length));
      expect(() => matchSymbols(o, cut, sectionHeaders(o), sectionHeaders(cut))).not.toThrow();
      await roundTrip(o, cut.slice());
    }
  });

  it('takes how far .bss moved from the two files\' first allocated non-TLS NOBITS sections, else 0', () => {
    const { old, nw } = randomPair(41, 30);
    const nobits = (f: Uint8Array, index: number, flags: number, addr: number) => {
      const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
      const at = Number(dv.getBigUint64(0x28, true)) + 64 * index;
      dv.setUint32(at + 4, 8, true);
      dv.setBigUint64(at + 8, BigInt(flags), true);
      dv.setBigUint64(at + 16, BigInt(addr), true);
    };
    expect(bssShift(sectionHeaders(old), sectionHeaders(nw))).toBe(0);
    const [o, n] = [old.slice(), nw.slice()];
    nobits(o, 0, 0x403, 0x600000); // TLS (.tbss): passed over
    nobits(n, 0, 0x403, 0x700000);
    expect(bssShift(sectionHeaders(o), sectionHeaders(n))).toBe(0);
    nobits(o, 6, 3, 0x612000);
    nobits(n, 6, 3, 0x60e000);
    expect(bssShift(sectionHeaders(o), sectionHeaders(n))).toBe(-0x4000);
    expect(bssShift(sectionHeaders(o), sectionHeaders(n.subarray(0, n.length - 64)))).toBe(0); // section headers cut
  });

  it('gives the same bytes for the same inputs', () => {
    const { old, nw } = randomPair(7, 200);
    const plain = takeResult(diffBytes(old, nw, new SuffixMatcher(old)));
    const a = x86Differences(old, nw, plain.ctrl)!;
    const b = x86Differences(old.slice(), nw.slice(), plain.ctrl.slice())!;
    for (const k of ['ctrl', 'runs', 'diff', 'extra'] as const) expect(Buffer.from(a[k]).equals(Buffer.from(b[k]))).toBe(true);
  });

  it('refuses symbol matches out of bounds', async () => {
    const { old, nw } = randomPair(3, 60);
    const tables = matchSymbols(old, nw, sectionHeaders(old), sectionHeaders(nw));
    const read = (bytes: Uint8Array, oldLen = old.length, newLen = nw.length) => readSymbolTables(chunked(bytes, 'ctrl', 5), oldLen, newLen);
    const w = new ByteWriter(64);
    writeSymbolTables(w, tables);
    const good = w.take();
    expect((await read(good)).map((t) => Array.from(t.match))).toEqual(tables.map((t) => Array.from(t.match)));
    await expect(read(good, old.length, tables[tables.length - 1]!.newOff + 10)).rejects.toThrow(CorruptPatchError);
    await expect(read(good, tables[0]!.oldOff + 10, nw.length)).rejects.toThrow(CorruptPatchError);
    const h = tables.find((t) => t.hash)!.hash!;
    await expect(read(good, old.length, h.chainOff + 2)).rejects.toThrow(CorruptPatchError); // the chain past the new file
    await expect(read(good, h.oldChainOff + 2, nw.length)).rejects.toThrow(CorruptPatchError); // the old chain past the old file
    const bad = new ByteWriter(16);
    for (const v of [1, 0, 1, 0, 0, 1, 0]) bad.uvar(v); // one table of one entry, one old entry
    bad.uvar(11); // matched to old entry 5
    await expect(read(bad.take())).rejects.toThrow(CorruptPatchError);
    const many = new ByteWriter(4);
    many.uvar(3);
    await expect(read(many.take())).rejects.toThrow(CorruptPatchError);
  });
});
