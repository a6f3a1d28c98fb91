// Reference prediction for x86-64 ELF deltas (docs/patch-format.md, "x86-64 reference prediction").
// A recompiled executable keeps most of its code but moves it, so every call, jump, RIP-relative
// operand and stored pointer to moved code or data changes, and a plain bsdiff difference carries
// them all. Here the old file's references are found (a heuristic scan of its executable segments
// for rel32/disp32/imm32 operands, and 8-aligned 64-bit pointers everywhere else), their targets
// are carried to new addresses through the delta's own alignment (the bsdiff add regions: old
// range ↔ new range), and the old bytes are rewritten with the predicted values before the
// difference is taken. The applier recomputes exactly the same rewrite from the old file and the
// control triples it already has, so the patch carries nothing extra. A wrong guess (a byte
// pattern that was no reference) only costs difference bytes; it never breaks the round trip,
// because both sides compute the same prediction.
import { copyBytes, i32le as i32, u32le as u32, type ByteSource } from '../bytes.js';
import { biasAt, execAddress, offsetOf, SegmentIndex, type ElfLayout } from './layout.js';

/** Add regions at least this long define the address map (shorter ones are often chance matches far away: measured, 16 B gave a third of the saving of 128 B on the node binary). */
export const MAP_MIN_LEN = 128;
/** Regions tried before the one found by binary search, for the longest one covering an address. */
const MAP_LOOKBACK = 16;
/** AddressMap's bucket of old offsets (node's 110 MB: 27k buckets, ~2 regions each). */
const MAP_BUCKET = 4096;
/** Absolute 32/64-bit values below this are taken as numbers, not addresses. */
const MIN_ADDRESS = 1 << 16;
/** Lookahead the scanner needs past a position (longest pattern: opcode, ModRM, SIB, disp32). */
export const SCAN_REACH = 8;

/**
 * Site kinds. REL: a 32-bit displacement relative to the end of the instruction (`imm` bytes after
 * the operand); SELF: relative to the field itself (.eh_frame's pcrel pc_begin); ABS32: an address.
 */
const REL0 = 1;
const REL1 = 2;
const REL4 = 3;
const ABS32 = 4;
const SELF = 5;
/** An .eh_frame FDE's CIE pointer: the distance from the field back to its CIE (format 7). */
const CIE = 6;
/** For each relative kind: bytes from the site to the address its displacement counts from. */
const relEnd = [0, 4, 5, 8, 0, 0, 0];
/** .eh_frame records followed at most (the node binary has 91k). */
const MAX_EH_RECORDS = 1 << 22;

/** One-byte opcodes taking ModRM with no immediate (mov, lea, ALU ops, test, xchg, movsxd, group 5). */
const MODRM_OPS = new Set([0x01, 0x03, 0x09, 0x0b, 0x11, 0x13, 0x19, 0x1b, 0x21, 0x23, 0x29, 0x2b, 0x31, 0x33, 0x39, 0x3b, 0x63, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8d, 0xff]);
/** Two-byte (0F xx) opcodes taking ModRM with no immediate: SSE moves and arithmetic, movzx/movsx, cmov, imul. */
const MODRM_0F_OPS = new Set([
  0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x1f, 0x28, 0x29, 0x2a, 0x2c, 0x2d, 0x2e, 0x2f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b,
  0x4c, 0x4d, 0x4e, 0x4f, 0x51, 0x54, 0x57, 0x58, 0x59, 0x5a, 0x5c, 0x5d, 0x5e, 0x5f, 0x6e, 0x6f, 0x74, 0x75, 0x76, 0x7e, 0x7f, 0xaf, 0xb1, 0xb6, 0xb7, 0xbe, 0xbf, 0xc1,
  0xc6, 0xd4, 0xd6, 0xdb, 0xeb, 0xef, 0xfa, 0xfb, 0xfe,
]);

function put32(out: Uint8Array, outStart: number, a: number, b: number, s: number, v: number): void {
  for (let j = 0; j < 4; j++) if (s + j >= a && s + j < b) out[s + j - outStart] = (v >>> (8 * j)) & 0xff;
}

