// The little of an ELF64 x86-64 file the reference predictor needs: its loadable segments (file
// offset ↔ virtual address, which are executable). Parsed from the file's first bytes only, so the
// applier reads one small block. Anything unexpected (not ELF64 little-endian x86-64, a program
// header table outside those bytes, a segment past the end of the file) means "not ELF": the
// delta then takes the generic path, never an error.

import { u16le as u16, u32le as u32, u64le as u64 } from '../bytes.js';

/** Bytes read from the start of an old file to find its program headers. */
export const HEAD_BYTES = 64 << 10;
const EM_X86_64 = 62;
const PT_LOAD = 1;
const PT_GNU_EH_FRAME = 0x6474e550;
const PF_X = 1;
const PHENT = 56;
const MAX_PHNUM = 256;

export interface Segment {
  /** File offset, virtual address and file size. */
  off: number;
  va: number;
  size: number;
  exec: boolean;
}

export interface ElfLayout {
  /** PT_LOAD segments with file bytes, in program-header order. */
  loads: Segment[];
  /** Executable file ranges, sorted and disjoint: where instructions are scanned. */
  exec: Array<{ start: number; end: number }>;
  /** The .eh_frame_hdr segment (PT_GNU_EH_FRAME), which points at .eh_frame. */
  ehFrameHdr?: { off: number; va: number; size: number };
  /** Address ranges of PT_LOADs past their file bytes (p_memsz > p_filesz: .bss), in program-header order. */
  bss?: Array<{ start: number; end: number }>;
}


/** The layout of an ELF64 x86-64 file whose first bytes are `head` and whose size is `fileSize`, or undefined. */
export function elfLayout(head: Uint8Array, fileSize: number): ElfLayout | undefined {
  if (head.length < 64 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) return undefined;
  if (head[4] !== 2 || head[5] !== 1) return undefined; // ELFCLASS64, little-endian
  if (u16(head, 18) !== EM_X86_64) return undefined;
  const phoff = u64(head, 0x20);
  const phentsize = u16(head, 0x36);
  const phnum = u16(head, 0x38);
  if (phentsize !== PHENT || phnum === 0 || phnum > MAX_PHNUM || phoff + phnum * PHENT > head.length) return undefined;
  const loads: Segment[] = [];
  const bss: Array<{ start: number; end: number }> = [];
  let ehFrameHdr: ElfLayout['ehFrameHdr'];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * PHENT;
    const type = u32(head, at);
    if (type === PT_GNU_EH_FRAME) {
      const eh = { off: u64(head, at + 8), va: u64(head, at + 16), size: u64(head, at + 32) };
      if (eh.off + eh.size <= fileSize && eh.size >= 12) ehFrameHdr = eh;
    }
    if (type !== PT_LOAD) continue;
    const off = u64(head, at + 8);
    const va = u64(head, at + 16);
    const size = u64(head, at + 32);
    if (size === 0) continue;
    if (off + size > fileSize || va + size > Number.MAX_SAFE_INTEGER) return undefined;
    loads.push({ off, va, size, exec: (u32(head, at + 4) & PF_X) !== 0 });
    const memsz = u64(head, at + 40);
    if (memsz > size && va + memsz <= Number.MAX_SAFE_INTEGER) bss.push({ start: va + size, end: va + memsz });
  }
  if (!loads.length) return undefined;
  const exec: ElfLayout['exec'] = [];
  for (const s of loads.filter((l) => l.exec).sort((a, b) => a.off - b.off)) {
    const last = exec[exec.length - 1];
    if (last && s.off <= last.end) last.end = Math.max(last.end, s.off + s.size);
    else exec.push({ start: s.off, end: s.off + s.size });
  }
  const l: ElfLayout = ehFrameHdr ? { loads, exec, ehFrameHdr } : { loads, exec };
  if (bss.length) l.bss = bss;
  return l;
}

// Indexed loops in these helpers: the applier asks offsetOf once per predicted symbol entry, and a
// for-of's iterator was an allocation per call in V8's lower tiers.
/** File offset of virtual address `va`, or −1 when no segment holds it. */
export function offsetOf(l: ElfLayout, va: number): number {
  for (let i = 0; i < l.loads.length; i++) {
    const s = l.loads[i]!;
    if (va >= s.va && va < s.va + s.size) return va - s.va + s.off;
  }
  return -1;
}

/** virtual address − file offset at file offset `off` (its segment's), or undefined. */
export function biasAt(l: ElfLayout, off: number): number | undefined {
  for (let i = 0; i < l.loads.length; i++) {
    const s = l.loads[i]!;
    if (off >= s.off && off < s.off + s.size) return s.va - s.off;
  }
  return undefined;
}

export function inExec(l: ElfLayout, off: number): boolean {
  for (let i = 0; i < l.exec.length; i++) if (off >= l.exec[i]!.start && off < l.exec[i]!.end) return true;
  return false;
}

