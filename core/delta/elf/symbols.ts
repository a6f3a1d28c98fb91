// Symbol tables (.symtab, .dynsym) of an x86-predicted delta, predicted entry by entry from the old
// symbol of the same name (patch format 6, docs/patch-format.md "x86-64 reference prediction").
// When a recompile inserts symbols, a plain delta aligns entries against other symbols, and every
// entry's st_name (an offset into the shifted string table) and st_value (a moved address) differ
// anyway. The builder matches each new symbol to an old one by name (it holds both files) and
// carries the match (old index, delta-coded: mostly "the next one") after the delta's control
// triples; builder and applier then predict each new entry from its old one: st_name through the
// delta's address map (the old name's file offset → new offset, minus the new string table's
// offset), st_value through the same map where it is an address in a segment, the other fields as
// they were. The table's new bytes are carried as (new − predicted) mod 256 whatever the triples
// take them from: the predicted old bytes under it are zero and its literal bytes are differences.
// The applier needs no string table: the old entries are read where they lie.
import { CorruptPatchError, type ByteWriter, type ChunkReader } from '../bytes.js';
import { offsetOf, type ElfLayout } from './layout.js';
import type { AddressMap } from './references.js';

export const ENTRY = 24;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_DYNSYM = 11;
const SHENT = 64;
const MAX_SHNUM = 1 << 16;
/** Tables per delta at most (.symtab and .dynsym). */
const MAX_TABLES = 2;
/** Entries per table at most (the node binary has 130k in .symtab). */
const MAX_ENTRIES = 1 << 24;
const MIN_ADDRESS = 1 << 16;

export interface SymbolTable {
  /** New file offset of the table, its entries, the new string table's offset. */
  newOff: number;
  count: number;
  newStrOff: number;
  /** Old file offset of the old table, its entries, the old string table's offset. */
  oldOff: number;
  oldCount: number;
  oldStrOff: number;
  /** For each new entry, the old entry it is predicted from, or −1 (predicted as zeros). */
  match: Int32Array;
  /**
   * The string table's moves: from old st_name `nameAt[k]` on (ascending), new st_name = old +
   * `shift[k]` (0 before the first). The strings keep their order in the table, mostly, but a
   * delta's alignment may take them from elsewhere (.dynstr's names from the old .strtab).
   */
  nameAt: Float64Array;
  shift: Float64Array;
}

interface Section {
  type: number;
  off: number;
  size: number;
  link: number;
  entsize: number;
}

const u32 = (b: Uint8Array, p: number) => (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
const u16 = (b: Uint8Array, p: number) => b[p]! | (b[p + 1]! << 8);
function u64(b: Uint8Array, p: number): number {
  const hi = u32(b, p + 4);
  return hi >= 1 << 21 ? Number.MAX_SAFE_INTEGER : hi * 2 ** 32 + u32(b, p);
}

/** The section headers of an ELF64 little-endian file held whole, or undefined when they are not all inside it. */
function sections(f: Uint8Array): Section[] | undefined {
  if (f.length < 64 || f[0] !== 0x7f || f[1] !== 0x45 || f[2] !== 0x4c || f[3] !== 0x46 || f[4] !== 2 || f[5] !== 1) return undefined;
  const shoff = u64(f, 0x28);
  const shentsize = u16(f, 0x3a);
  const shnum = u16(f, 0x3c);
  if (shentsize !== SHENT || shnum === 0 || shnum > MAX_SHNUM || shoff + shnum * SHENT > f.length) return undefined;
  const out: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * SHENT;
    out.push({ type: u32(f, at + 4), off: u64(f, at + 24), size: u64(f, at + 32), link: u32(f, at + 40), entsize: u64(f, at + 56) });
  }
  return out;
}

/** The symbol table of `type` and its string table, when both lie inside the file. */
function symbolSection(f: Uint8Array, secs: Section[], type: number): { off: number; count: number; strOff: number; strSize: number } | undefined {
  const s = secs.find((x) => x.type === type);
  if (!s || s.entsize !== ENTRY || s.size % ENTRY !== 0 || s.size === 0 || s.off + s.size > f.length) return undefined;
  const str = secs[s.link];
  if (!str || str.type !== SHT_STRTAB || str.off + str.size > f.length) return undefined;
  const count = s.size / ENTRY;
  return count <= MAX_ENTRIES ? { off: s.off, count, strOff: str.off, strSize: str.size } : undefined;
}

const latin1 = new TextDecoder('latin1');

/** Each entry's name (empty where st_name is outside the string table). */
function names(f: Uint8Array, t: { off: number; count: number; strOff: number; strSize: number }): string[] {
  const out: string[] = [];
  const strEnd = t.strOff + t.strSize;
  for (let i = 0; i < t.count; i++) {
    const s = t.strOff + u32(f, t.off + i * ENTRY);
    let e = s;
    while (e < strEnd && f[e] !== 0) e++;
    out.push(s < strEnd ? latin1.decode(f.subarray(s, e)) : '');
  }
  return out;
}