/** What the scan looks for beyond the sites of formats 3–6. */
export interface SiteOptions {
  /** .eh_frame FDEs' CIE pointers (format 7). */
  ciePointers: boolean;
  /** RIP-relative, absolute and 64-bit references into .bss (format 7; the patch carries .bss's move). */
  bss: boolean;
}

/** The sites of the newest format. */
export const ALL_SITES: SiteOptions = { ciePointers: true, bss: true };
/** The sites of formats 3 to 6. */
export const FORMAT6_SITES: SiteOptions = { ciePointers: false, bss: false };

/** Bits of a site's entry that hold its distance from the site before it; the low 3 hold its kind. */
const GAP_BITS = 13;
const GAP_LIMIT = 1 << GAP_BITS;
/** Entries between the positions Sites keeps for seeking (a seek walks half of them on average). */
const CHECK = 32;

/**
 * Reference sites, sorted by file offset, in 2 bytes each: per site its distance from the one
 * before (or from 0) and its kind; a distance of GAP_LIMIT or more is carried by entries of kind
 * 0 first, each adding its field × GAP_LIMIT. The node binary has 1.57M sites: as an Int32Array of
 * offsets and a Uint8Array of kinds they held 7.8 MB of the apply's peak, and their doubling
 * growth as much again of garbage while they were scanned.
 */
export class Sites {
  /** The entries (read by SiteCursor) and how many are used. */
  entries = new Uint16Array(1 << 12);
  length = 0;
  /** Position before entry CHECK × j, for j up to the last entry (read by SiteCursor). */
  checks = new Int32Array(1 << 7);
  count = 0;
  /** The position the entries so far add up to: the last site's, in order. */
  private at = 0;
  /** Sites found out of order (at or before the last one), as offset × 8 + kind; sorted in by finish(). */
  private late: number[] = [];

  add(p: number, k: number): void {
    if (this.length > 0 && p <= this.at) this.late.push(p * 8 + k);
    else this.push(p, k);
    this.count++;
  }

  /**
   * Appends entries another Sites made (a scan on another thread hands them over as it goes: its
   * `entries` from `length` on), all after the sites held; `sites`: how many sites they hold.
   */
  append(entries: Uint16Array, sites: number): void {
    // copied whole and walked once for the checkpoints: an entry() call per entry took 40-140 ms
    // of runtime-update's main thread (1.57M entries, CPU profiles)
    const length = this.length + entries.length;
    this.reserve(length);
    this.entries.set(entries, this.length);
    const checks = this.checks;
    let at = this.at;
    for (let i = this.length, j = 0; i < length; i++, j++) {
      if (i % CHECK === 0) checks[i / CHECK] = at;
      const v = entries[j]!;
      at += v & 7 ? v >> 3 : (v >> 3) * GAP_LIMIT;
    }
    this.length = length;
    this.at = at;
    this.count += sites;
  }

  /**
   * The entries held, handed over and forgotten here (the position they add up to is kept, so the
   * next entries go on from it): a scan that posts its sites to another thread as it goes
   * (io/delta/scan-worker.ts) then holds only those found since its last post, not a second copy
   * of them all (the node binary's 3.1 MB in a 4 MiB array, while the applier's copy grows). Such
   * a Sites is a writer only: no cursor reads it.
   */
  takeEntries(): Uint16Array {
    const taken = this.entries.slice(0, this.length);
    this.length = 0;
    return taken;
  }

  private push(p: number, k: number): void {
    for (let gap = p - this.at; ; ) {
      if (gap < GAP_LIMIT) {
        this.entry(gap, k);
        return;
      }
      const skip = Math.min(Math.floor(gap / GAP_LIMIT), GAP_LIMIT - 1);
      this.entry(skip * GAP_LIMIT, 0);
      gap -= skip * GAP_LIMIT;
    }
  }

