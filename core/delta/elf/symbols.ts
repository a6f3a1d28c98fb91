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
import { CorruptPatchError, put32le, u16le as u16, u32le as u32, u64le as u64, type ByteWriter, type ChunkReader } from '../bytes.js';
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
  /** The .gnu.hash chain of a .dynsym, predicted from the matched old entries' hashes. */
  hash?: GnuHash;
}

/**
 * A .gnu.hash table's chain: entry c is (hash of dynsym symbol symoffset + c) with its low bit
 * replaced by "last of its bucket". The new buckets (before the chain in the file, so rebuilt
 * first) tell which symbols start a bucket; the matched old symbol's chain value gives the hash.
 */
export interface GnuHash {
  /** New file offsets of the buckets (u32 each) and of the chain; the new symoffset. */
  bucketsOff: number;
  nbuckets: number;
  chainOff: number;
  symoffset: number;
  /** Old file offset of the old chain, its entries, the old symoffset. */
  oldChainOff: number;
  oldCount: number;
  oldSymoffset: number;
}

const SHT_GNU_HASH = 0x6ffffff6;

/** A table's .gnu.hash chain entries (its dynsym entries from symoffset on). */
const chainCount = (t: SymbolTable) => t.count - t.hash!.symoffset;

export interface Section {
  type: number;
  flags: number;
  addr: number;
  off: number;
  size: number;
  link: number;
  entsize: number;
}

/**
 * The section headers of an ELF64 little-endian file held whole, or undefined when they are not
 * all inside it: the builder's (they lie at the end of the file, past layout.ts's first bytes),
 * parsed once per file for matchSymbols and bssShift.
 */
export function sectionHeaders(f: Uint8Array): Section[] | undefined {
  if (f.length < 64 || f[0] !== 0x7f || f[1] !== 0x45 || f[2] !== 0x4c || f[3] !== 0x46 || f[4] !== 2 || f[5] !== 1) return undefined;
  const shoff = u64(f, 0x28);
  const shentsize = u16(f, 0x3a);
  const shnum = u16(f, 0x3c);
  if (shentsize !== SHENT || shnum === 0 || shnum > MAX_SHNUM || shoff + shnum * SHENT > f.length) return undefined;
  const out: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * SHENT;
    out.push({ type: u32(f, at + 4), flags: u64(f, at + 8), addr: u64(f, at + 16), off: u64(f, at + 24), size: u64(f, at + 32), link: u32(f, at + 40), entsize: u64(f, at + 56) });
  }
  return out;
}

/** The symbol table of `type` and its string table, when both lie inside the file. */
function symbolSection(f: Uint8Array, secs: Section[], type: number): { off: number; count: number; strOff: number; strSize: number; index: number } | undefined {
  const index = secs.findIndex((x) => x.type === type);
  const s = secs[index];
  if (!s || s.entsize !== ENTRY || s.size % ENTRY !== 0 || s.size === 0 || s.off + s.size > f.length) return undefined;
  const str = secs[s.link];
  if (!str || str.type !== SHT_STRTAB || str.off + str.size > f.length) return undefined;
  const count = s.size / ENTRY;
  return count <= MAX_ENTRIES ? { off: s.off, count, strOff: str.off, strSize: str.size, index } : undefined;
}

/** The .gnu.hash linked to symbol table `sym` (`count` entries): its buckets and chain, when inside the section and the file. */
function gnuHash(f: Uint8Array, secs: Section[], sym: number, count: number): { bucketsOff: number; nbuckets: number; chainOff: number; symoffset: number } | undefined {
  const h = secs.find((x) => x.type === SHT_GNU_HASH && x.link === sym);
  if (!h || h.size < 16 || h.off + h.size > f.length) return undefined;
  const nbuckets = u32(f, h.off);
  const symoffset = u32(f, h.off + 4);
  const bloom = u32(f, h.off + 8);
  const bucketsOff = h.off + 16 + 8 * bloom;
  const chainOff = bucketsOff + 4 * nbuckets;
  if (nbuckets > MAX_ENTRIES || bloom > MAX_ENTRIES || symoffset > count || chainOff + 4 * (count - symoffset) > h.off + h.size) return undefined;
  return { bucketsOff, nbuckets, chainOff, symoffset };
}

const SHT_NOBITS = 8;
const SHF_ALLOC = 2;
const SHF_TLS = 0x400;

/**
 * How far .bss moved (format 7): the new file's first allocated, non-TLS SHT_NOBITS section's
 * address minus the old one's, from the files' sectionHeaders; 0 when either file has none or its
 * section headers are not wholly inside it.
 */