/** Whether virtual address `va` lies in an executable segment. */
export function execAddress(l: ElfLayout, va: number): boolean {
  for (let i = 0; i < l.loads.length; i++) {
    const s = l.loads[i]!;
    if (s.exec && va >= s.va && va < s.va + s.size) return true;
  }
  return false;
}

/** The last index k of ascending `sorted` with sorted[k] <= x (−1 when x is below them all). */
export function lastAtOrBelow(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let k = -1;
  while (lo <= hi) {
    const m = (lo + hi) >> 1;
    if (sorted[m]! <= x) {
      k = m;
      lo = m + 1;
    } else hi = m - 1;
  }
  return k;
}

/** Which interval between ascending cuts holds a point, the last one looked up kept. */
class Intervals {
  private lo = 0;
  private hi = 0;
  private at = 0;
  constructor(private readonly cuts: Float64Array) {}

  /** The interval [cuts[k], cuts[k + 1]) holding x, −1 before the first cut, at or after the last, or for NaN. */
  index(x: number): number {
    if (x >= this.lo && x < this.hi) return this.at;
    const k = lastAtOrBelow(this.cuts, x);
    // before the first cut or at/after the last, no segment: an empty interval, never cached
    if (k < 0 || k === this.cuts.length - 1 || x !== x) return -1;
    this.lo = this.cuts[k]!;
    this.hi = this.cuts[k + 1]!;
    this.at = k;
    return k;
  }
}

/**
 * offsetOf, biasAt, execAddress and inExec answered from the intervals between segment bounds
 * (inside one, which segments hold a point does not change), the last interval looked up kept:
 * the scanner asks for every candidate site, and the loops over segment objects were most of
 * its time (node binary: 1.4 s of scanning). The same answers as the functions above, with NaN
 * for biasAt's undefined (arithmetic on either gives NaN).
 */
export class SegmentIndex {
  /** file-offset space: interval starts, and per interval the bias (NaN: none) and whether executable */
  private readonly offCuts: Float64Array;
  private readonly bias: Float64Array;
  private readonly exec: Uint8Array;
  /** address space: interval starts, and per interval file offset − address (NaN: none) and whether executable */
  private readonly vaCuts: Float64Array;
  private readonly shift: Float64Array;
  private readonly execVa: Uint8Array;
  private readonly offIntervals: Intervals;
  private readonly vaIntervals: Intervals;
  /** Below vaStart and from vaEnd on, no segment's file bytes and no .bss: offsetOf is −1 and inBss false. */
  readonly vaStart: number;
  readonly vaEnd: number;

  constructor(private readonly layout: ElfLayout) {
    const cuts = (points: number[]) => Float64Array.from(new Set(points)).sort();
    this.offCuts = cuts(layout.loads.flatMap((s) => [s.off, s.off + s.size]));
    this.bias = Float64Array.from(this.offCuts, (c) => biasAt(layout, c) ?? NaN);
    this.exec = Uint8Array.from(this.offCuts, (c) => (inExec(layout, c) ? 1 : 0));
    this.vaCuts = cuts(layout.loads.flatMap((s) => [s.va, s.va + s.size]));
    this.shift = Float64Array.from(this.vaCuts, (c) => {
      const o = offsetOf(layout, c);
      return o < 0 ? NaN : o - c;
    });
    this.execVa = Uint8Array.from(this.vaCuts, (c) => (execAddress(layout, c) ? 1 : 0));
    this.offIntervals = new Intervals(this.offCuts);
    this.vaIntervals = new Intervals(this.vaCuts);
    this.vaStart = Math.min(...layout.loads.map((s) => s.va));
    this.vaEnd = Math.max(...layout.loads.map((s) => s.va + s.size), ...(layout.bss ?? []).map((r) => r.end));
  }

  private offIndex(off: number): number {
    return this.offIntervals.index(off);
  }

  private vaIndex(va: number): number {
    return this.vaIntervals.index(va);
  }

  /** biasAt(off), NaN for undefined. */
  biasAt(off: number): number {
    const k = this.offIndex(off);
    return k < 0 ? NaN : this.bias[k]!;
  }

  inExec(off: number): boolean {
    const k = this.offIndex(off);
    return k >= 0 && this.exec[k] === 1;
  }

  offsetOf(va: number): number {
    const k = this.vaIndex(va);
    if (k < 0) return -1;
    const s = this.shift[k]!;
    return s !== s ? -1 : va + s;
  }

  execAddress(va: number): boolean {
    const k = this.vaIndex(va);
    return k >= 0 && this.execVa[k] === 1;
  }

  /** Whether `va` lies past a PT_LOAD's file bytes, in its memory (.bss). */
  inBss(va: number): boolean {
    const b = this.layout.bss;
    if (b) for (let i = 0; i < b.length; i++) if (va >= b[i]!.start && va < b[i]!.end) return true;
    return false;
  }

  get elf(): ElfLayout {
    return this.layout;
  }
}