  /** Room for `length` entries and their checkpoints, each array doubled until it holds them. */
  private reserve(length: number): void {
    let cap = this.entries.length;
    while (cap < length) cap *= 2;
    if (cap > this.entries.length) {
      const e = new Uint16Array(cap);
      e.set(this.entries.subarray(0, this.length));
      this.entries = e;
    }
    let checksCap = this.checks.length;
    while (checksCap * CHECK < length) checksCap *= 2;
    if (checksCap > this.checks.length) {
      const c = new Int32Array(checksCap);
      c.set(this.checks);
      this.checks = c;
    }
  }

  /** Appends an entry that moves `d` on (a multiple of GAP_LIMIT when `k` is 0) to a site of kind `k`. */
  private entry(d: number, k: number): void {
    if (this.length === this.entries.length) this.reserve(this.length + 1);
    if (this.length % CHECK === 0) {
      const j = this.length / CHECK;
      if (j === this.checks.length) this.reserve(this.length + 1);
      this.checks[j] = this.at;
    }
    this.entries[this.length++] = ((k ? d : d / GAP_LIMIT) << 3) | k;
    this.at += d;
  }

  /**
   * Puts the sites in offset order: as added if each came after the one before (the .eh_frame's
   * are found after the code's), else sorted by offset, then kind.
   */
  finish(): void {
    if (this.late.length === 0) return;
    const late = this.late.sort((x, y) => x - y);
    const all = new Sites();
    const c = new SiteCursor(this);
    c.seek(0);
    for (let k = 0; k < late.length || c.pos < PAST; ) {
      const key = c.pos * 8 + c.kind;
      if (k < late.length && late[k]! < key) {
        all.push(Math.floor(late[k]! / 8), late[k]! % 8);
        k++;
      } else {
        all.push(c.pos, c.kind);
        c.next();
      }
    }
    this.entries = all.entries;
    this.length = all.length;
    this.checks = all.checks;
    this.at = all.at;
    this.late = [];
  }
}

/**
 * A SiteCursor's pos past the last site: above every offset of a predicted file (below 2^30), and a
 * small integer to V8, as Infinity is not. With Infinity, pos was a double field, and every site's
 * offset a heap number where the predictor handed it to a call (~25 MB of runtime-update's apply).
 */
export const PAST = 2 ** 31 - 1;

/** Walks Sites in offset order: `pos` and `kind` of the site it is at (pos PAST: past the last). */
export class SiteCursor {
  pos = PAST;
  kind = 0;
  /** the entry after the current site's */
  private e = 0;
  constructor(private readonly sites: Sites) {}

  /** To the first site at or after `p`. */
  seek(p: number): void {
    const { checks, length } = this.sites;
    // the last checkpoint before p: every site before it lies before p
    let lo = 0;
    let hi = Math.ceil(length / CHECK) - 1;
    while (lo < hi) {
      const m = (lo + hi + 1) >> 1;
      if (checks[m]! < p) lo = m;
      else hi = m - 1;
    }
    this.e = lo * CHECK;
    this.pos = length > 0 ? checks[lo]! : 0;
    do this.next();
    while (this.pos < p);
  }

  /** To the site after this one. */
  next(): void {
    const { entries, length } = this.sites;
    let e = this.e;
    let pos = this.pos;
    while (e < length) {
      const v = entries[e++]!;
      const kind = v & 7;
      if (kind === 0) {
        pos += (v >> 3) * GAP_LIMIT;
        continue;
      }
      this.e = e;
      this.pos = pos + (v >> 3);
      this.kind = kind;
      return;
    }
    this.e = e;
    this.pos = PAST;
  }
}

/**
 * Scans the old file's executable ranges for reference sites, chunk by chunk (the applier reads
 * the file; the builder has it in memory). `read(offset, length)` returns old bytes.
 * The scan is a greedy left-to-right pass: after a site its operand is skipped.
 * `progress(sites, frontier)`, after each chunk: every site below `frontier` is in `sites`, in offset
 * order (only where the sites come in that order: code ranges, then .eh_frame after them; the node
 * binary's), so that an applier may predict the old file's start while the scan goes on elsewhere.
 */
