// The little of an ELF64 x86-64 file the reference predictor needs: its loadable segments (file
// offset ↔ virtual address, which are executable). Parsed from the file's first bytes only, so the
// applier reads one small block. Anything unexpected (not ELF64 little-endian x86-64, a program
// header table outside those bytes, a segment past the end of the file) means "not ELF": the
// delta then takes the generic path, never an error.

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
}

function u64(dv: DataView, at: number): number {
  const hi = dv.getUint32(at + 4, true);
  // Beyond 2^53 the value is useless to us anyway; keep it out of range instead of imprecise.
  return hi >= 1 << 21 ? Number.MAX_SAFE_INTEGER : hi * 2 ** 32 + dv.getUint32(at, true);
}

/** The layout of an ELF64 x86-64 file whose first bytes are `head` and whose size is `fileSize`, or undefined. */
export function elfLayout(head: Uint8Array, fileSize: number): ElfLayout | undefined {
  if (head.length < 64 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) return undefined;
  if (head[4] !== 2 || head[5] !== 1) return undefined; // ELFCLASS64, little-endian
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (dv.getUint16(18, true) !== EM_X86_64) return undefined;
  const phoff = u64(dv, 0x20);
  const phentsize = dv.getUint16(0x36, true);
  const phnum = dv.getUint16(0x38, true);
  if (phentsize !== PHENT || phnum === 0 || phnum > MAX_PHNUM || phoff + phnum * PHENT > head.length) return undefined;
  const loads: Segment[] = [];
  let ehFrameHdr: ElfLayout['ehFrameHdr'];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * PHENT;
    const type = dv.getUint32(at, true);
    if (type === PT_GNU_EH_FRAME) {
      const eh = { off: u64(dv, at + 8), va: u64(dv, at + 16), size: u64(dv, at + 32) };
      if (eh.off + eh.size <= fileSize && eh.size >= 12) ehFrameHdr = eh;
    }
    if (type !== PT_LOAD) continue;
    const off = u64(dv, at + 8);
    const va = u64(dv, at + 16);
    const size = u64(dv, at + 32);
    if (size === 0) continue;
    if (off + size > fileSize || va + size > Number.MAX_SAFE_INTEGER) return undefined;
    loads.push({ off, va, size, exec: (dv.getUint32(at + 4, true) & PF_X) !== 0 });
  }
  if (!loads.length) return undefined;
  const exec: ElfLayout['exec'] = [];
  for (const s of loads.filter((l) => l.exec).sort((a, b) => a.off - b.off)) {
    const last = exec[exec.length - 1];
    if (last && s.off <= last.end) last.end = Math.max(last.end, s.off + s.size);
    else exec.push({ start: s.off, end: s.off + s.size });
  }
  return ehFrameHdr ? { loads, exec, ehFrameHdr } : { loads, exec };
}

/** File offset of virtual address `va`, or −1 when no segment holds it. */
export function offsetOf(l: ElfLayout, va: number): number {
  for (const s of l.loads) if (va >= s.va && va < s.va + s.size) return va - s.va + s.off;
  return -1;
}

/** virtual address − file offset at file offset `off` (its segment's), or undefined. */
export function biasAt(l: ElfLayout, off: number): number | undefined {
  for (const s of l.loads) if (off >= s.off && off < s.off + s.size) return s.va - s.off;
  return undefined;
}

export function inExec(l: ElfLayout, off: number): boolean {
  for (const r of l.exec) if (off >= r.start && off < r.end) return true;
  return false;
}

/** Whether virtual address `va` lies in an executable segment. */
export function execAddress(l: ElfLayout, va: number): boolean {
  for (const s of l.loads) if (s.exec && va >= s.va && va < s.va + s.size) return true;
  return false;
}