export function bssShift(oldSections: Section[] | undefined, newSections: Section[] | undefined): number {
  const first = (secs: Section[] | undefined) => secs?.find((s) => s.type === SHT_NOBITS && (s.flags & (SHF_ALLOC | SHF_TLS)) === SHF_ALLOC);
  const o = first(oldSections);
  const n = first(newSections);
  return o && n && Number.isSafeInteger(n.addr - o.addr) ? n.addr - o.addr : 0;
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
 * where either file's section headers (`os`, `ns`: their sectionHeaders) or tables are not wholly inside it.
 */
export function matchSymbols(old: Uint8Array, nw: Uint8Array, os: Section[] | undefined, ns: Section[] | undefined): SymbolTable[] {
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
    const t: SymbolTable = { newOff: n.off, count: n.count, newStrOff: n.strOff, oldOff: o.off, oldCount: o.count, oldStrOff: o.strOff, match, nameAt: Float64Array.from(nameAt), shift: Float64Array.from(shift) };
    const nh = type === SHT_DYNSYM ? gnuHash(nw, ns, n.index, n.count) : undefined;
    const oh = nh && gnuHash(old, os, o.index, o.count);
    // disjoint from the tables (checked again by the applier)
    if (nh && oh && (nh.chainOff >= n.off + n.count * ENTRY || nh.chainOff + 4 * (n.count - nh.symoffset) <= n.off)) {
      t.hash = { ...nh, oldChainOff: oh.chainOff, oldCount: o.count - oh.symoffset, oldSymoffset: oh.symoffset };
    }
    out.push(t);
  }
  // in new-file order, disjoint
  out.sort((a, b) => a.newOff - b.newOff);
  const kept = out.filter((t, k) => k === 0 || out[k - 1]!.newOff + out[k - 1]!.count * ENTRY <= t.newOff);
  for (const t of kept) if (t.hash && !hashFits(kept, t)) delete t.hash;
  return kept;
}

/** Whether a table's hash chain lies in no table and its buckets before it. */
function hashFits(tables: SymbolTable[], t: SymbolTable): boolean {
  const h = t.hash!;
  const end = h.chainOff + 4 * chainCount(t);
  return h.bucketsOff + 4 * h.nbuckets <= h.chainOff && tables.every((x) => end <= x.newOff || h.chainOff >= x.newOff + x.count * ENTRY);
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
    const h = t.hash;
    w.uvar(h ? 1 : 0);
    if (h) for (const v of [h.bucketsOff, h.nbuckets, h.chainOff, h.symoffset, h.oldChainOff, h.oldCount, h.oldSymoffset]) w.uvar(v);
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
      // synchronous while buffered: a promise per varint was a fifth of the apply's garbage
      let at = ctrl.uvarNow();
      if (at < 0) at = await ctrl.uvar();
      nameAt[k] = (k ? nameAt[k - 1]! : 0) + at;
      shift[k] = (k ? shift[k - 1]! : 0) + (ctrl.svarNow() ?? (await ctrl.svar()));
      if (nameAt[k]! >= 2 ** 32 || Math.abs(shift[k]!) >= 2 ** 32) throw bad();
    }
    const t: SymbolTable = { newOff, count, newStrOff, oldOff, oldCount, oldStrOff, match, nameAt, shift };
    const hashes = await ctrl.uvar();
    if (hashes > 1) throw bad();
    if (hashes) {
      const [bucketsOff, nbuckets, chainOff, symoffset, oldChainOff, oldHashCount, oldSymoffset] = [await ctrl.uvar(), await ctrl.uvar(), await ctrl.uvar(), await ctrl.uvar(), await ctrl.uvar(), await ctrl.uvar(), await ctrl.uvar()] as const;
      if (nbuckets > MAX_ENTRIES || symoffset > count || chainOff + 4 * (count - symoffset) > newLen || oldHashCount > MAX_ENTRIES || oldChainOff + 4 * oldHashCount > oldLen) throw bad();
      t.hash = { bucketsOff, nbuckets, chainOff, symoffset, oldChainOff, oldCount: oldHashCount, oldSymoffset };
    }
    out.push(t);
  }
  for (const t of out) if (t.hash && !hashFits(out, t)) throw bad();
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
  put32le(out, at, name);
  for (let k = 4; k < ENTRY; k++) out[at + k] = e[p + k]!;
  const hi = u32(e, p + 12);
  if (hi >= 1 << 20 || !c.layout) return;
  const v = hi * 2 ** 32 + u32(e, p + 8);
  if (v < MIN_ADDRESS) return;
  const o = offsetOf(c.layout, v);
  if (o < 0) return;
  const nv = c.map.map(o) + (v - o);
  put32le(out, at + 8, nv % 2 ** 32);
  put32le(out, at + 12, Math.floor(nv / 2 ** 32));
}