export async function scanSites(l: ElfLayout, fileSize: number, read: (offset: number, length: number) => Promise<Uint8Array>, chunk = 1 << 20, opts: SiteOptions = ALL_SITES, progress?: (sites: Sites, frontier: number) => void): Promise<Sites> {
  const sites = new Sites();
  const seg = new SegmentIndex(l);
  const eh = await ehFrameStart(l, read);
  const codeEnd = l.exec.length ? l.exec[l.exec.length - 1]!.end : 0;
  const report = progress && (!eh || eh.start >= codeEnd) ? (frontier: number) => progress(sites, frontier) : undefined;
  // no site lies before the first code range
  if (l.exec.length) report?.(l.exec[0]!.start);
  for (const r of l.exec) {
    const end = Math.min(r.end, fileSize) - SCAN_REACH;
    let i = r.start;
    while (i < end) {
      // one byte before (the 0F of two-byte opcodes), SCAN_REACH after
      const from = Math.max(0, i - 1);
      const to = Math.min(end, i + chunk);
      const buf = await read(from, to + SCAN_REACH - from);
      i = scanRange(seg, buf, from, i, to, sites, opts.bss);
      report?.(i);
    }
  }
  if (eh) {
    let pos = eh.start;
    report?.(pos);
    for (let records = 0; pos >= 0 && records < MAX_EH_RECORDS; ) {
      const n = Math.min(chunk, eh.end - pos);
      if (n < 8) break;
      const step = walkEhFrame(l, await read(pos, n), pos, pos, eh.end, sites, MAX_EH_RECORDS - records, opts, eh.start);
      records += step.records;
      pos = step.next;
      if (pos >= 0) report?.(pos);
    }
  }
  sites.finish();
  return sites;
}

/**
 * Starts scanning old file bytes src[offset, offset + length) (laid out as `layout`) for reference
 * sites elsewhere (another thread), feeding `feed`; false where it cannot (the caller scans itself).
 */
export type SiteScanner = (src: ByteSource, offset: number, length: number, layout: ElfLayout, opts: SiteOptions, feed: SiteFeed) => boolean;

/** The old file ranges a scan (scanSites) can put sites in: its code ranges, and .eh_frame's (to its segment's end). */
export async function siteRanges(l: ElfLayout, read: (offset: number, length: number) => Promise<Uint8Array>): Promise<Array<{ start: number; end: number }>> {
  const eh = await ehFrameStart(l, read);
  return eh ? [...l.exec, eh] : [...l.exec];
}

/**
 * Reference sites as a scan elsewhere (another thread) finds them: every site below `frontier` is
 * held, in offset order. The predictor reads `sites` and waits (need) where the frontier is not yet.
 * `ranges` (siteRanges): where the scan can put sites; elsewhere none are missing at any frontier
 * (runtime-update's delta takes bytes of the new .dynsym from old .rodata, after the code: waiting
 * there for the code's scan held the predictor 0.2-1.3 s).
 */
export class SiteFeed {
  readonly sites = new Sites();
  private frontier = 0;
  private error: Error | undefined;
  private wake: { from: number; to: number; resolve(): void; reject(e: Error): void } | undefined;
  constructor(private readonly ranges: ReadonlyArray<{ start: number; end: number }>) {}
  /** The scan's entries since the last push (Sites.append), and how far the sites are known now. */
  push(entries: Uint16Array, sites: number, frontier: number): void {
    this.sites.append(entries, sites);
    this.frontier = Math.max(this.frontier, frontier);
    this.poke();
  }
  /** The rest of the entries (the scan is over). */
  end(entries: Uint16Array, sites: number): void {
    this.sites.append(entries, sites);
    this.frontier = PAST;
    this.poke();
  }
  fail(e: Error): void {
    this.error ??= e;
    this.poke();
  }
  /** Resolves once every site in [from, to) is held (undefined: already). */
  need(from: number, to: number): Promise<void> | undefined {
    if (this.error) return Promise.reject(this.error);
    if (this.held(from, to)) return undefined;
    return new Promise<void>((resolve, reject) => {
      this.wake = { from, to, resolve, reject };
    });
  }
  /** No site in [from, to) is still to come: the frontier is past it, or no scanned range lies in it past the frontier. */
  private held(from: number, to: number): boolean {
    if (to <= this.frontier) return true;
    const at = Math.max(from, this.frontier);
    for (let i = 0; i < this.ranges.length; i++) if (this.ranges[i]!.start < to && this.ranges[i]!.end > at) return false;
    return true;
  }
  private poke(): void {
    const w = this.wake;
    if (!w) return;
    if (this.error) w.reject(this.error);
    else if (this.held(w.from, w.to)) w.resolve();
    else return;
    this.wake = undefined;
  }
}