/**
 * The builder's side: the .symtab and .dynsym tables of `nw` with each entry matched to the old
 * entry of the same name (the first not yet taken, in old order), for those both files have; none
 * where either file's section headers or tables are not wholly inside it.
 */
export function matchSymbols(old: Uint8Array, nw: Uint8Array): SymbolTable[] {
  const os = sections(old);
  const ns = sections(nw);
  if (!os || !ns) return [];
  const out: SymbolTable[] = [];
  for (const type of [SHT_DYNSYM, SHT_SYMTAB]) {
    const o = symbolSection(old, os, type);
    const n = symbolSection(nw, ns, type);
    if (!o || !n) continue;
    const byName = new Map<string, number[]>();
    const oldNames = names(old, o);
    for (let j = oldNames.length - 1; j > 0; j--) {
      const list = byName.get(oldNames[j]!);
      if (list) list.push(j);
      else byName.set(oldNames[j]!, [j]);
    }
    const match = new Int32Array(n.count).fill(-1);
    const newNames = names(nw, n);
    for (let i = 1; i < n.count; i++) match[i] = byName.get(newNames[i]!)?.pop() ?? -1;
    // st_name moves, in old string order
    const pairs: Array<[number, number]> = [];
    for (let i = 1; i < n.count; i++) if (match[i]! >= 0) pairs.push([u32(old, o.off + match[i]! * ENTRY), u32(nw, n.off + i * ENTRY)]);
    pairs.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    const nameAt: number[] = [];
    const shift: number[] = [];
    let cur = 0;
    for (const [a, b] of pairs) {
      if (b - a === cur) continue;
      cur = b - a;
      if (nameAt[nameAt.length - 1] === a) shift[shift.length - 1] = cur;
      else {
        nameAt.push(a);
        shift.push(cur);
      }
    }
    out.push({ newOff: n.off, count: n.count, newStrOff: n.strOff, oldOff: o.off, oldCount: o.count, oldStrOff: o.strOff, match, nameAt: Float64Array.from(nameAt), shift: Float64Array.from(shift) });
  }
  // in new-file order, disjoint
  out.sort((a, b) => a.newOff - b.newOff);
  return out.filter((t, k) => k === 0 || out[k - 1]!.newOff + out[k - 1]!.count * ENTRY <= t.newOff);
}

/** Writes the tables after a delta's control triples (format 6). */
export function writeSymbolTables(w: ByteWriter, tables: SymbolTable[]): void {
  w.uvar(tables.length);
  for (const t of tables) {
    for (const v of [t.newOff, t.count, t.newStrOff, t.oldOff, t.oldCount, t.oldStrOff]) w.uvar(v);
    let prev = -1;
    for (let i = 0; i < t.count; i++) {
      const j = t.match[i]!;
      if (j < 0) w.uvar(0);
      else {
        const d = j - (prev + 1);
        w.uvar(((d << 1) ^ (d >> 31)) + 1);
        prev = j;
      }
    }
    w.uvar(t.nameAt.length);
    for (let k = 0; k < t.nameAt.length; k++) {
      w.uvar(t.nameAt[k]! - (k ? t.nameAt[k - 1]! : 0));
      w.svar(t.shift[k]! - (k ? t.shift[k - 1]! : 0));
    }
  }
}

/** Reads the tables writeSymbolTables wrote, checked against the old and new sizes. */
export async function readSymbolTables(ctrl: ChunkReader, oldLen: number, newLen: number): Promise<SymbolTable[]> {
  const bad = () => new CorruptPatchError('patch symbol tables are out of bounds');
  const n = await ctrl.uvar();
  if (n > MAX_TABLES) throw bad();
  const out: SymbolTable[] = [];
  let newEnd = 0;
  for (let k = 0; k < n; k++) {
    const [newOff, count, newStrOff, oldOff, oldCount, oldStrOff] = [await ctrl.uvar(), await ctrl.uvar(), await ctrl.uvar(), await ctrl.uvar(), await ctrl.uvar(), await ctrl.uvar()] as const;
    if (count > MAX_ENTRIES || oldCount > MAX_ENTRIES || newOff < newEnd || newOff + count * ENTRY > newLen || oldOff + oldCount * ENTRY > oldLen || newStrOff > newLen || oldStrOff > oldLen) throw bad();
    newEnd = newOff + count * ENTRY;
    const match = new Int32Array(count);
    let prev = -1;
    for (let i = 0; i < count; i++) {
      let c = ctrl.uvarNow();
      if (c < 0) c = await ctrl.uvar();
      if (c === 0) {
        match[i] = -1;
        continue;
      }
      const z = c - 1;
      const j = prev + 1 + (z % 2 === 0 ? z / 2 : -(z + 1) / 2);
      if (j < 0 || j >= oldCount) throw bad();
      match[i] = prev = j;
    }
    const moves = await ctrl.uvar();
    if (moves > count) throw bad();
    const nameAt = new Float64Array(moves);
    const shift = new Float64Array(moves);
    for (let k = 0; k < moves; k++) {
      nameAt[k] = (k ? nameAt[k - 1]! : 0) + (await ctrl.uvar());
      shift[k] = (k ? shift[k - 1]! : 0) + (await ctrl.svar());
      if (nameAt[k]! >= 2 ** 32 || Math.abs(shift[k]!) >= 2 ** 32) throw bad();
    }
    out.push({ newOff, count, newStrOff, oldOff, oldCount, oldStrOff, match, nameAt, shift });
  }
  return out;
}