/** Zeroes out[at, at + n), the predicted old bytes that land at new offsets [newPos, newPos + n), where they fall in a table. */
export function zeroTables(tables: SymbolTable[], newPos: number, n: number, out: Uint8Array, at = 0): void {
  // indexed: it runs once per predicted piece, and a for-of's iterator was an allocation each time below TurboFan
  for (let k = 0; k < tables.length; k++) {
    const t = tables[k]!;
    const s = Math.max(newPos, t.newOff);
    const e = Math.min(newPos + n, t.newOff + t.count * ENTRY);
    if (s < e) out.fill(0, at + s - newPos, at + e - newPos);
    if (!t.hash) continue;
    const hs = Math.max(newPos, t.hash.chainOff);
    const he = Math.min(newPos + n, t.hash.chainOff + 4 * chainCount(t));
    if (hs < he) out.fill(0, at + hs - newPos, at + he - newPos);
  }
}

/** The predicted chain value of new dynsym entry i (≥ symoffset), from the old chain value of its match (`oldChain`, or undefined) and whether it ends its bucket. */
function chainValue(oldChain: number | undefined, last: boolean): number {
  return ((oldChain ?? 0) & ~1) | (last ? 1 : 0);
}

/** The old chain offset of the match of new entry i, or −1 when it has none in the old chain. */
function oldChainAt(t: SymbolTable, i: number): number {
  const h = t.hash!;
  const j = t.match[i]!;
  return j >= h.oldSymoffset && j - h.oldSymoffset < h.oldCount ? h.oldChainOff + 4 * (j - h.oldSymoffset) : -1;
}

/** Bucket starts as a bit set over dynsym indices [0, count]: from the buckets' u32 values. */
class Starts {
  readonly bits: Uint8Array;
  constructor(readonly count: number) {
    this.bits = new Uint8Array((count >> 3) + 1);
  }
  add(v: number): void {
    if (v <= this.count) this.bits[v >> 3]! |= 1 << (v & 7);
  }
  /** Whether dynsym entry i is the last of its bucket: i + 1 starts one, or ends the table. */
  last(i: number): boolean {
    return i + 1 >= this.count || (this.bits[(i + 1) >> 3]! & (1 << ((i + 1) & 7))) !== 0;
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
    const h = t.hash;
    if (!h) continue;
    const starts = new Starts(t.count);
    for (let b = 0; b < h.nbuckets; b++) starts.add(u32(nw, h.bucketsOff + 4 * b));
    for (let c = 0; c < chainCount(t); c++) {
      const i = h.symoffset + c;
      const at = oldChainAt(t, i);
      const v = chainValue(at >= 0 ? u32(old, at) : undefined, starts.last(i));
      const p = h.chainOff + 4 * c;
      for (let k = 0; k < 4; k++) nw[p + k] = (nw[p + k]! - ((v >>> (8 * k)) & 0xff)) & 0xff;
    }
  }
}

/** What the applier's restoreTables needs, known once the delta's control has been read. */
export interface SymbolContext {
  tables: SymbolTable[];
  c: EntryContext;
  /** `n` (≤ 24) old bytes at an old file offset, now when it can (else a promise of them). */
  oldEntry: (offset: number, n: number) => Uint8Array | Promise<Uint8Array>;
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
  let starts: Starts | undefined;
  const bucket = new Uint8Array(4);
  const chainPred = new Uint8Array(4);
  let chainFor = -1;
  for await (const b of blocks) {
    // known once the delta's control (read before its first bytes) is
    ctx ??= context();
    const { tables, c, oldEntry } = ctx;
    const end = pos + b.length;
    for (const t of tables) {
      const h = t.hash;
      if (!h) continue;
      // the buckets pass first (they lie before the chain); then each chain entry gets its prediction
      starts ??= new Starts(t.count);
      for (let x = Math.max(pos, h.bucketsOff); x < Math.min(end, h.bucketsOff + 4 * h.nbuckets); x++) {
        bucket[(x - h.bucketsOff) & 3] = b[x - pos]!;
        if (((x - h.bucketsOff) & 3) === 3) starts.add(u32(bucket, 0));
      }
      const ce = Math.min(end, h.chainOff + 4 * chainCount(t));
      for (let x = Math.max(pos, h.chainOff); x < ce; ) {
        const cAt = h.chainOff + 4 * Math.floor((x - h.chainOff) / 4);
        if (chainFor !== cAt) {
          const i = h.symoffset + (cAt - h.chainOff) / 4;
          const at = oldChainAt(t, i);
          const e = at >= 0 ? oldEntry(at, 4) : undefined;
          const v = chainValue(e ? u32(e instanceof Uint8Array ? e : await e, 0) : undefined, starts.last(i));
          put32le(chainPred, 0, v);
          chainFor = cAt;
        }
        const stop = Math.min(ce, cAt + 4);
        for (let q = x; q < stop; q++) b[q - pos] = (b[q - pos]! + chainPred[q - cAt]!) & 0xff;
        x = stop;
      }
    }
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
            const e = oldEntry(t.oldOff + j * ENTRY, ENTRY);
            predictEntry(t, c, e instanceof Uint8Array ? e : await e, 0, pred, 0);
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