/** Where .eh_frame starts (from .eh_frame_hdr's pcrel sdata4 pointer) and the end of its segment. */
async function ehFrameStart(l: ElfLayout, read: (offset: number, length: number) => Promise<Uint8Array>): Promise<{ start: number; end: number } | undefined> {
  const h = l.ehFrameHdr;
  if (!h) return undefined;
  const b = await read(h.off, 8);
  if (b[0] !== 1 || b[1] !== 0x1b) return undefined;
  const start = offsetOf(l, h.va + 4 + i32(b, 4));
  const seg = l.loads.find((s) => start >= s.off && start < s.off + s.size);
  return seg ? { start, end: seg.off + seg.size } : undefined;
}

/**
 * Follows .eh_frame records (u32 length, u32 CIE id or pointer; an FDE's pc_begin next) in buf,
 * from `pos` up to `end`, adding each FDE's pc_begin as a SELF site when it points into code, and
 * (opts.ciePointers) its CIE pointer as a CIE site when it points back into .eh_frame (from
 * `ehStart` on): a recompile inserts and drops FDEs between an FDE and its CIE, which changes
 * nearly every pointer (180k of the node binary's 192k nonzero .eh_frame difference bytes).
 * Returns the next record's offset (−1 at the terminator or a record it cannot follow) and the
 * records followed; it stops early where a record's first 12 bytes are not in buf.
 */
function walkEhFrame(l: ElfLayout, buf: Uint8Array, bufStart: number, pos: number, end: number, sites: Sites, maxRecords: number, opts: SiteOptions, ehStart: number): { next: number; records: number } {
  let records = 0;
  const bufEnd = bufStart + buf.length;
  while (records < maxRecords) {
    if (pos + 12 > Math.min(end, bufEnd)) return { next: pos + 12 > end ? -1 : pos, records };
    const len = u32(buf, pos - bufStart);
    if (len === 0 || len === 0xffffffff || pos + 4 + len > end) return { next: -1, records };
    const s = pos + 8;
    const cie = u32(buf, pos + 4 - bufStart);
    if (cie !== 0 && opts.ciePointers && pos + 4 - cie >= ehStart) sites.add(pos + 4, CIE);
    if (cie !== 0 && len >= 8 && execAddress(l, biasAt(l, s)! + s + i32(buf, s - bufStart))) sites.add(s, SELF);
    pos += 4 + len;
    records++;
  }
  return { next: -1, records };
}

/** As scanSites, over a file held in memory (the builder's); the same sites. */
export function scanSitesSync(l: ElfLayout, old: Uint8Array, opts: SiteOptions = ALL_SITES): Sites {
  const sites = new Sites();
  const seg = new SegmentIndex(l);
  for (const r of l.exec) {
    const end = Math.min(r.end, old.length) - SCAN_REACH;
    if (r.start < end) scanRange(seg, old, 0, r.start, end, sites, opts.bss);
  }
  const h = l.ehFrameHdr;
  if (h && old[h.off] === 1 && old[h.off + 1] === 0x1b) {
    const start = offsetOf(l, h.va + 4 + i32(old, h.off + 4));
    const seg = l.loads.find((s) => start >= s.off && start < s.off + s.size);
    if (seg) walkEhFrame(l, old, 0, start, seg.off + seg.size, sites, MAX_EH_RECORDS, opts, start);
  }
  sites.finish();
  return sites;
}