/** What predicting an entry needs besides its old bytes. */
export interface EntryContext {
  layout: ElfLayout | undefined;
  map: AddressMap;
}

/** The shift of old st_name `a` (the last move at or before it). */
function shiftOf(t: SymbolTable, a: number): number {
  let lo = 0;
  let hi = t.nameAt.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (t.nameAt[m]! <= a) lo = m + 1;
    else hi = m;
  }
  return lo > 0 ? t.shift[lo - 1]! : 0;
}

/** Writes the predicted new entry into out[at, at + 24) from the old entry's 24 bytes at e[p]. */
export function predictEntry(t: SymbolTable, c: EntryContext, e: Uint8Array, p: number, out: Uint8Array, at: number): void {
  const old = u32(e, p);
  const name = (old + shiftOf(t, old)) >>> 0;
  for (let k = 0; k < 4; k++) out[at + k] = (name >>> (8 * k)) & 0xff;
  for (let k = 4; k < ENTRY; k++) out[at + k] = e[p + k]!;
  const hi = u32(e, p + 12);
  if (hi >= 1 << 20 || !c.layout) return;
  const v = hi * 2 ** 32 + u32(e, p + 8);
  if (v < MIN_ADDRESS) return;
  const o = offsetOf(c.layout, v);
  if (o < 0) return;
  const nv = c.map.map(o) + (v - o);
  const lo = nv % 2 ** 32;
  const nhi = Math.floor(nv / 2 ** 32);
  for (let k = 0; k < 4; k++) {
    out[at + 8 + k] = (lo >>> (8 * k)) & 0xff;
    out[at + 12 + k] = (nhi >>> (8 * k)) & 0xff;
  }
}

/** Zeroes out[0, n), the predicted old bytes that land at new offsets [newPos, newPos + n), where they fall in a table. */
export function zeroTables(tables: SymbolTable[], newPos: number, n: number, out: Uint8Array): void {
  for (const t of tables) {
    const s = Math.max(newPos, t.newOff);
    const e = Math.min(newPos + n, t.newOff + t.count * ENTRY);
    if (s < e) out.fill(0, s - newPos, e - newPos);
  }
}

/** The builder's side: `nw` (changed in place) with each table's bytes replaced by (new − predicted) mod 256. */
export function subtractTables(tables: SymbolTable[], c: EntryContext, old: Uint8Array, nw: Uint8Array): void {
  const pred = new Uint8Array(ENTRY);
  for (const t of tables) {
    for (let i = 0; i < t.count; i++) {
      const j = t.match[i]!;
      if (j < 0) continue;
      predictEntry(t, c, old, t.oldOff + j * ENTRY, pred, 0);
      const at = t.newOff + i * ENTRY;
      for (let k = 0; k < ENTRY; k++) nw[at + k] = (nw[at + k]! - pred[k]!) & 0xff;
    }
  }
}

/** What the applier's restoreTables needs, known once the delta's control has been read. */
export interface SymbolContext {
  tables: SymbolTable[];
  c: EntryContext;
  oldEntry: (offset: number) => Promise<Uint8Array>;
}

/**
 * The applier's side: the new file's bytes as `blocks` gives them (tables as differences), with
 * each table entry's prediction added back; `oldEntry(offset)` gives the 24 old bytes at an old
 * file offset (read where they lie, so no string table and no whole table is held).
 */
export async function* restoreTables(blocks: AsyncIterable<Uint8Array>, context: () => SymbolContext): AsyncGenerator<Uint8Array> {
  let pos = 0;
  let ctx: SymbolContext | undefined;
  const pred = new Uint8Array(ENTRY);
  let predFor = -1; // new offset of the entry pred holds
  let predTable = -1;
  for await (const b of blocks) {
    // known once the delta's control (read before its first bytes) is
    ctx ??= context();
    const { tables, c, oldEntry } = ctx;
    const end = pos + b.length;
    for (const t of tables) {
      const s = Math.max(pos, t.newOff);
      const e = Math.min(end, t.newOff + t.count * ENTRY);
      for (let x = s; x < e; ) {
        const i = Math.floor((x - t.newOff) / ENTRY);
        const entryAt = t.newOff + i * ENTRY;
        const stop = Math.min(e, entryAt + ENTRY);
        const j = t.match[i]!;
        if (j >= 0) {
          const k = tables.indexOf(t);
          if (predFor !== entryAt || predTable !== k) {
            predictEntry(t, c, await oldEntry(t.oldOff + j * ENTRY), 0, pred, 0);
            predFor = entryAt;
            predTable = k;
          }
          for (let q = x; q < stop; q++) b[q - pos] = (b[q - pos]! + pred[q - entryAt]!) & 0xff;
        }
        x = stop;
      }
    }
    pos = end;
    yield b;
  }
}