/** Per one-byte opcode, what the scanner may find at it (bits below); 0: nothing starts there. */
const OPS = new Uint8Array(256);
const BRANCH = 1; // E8/E9 rel32, or 0F (jcc rel32, two-byte opcodes)
const MODRM = 2; // MODRM_OPS
const MODRM_0F = 4; // MODRM_0F_OPS (after 0F)
const IMM1 = 8; // 80, 83, C6: ModRM and a one-byte immediate
const IMM4 = 16; // 81, C7: ModRM and a four-byte immediate
const ABS = 32; // B8-BF, 68: imm32
for (const op of [0xe8, 0xe9, 0x0f]) OPS[op]! |= BRANCH;
for (const op of MODRM_OPS) OPS[op]! |= MODRM;
for (const op of MODRM_0F_OPS) OPS[op]! |= MODRM_0F;
for (const op of [0x80, 0x83, 0xc6]) OPS[op]! |= IMM1;
for (const op of [0x81, 0xc7]) OPS[op]! |= IMM4;
for (let op = 0xb8; op <= 0xbf; op++) OPS[op]! |= ABS;
OPS[0x68]! |= ABS;

/**
 * Scans positions [i, to) of buf (which holds the file from `bufStart`); returns where the next
 * scan starts. Opcode sets are looked up in OPS and segments in a SegmentIndex: with Set lookups
 * and loops over the segments per byte this took 1.4 s over the node binary's code.
 */
function scanRange(seg: SegmentIndex, buf: Uint8Array, bufStart: number, i: number, to: number, sites: Sites, bss: boolean): number {
  while (i < to) {
    const p = i - bufStart;
    const op = buf[p]!;
    const f = OPS[op]!;
    if (f === 0) {
      i++;
      continue;
    }
    const m = buf[p + 1]!;
    // call/jmp rel32 (E8/E9), jcc rel32 (0F 80–8F): to code only
    if (f & BRANCH) {
      const s = op !== 0x0f ? i + 1 : (m & 0xf0) === 0x80 ? i + 2 : -1;
      if (s >= 0 && seg.execAddress(seg.biasAt(s) + s + 4 + i32(buf, s - bufStart))) {
        sites.add(s, REL0);
        i = s + 4;
        continue;
      }
    }
    // RIP-relative ModRM (mod 00, r/m 101): disp32, then an immediate of 0, 1 or 4 bytes
    if ((m & 0xc7) === 0x05) {
      const k = f & MODRM || (f & MODRM_0F && p > 0 && buf[p - 1] === 0x0f) ? REL0 : f & IMM1 ? REL1 : f & IMM4 ? REL4 : 0;
      const s = i + 2;
      const v = seg.biasAt(s) + s + relEnd[k]! + i32(buf, s - bufStart);
      if (k && (seg.offsetOf(v) >= 0 || (bss && seg.inBss(v)))) {
        sites.add(s, k);
        i = s + relEnd[k]!;
        continue;
      }
    }
    // absolute 32-bit addresses (non-PIE code): mov r32, imm32; push imm32; mov r/m, imm32 (register
    // form); disp32 of a SIB with no base (jump and lookup tables)
    let a = -1;
    if (f & ABS) a = i + 1;
    else if (op === 0xc7 && (m & 0xf8) === 0xc0) a = i + 2;
    else if (f & MODRM && (m & 0xc7) === 0x04 && (buf[p + 2]! & 7) === 5) a = i + 3;
    if (a >= 0) {
      const v = u32(buf, a - bufStart);
      if (v >= MIN_ADDRESS && (seg.offsetOf(v) >= 0 || (bss && seg.inBss(v)))) {
        sites.add(a, ABS32);
        i = a + 4;
        continue;
      }
    }
    i++;
  }
  return i;
}

/** Old file offset → new file offset, from the delta's long add regions. */
export class AddressMap {
  // Int32: the offsets of a predicted file are below X86_MAX_OLD (2^30), and int32 loads stay
  // small integers where float64 ones became heap numbers in map()'s callers.
  private readonly oldStart: Int32Array;
  private readonly newStart: Int32Array;
  private readonly len: Int32Array;
  /** `regions`: (new start, old start, length) triples, any order, each offset and end below 2^31. */
  constructor(newStarts: ArrayLike<number>, oldStarts: ArrayLike<number>, lens: ArrayLike<number>) {
    const idx: number[] = [];
    for (let i = 0; i < lens.length; i++) {
      if (lens[i]! < MAP_MIN_LEN) continue;
      if (!(Math.max(oldStarts[i]!, newStarts[i]!) + lens[i]! < 2 ** 31 && Math.min(oldStarts[i]!, newStarts[i]!) >= 0)) throw new RangeError('address map region out of range');
      idx.push(i);
    }
    idx.sort((x, y) => oldStarts[x]! - oldStarts[y]! || lens[y]! - lens[x]! || newStarts[x]! - newStarts[y]!);
    const n = idx.length;
    this.oldStart = new Int32Array(n);
    this.newStart = new Int32Array(n);
    this.len = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      this.oldStart[k] = oldStarts[idx[k]!]!;
      this.newStart[k] = newStarts[idx[k]!]!;
      this.len[k] = lens[idx[k]!]!;
    }
    // The applier asks once per predicted reference (node: millions), and the binary search and the
    // look back were ~0.15 s of runtime-update's apply: a bucket index narrows the search, and a
    // region no earlier region in reach overlaps is the answer for every t it is found for.
    this.first = new Int32Array(n > 0 ? Math.floor(this.oldStart[n - 1]! / MAP_BUCKET) + 2 : 1);
    for (let b = 0, k = -1; b < this.first.length; b++) {
      while (k + 1 < n && this.oldStart[k + 1]! <= b * MAP_BUCKET) k++;
      this.first[b] = k;
    }
    this.alone = new Uint8Array(n);
    for (let k = 0; k < n; k++) {
      let overlapped = false;
      for (let j = k - 1; j >= 0 && j > k - MAP_LOOKBACK && !overlapped; j--) overlapped = this.oldStart[j]! + this.len[j]! > this.oldStart[k]!;
      this.alone[k] = overlapped ? 0 : 1;
    }
  }
  /** Per MAP_BUCKET bytes of old offsets: the last region starting at or below the bucket's start (−1: none). */
  private readonly first: Int32Array;
  /** 1 where no region of the look back reaches past the region's start: the region then answers alone. */
  private readonly alone: Uint8Array;
  /** Where old offset t ≥ 0 went: the longest nearby region covering it, else the last region starting before it. */
  map(t: number): number {
    const { oldStart, newStart, len, first } = this;
    // lastAtOrBelow(oldStart, t), searched between the bucket's candidate and the next bucket's
    const b = Math.floor(t / MAP_BUCKET);
    let k = first[Math.min(b, first.length - 1)]!;
    for (let hi = b + 1 < first.length ? first[b + 1]! : oldStart.length - 1; k < hi; ) {
      const m = (k + hi + 1) >> 1;
      if (oldStart[m]! <= t) k = m;
      else hi = m - 1;
    }
    if (k < 0) return t;
    let r = k;
    if (this.alone[k] === 0) {
      let best = -1;
      for (let j = k; j >= 0 && j > k - MAP_LOOKBACK; j--) if (t < oldStart[j]! + len[j]! && (best < 0 || len[j]! > len[best]!)) best = j;
      if (best >= 0) r = best;
    }
    return t - oldStart[r]! + newStart[r]!;
  }
}

/** Predicts old bytes with their references moved the way the new file moved them. */
export class Predictor {
  private readonly seg: SegmentIndex;
  private readonly sites: SiteCursor;
  constructor(
    layout: ElfLayout,
    sites: Sites,
    private readonly addresses: AddressMap,
    /** How far .bss moved (format 7: references into it are predicted moved by as much), or undefined. */
    private readonly bssShift?: number,
  ) {
    this.seg = new SegmentIndex(layout);
    this.sites = new SiteCursor(sites);
  }

  /** The new address of old address v (NaN: not predicted): through the address map where it has file bytes, by bssShift in .bss. */
  private moved(v: number): number {
    const { seg } = this;
    const t = seg.offsetOf(v);
    if (t >= 0) return this.addresses.map(t) + (v - t); // assuming the target's segment keeps its bias
    return this.bssShift !== undefined && seg.inBss(v) ? v + this.bssShift : NaN;
  }

  /**
   * Writes the prediction of old[a, b) into `out` (which receives old[a, b) at index `at`), for the
   * add region old[regionStart, regionEnd) that lands `delta` bytes later in the new file. `buf`
   * holds old bytes from `bufStart` and covers [max(regionStart, a − 8), min(regionEnd, b + 8)),
   * so a site cut by the piece's ends is still read whole. Only sites wholly inside the region are rewritten.
   */
  predict(buf: Uint8Array, bufStart: number, a: number, b: number, regionStart: number, regionEnd: number, delta: number, out: Uint8Array, at = 0): void {
    copyBytes(out, at, buf, a - bufStart, b - a);
    const outStart = a - at;
    const { seg, sites, addresses } = this;
    // Values no segment holds are left before moved() is called: a u32 or a u64 past 2^31 handed to
    // a call is a heap number, and most of the 8-aligned words below are no pointers at all.
    const { vaStart, vaEnd } = seg;
    for (sites.seek(Math.max(regionStart, a - 3)); sites.pos < b; sites.next()) {
      const s = sites.pos;
      if (s + 4 > regionEnd) continue;
      const kind = sites.kind;
      if (kind === CIE) {
        // the field's new offset minus its CIE's (both in .eh_frame's segment: offsets, not addresses)
        const t = s - u32(buf, s - bufStart);
        if (t >= 0) put32(out, outStart, a, b, s, s + delta - addresses.map(t));
        continue;
      }
      const v = kind === ABS32 ? u32(buf, s - bufStart) : seg.biasAt(s) + s + relEnd[kind]! + i32(buf, s - bufStart);
      if (!(v >= vaStart && v < vaEnd)) continue; // moved(v) is NaN
      const nt = this.moved(v);
      if (nt !== nt) continue;
      put32(out, outStart, a, b, s, kind === ABS32 ? nt : nt - (seg.biasAt(s) + s + relEnd[kind]! + delta));
    }
    // 64-bit pointers (vtables, init arrays, GOT, symbol tables): 8-aligned values outside code
    for (let s = Math.ceil(Math.max(regionStart, a - 7) / 8) * 8; s < b && s + 8 <= regionEnd; s += 8) {
      // Read signed, which V8 keeps small integers in every tier: a u32 from 2^31 on, like
      // hi * 2^32 + lo even where hi is 0, is a heap number each in its lower tiers, and this loop
      // reads every aligned word of the data it predicts (hi < 0 here is a u32 hi from 2^31 on).
      const hi = i32(buf, s + 4 - bufStart);
      if (hi < 0 || hi >= 1 << 20) continue;
      const lo = i32(buf, s - bufStart);
      const v = hi === 0 && lo >= 0 ? lo : hi * 2 ** 32 + (lo >>> 0);
      if (v < MIN_ADDRESS || !(v >= vaStart && v < vaEnd) || seg.inExec(s)) continue;
      const nv = this.moved(v);
      if (nv !== nv) continue;
      const low = nv >= 0 && nv < 2 ** 32;
      put32(out, outStart, a, b, s, low ? nv : nv % 2 ** 32);
      put32(out, outStart, a, b, s + 4, low ? 0 : Math.floor(nv / 2 ** 32));
    }
  }
}
