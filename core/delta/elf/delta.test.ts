import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildPatch } from '../build.js';
import { archive, member } from '../../tar/testing.js';
import { memoryEnv, rng } from '../testing.js';
import { applyX86Delta, oldReadPlan, x86Differences } from './delta.js';
import { ehTable, restoreTable, withTableDifferences } from './ehtable.js';
import { elfLayout } from './layout.js';
import { ALL_SITES, FORMAT6_SITES, scanSites, scanSitesSync, Sites, type SiteScanner } from './references.js';
import { diffJob, takeResult } from '../differ.js';
import { diffBytes } from '../bsdiff.js';
import { SuffixMatcher } from '../matcher.js';
import { bufferSource, ByteWriter } from '../bytes.js';
import { chunked, collect, siteList } from '../testing.js';

/** A synthetic program: functions made of calls, RIP-relative leas, absolute movs and filler. */
interface Spec {
  functions: Array<Array<{ kind: 'call' | 'lea' | 'mov'; to: number } | { kind: 'fill'; bytes: number[] }>>;
  data: number;
}

function randomSpec(r: () => number, functions: number): Spec {
  const data = 20 + Math.floor(r() * 40);
  return {
    data,
    functions: Array.from({ length: functions }, () =>
      Array.from({ length: 2 + Math.floor(r() * 12) }, () => {
        const x = r();
        if (x < 0.5) return { kind: 'fill' as const, bytes: Array.from({ length: 1 + Math.floor(r() * 24) }, () => Math.floor(r() * 256)) };
        return { kind: x < 0.7 ? ('call' as const) : x < 0.85 ? ('lea' as const) : ('mov' as const), to: Math.floor(r() * (x < 0.7 ? functions : data)) };
      }),
    ),
  };
}

const CODE_OFF = 0x1000;
const BIAS = 0x400000;

/**
 * An ELF64 x86-64 file for `spec`: a code segment, then a data segment with a pointer table (one
 * 64-bit pointer per function) and data items. `grow[k]` filler bytes are inserted at the end of
 * function k, which moves everything after it, as a recompile does.
 */
function render(spec: Spec, grow: number[], opts: { table?: boolean; dummies?: number[]; bss?: boolean } = {}): Uint8Array {
  const size = (it: Spec['functions'][number][number]) => (it.kind === 'fill' ? it.bytes.length : it.kind === 'call' ? 5 : it.kind === 'lea' ? 7 : 5);
  const starts: number[] = [];
  let off = CODE_OFF;
  spec.functions.forEach((f, k) => {
    starts.push(off);
    off += (grow[k] ?? 0) + f.reduce((n, it) => n + size(it), 0);
  });
  const codeEnd = off;
  // with a table, the data lies past the applier's first 64 KiB (ehtable.ts predicts nothing before)
  const dataOff = Math.max(opts.table ? 0x10000 : 0, Math.ceil((codeEnd + 16) / 0x1000) * 0x1000);
  // .eh_frame_hdr (12 bytes, and its search table), .eh_frame (a CIE, one FDE per function, a terminator), pointers, items
  // (`dummies[k]` 16-byte FDEs of no code before function k's: records a recompile adds or drops)
  const hdrSize = opts.table ? 12 + 8 * spec.functions.length : 12;
  const ehOff = dataOff + Math.ceil((hdrSize + 4) / 8) * 8;
  const fdes: number[] = [];
  const dummies: number[] = [];
  let ehEnd = ehOff + 20;
  spec.functions.forEach((_, k) => {
    for (let d = 0; d < (opts.dummies?.[k] ?? 0); d++, ehEnd += 16) dummies.push(ehEnd);
    fdes.push(ehEnd);
    ehEnd += 24;
  });
  const tableOff = Math.ceil((ehEnd + 4) / 8) * 8;
  const itemsOff = tableOff + 8 * spec.functions.length;
  const total = itemsOff + 16 * spec.data;
  const b = new Uint8Array(total);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  dv.setUint16(16, 2, true);
  dv.setUint16(18, 62, true);
  dv.setBigUint64(0x20, 64n, true);
  dv.setUint16(0x36, 56, true);
  dv.setUint16(0x38, 3, true);
  const phdr = (i: number, flags: number, o: number, sz: number) => {
    const at = 64 + 56 * i;
    dv.setUint32(at, 1, true);
    dv.setUint32(at + 4, flags, true);
    dv.setBigUint64(at + 8, BigInt(o), true);
    dv.setBigUint64(at + 16, BigInt(o + BIAS), true);
    dv.setBigUint64(at + 32, BigInt(sz), true);
    dv.setBigUint64(at + 40, BigInt(sz), true);
  };
  phdr(0, 5, CODE_OFF, codeEnd - CODE_OFF);
  phdr(1, 6, dataOff, total - dataOff);
  // with .bss, 16 KiB of memory past the data's file bytes, where the movs point
  if (opts.bss) dv.setBigUint64(64 + 56 + 40, BigInt(total - dataOff + 0x4000), true);
  phdr(2, 4, dataOff, hdrSize);
  dv.setUint32(64 + 112, 0x6474e550, true); // PT_GNU_EH_FRAME
  b.set([1, 0x1b, 0x03, 0x3b], dataOff);
  dv.setInt32(dataOff + 4, ehOff - (dataOff + 4), true);
  dv.setUint32(ehOff, 16, true); // CIE: length, id 0, 12 bytes of body
  for (const d of dummies) {
    dv.setUint32(d, 12, true);
    dv.setUint32(d + 4, d + 4 - ehOff, true);
  }
  starts.forEach((st, k) => {
    const fde = fdes[k]!;
    dv.setUint32(fde, 20, true);
    dv.setUint32(fde + 4, fde + 4 - ehOff, true); // CIE pointer
    dv.setInt32(fde + 8, st - (fde + 8), true); // pc_begin, pcrel
    dv.setUint32(fde + 12, 40, true);
  });
  if (opts.table) {
    // fde_count, then (pc_begin, FDE) relative to the header, sorted by pc_begin
    dv.setUint32(dataOff + 8, spec.functions.length, true);
    starts.forEach((st, k) => {
      dv.setInt32(dataOff + 12 + 8 * k, st - dataOff, true);
      dv.setInt32(dataOff + 16 + 8 * k, fdes[k]! - dataOff, true);
    });
  }
  spec.functions.forEach((f, k) => {
    let p = starts[k]!;
    for (const it of f) {
      if (it.kind === 'fill') b.set(it.bytes, p);
      else if (it.kind === 'call') {
        b[p] = 0xe8;
        dv.setInt32(p + 1, starts[it.to]! - (p + 5), true);
      } else if (it.kind === 'lea') {
        b.set([0x48, 0x8d, 0x05], p);
        dv.setInt32(p + 3, itemsOff + 16 * it.to - (p + 7), true);
      } else {
        b[p] = 0xb8;
        dv.setUint32(p + 1, (opts.bss ? total + 64 * it.to : itemsOff + 16 * it.to) + BIAS, true);
      }
      p += size(it);
    }
    for (let g = 0; g < (grow[k] ?? 0); g++) b[p++] = 0x90;
  });
  starts.forEach((s, k) => dv.setBigUint64(tableOff + 8 * k, BigInt(s + BIAS), true));
  return b;
}

/** How many bytes each function of `spec` grows by in a new version: a fifth of them, by up to 39. */
const grownFunctions = (r: () => number, spec: Spec) => spec.functions.map(() => (r() < 0.2 ? Math.floor(r() * 40) : 0));

/** A random program and its new version with grown functions, their plain delta and its prediction. */
function movedPair(r: () => number) {
  const spec = randomSpec(r, 50 + Math.floor(r() * 300));
  const old = render(spec, []);
  const nw = render(spec, grownFunctions(r, spec));
  const plain = takeResult(diffBytes(old, nw, new SuffixMatcher(old)));
  return { old, nw, plain, p: x86Differences(old, nw, plain.ctrl)! };
}

/** Every byte literal (for the table's own tests). */
const all = (start: number, end: number): Array<[number, number]> => [[start, end]];
/** Difference bytes that are not zero (a run may carry a lone equal byte inline: bsdiff.ts RUN_BREAK). */
const nonzero = (diff: Uint8Array) => diff.reduce((n, b) => n + (b !== 0 ? 1 : 0), 0);

/** Applies runs/diff of a predicted delta with the control and literal streams of `plain`. */
async function applyPredicted(old: Uint8Array, nw: Uint8Array, plain: { ctrl: Uint8Array; extra: Uint8Array }, p: { ctrl?: Uint8Array; runs: Uint8Array; diff: Uint8Array; extra?: Uint8Array }, sites = ALL_SITES, scanner?: SiteScanner) {
  // a predicted delta's control ends with its symbol matches (format 6): none after plain triples
  const s = {
    ops: chunked(new Uint8Array(0), 'ops'),
    hdr: chunked(new Uint8Array(0), 'hdr'),
    ctrl: chunked(p === plain ? Uint8Array.from([...plain.ctrl, 0, ...(sites.bss ? [0] : [])]) : (p.ctrl ?? plain.ctrl), 'ctrl', 333),
    runs: chunked(p.runs, 'runs', 777),
    diff: chunked(p.diff, 'diff', 1001),
    lit: chunked(p.extra ?? plain.extra, 'lit', 555),
  };
  const rebuilt = await collect(applyX86Delta(s, bufferSource(old), 0, old.length, nw.length, true, true, sites, scanner));
  for (const r of [s.ctrl, s.runs, s.diff, s.lit]) expect(await r.atEnd()).toBe(true);
  return rebuilt;
}

describe('x86-64 reference prediction', () => {
  it('round-trips random ELF-like programs exactly, and predicts the moved references', async () => {
    const r = rng(11);
    let plainBytes = 0;
    let predictedBytes = 0;
    for (let trial = 0; trial < 12; trial++) {
      const { old, nw, plain, p } = movedPair(r);
      expect(Buffer.from(await applyPredicted(old, nw, plain, p)).equals(Buffer.from(nw))).toBe(true);
      expect(diffJob(old, nw).x86).toBe(true);
      plainBytes += plain.diff.length;
      predictedBytes += p.diff.length;
    }
    // With every reference moved, the plain delta pays a difference per shifted call and pointer.
    expect(predictedBytes).toBeLessThan(plainBytes / 3);
  });

  it('round-trips a program of several output blocks, predicted pieces across the blocks as across the old-byte cache blocks', async () => {
    // pieces are predicted straight into the 256 KiB output block where they fit, else aside and split
    const r = rng(29);
    const spec = randomSpec(r, 12_000);
    const old = render(spec, []);
    const nw = render(spec, grownFunctions(r, spec));
    expect(nw.length).toBeGreaterThan(3 * (256 << 10));
    const plain = takeResult(diffBytes(old, nw, new SuffixMatcher(old)));
    const p = x86Differences(old, nw, plain.ctrl)!;
    expect(Buffer.from(await applyPredicted(old, nw, plain, p)).equals(Buffer.from(nw))).toBe(true);
  });

  it('round-trips with the sites fed from a scan elsewhere, a chunk a turn late, as with them scanned in-thread', async () => {
    const r = rng(18);
    for (let trial = 0; trial < 6; trial++) {
      const { old, nw, plain, p } = movedPair(r);
      let fed = 0;
      // as io/delta/site-scanner.ts's worker does: each chunk's sites handed over, arriving a turn later
      const scanner: SiteScanner = (src, offset, oldLen, layout, opts, feed) => {
        const later = (f: () => void) => setTimeout(f, 1);
        let length = 0;
        let count = 0;
        const take = (sites: Sites) => {
          const t = { entries: sites.entries.slice(length, sites.length), sites: sites.count - count };
          length = sites.length;
          count = sites.count;
          return t;
        };
        void scanSites(layout, oldLen, (o, n) => src.read(offset + o, n), 101 + trial, opts, (sites, frontier) => {
          const t = take(sites);
          fed++;
          later(() => feed.push(t.entries, t.sites, frontier));
        }).then((sites) => {
          const t = take(sites);
          later(() => feed.end(t.entries, t.sites));
        });
        return true;
      };
      expect(Buffer.from(await applyPredicted(old, nw, plain, p, ALL_SITES, scanner)).equals(Buffer.from(nw))).toBe(true);
      expect(fed).toBeGreaterThan(10);
    }
  });

  it('a scan elsewhere that fails fails the apply with its error', async () => {
    const spec = randomSpec(rng(19), 100);
    const old = render(spec, []);
    const nw = render(spec, spec.functions.map((_, k) => (k % 5 === 0 ? 3 : 0)));
    const plain = takeResult(diffBytes(old, nw, new SuffixMatcher(old)));
    const p = x86Differences(old, nw, plain.ctrl)!;
    const scanner: SiteScanner = (_src, _offset, _length, _layout, _opts, feed) => {
      setTimeout(() => feed.fail(new Error('reference scan: the disk went away')), 1);
      return true;
    };
    await expect(applyPredicted(old, nw, plain, p, ALL_SITES, scanner)).rejects.toThrow(/the disk went away/);
  });

  it('predicts the CIE pointers of FDEs that records inserted or dropped before them moved (format 7), and round-trips in either format', async () => {
    const r = rng(14);
    let pointers = 0;
    let diff7 = 0;
    let diff6 = 0;
    for (let trial = 0; trial < 8; trial++) {
      const spec = randomSpec(r, 50 + Math.floor(r() * 200));
      const dummies = () => spec.functions.map(() => (r() < 0.1 ? 1 + Math.floor(r() * 3) : 0));
      const old = render(spec, [], { dummies: dummies() });
      const nw = render(spec, grownFunctions(r, spec), { dummies: dummies() });
      const plain = takeResult(diffBytes(old, nw, new SuffixMatcher(old)));
      const p7 = x86Differences(old, nw, plain.ctrl)!;
      const p6 = x86Differences(old, nw, plain.ctrl, FORMAT6_SITES)!;
      expect(Buffer.from(await applyPredicted(old, nw, plain, p7)).equals(Buffer.from(nw))).toBe(true);
      expect(Buffer.from(await applyPredicted(old, nw, plain, p6, FORMAT6_SITES)).equals(Buffer.from(nw))).toBe(true);
      // every moved FDE's pointer costs format 6 a difference byte or more
      const o = elfLayout(old, old.length)!;
      const sites6 = scanSitesSync(o, old, FORMAT6_SITES).count;
      const sites7 = scanSitesSync(o, old).count;
      expect(sites7 - sites6).toBeGreaterThanOrEqual(spec.functions.length);
      pointers += sites7 - sites6;
      diff7 += nonzero(p7.diff);
      diff6 += nonzero(p6.diff);
    }
    expect(pointers).toBeGreaterThan(400);
    // (where the CIE itself maps wrongly, every pointer to it is mispredicted: one trial in 8 here).
    // Counted as nonzero difference bytes, which do not depend on where the builder ends a run
    // (bsdiff.ts RUN_BREAK): 5,365 against 6,565 here; the stream lengths were 0.75 × with runs ended at 4 equal bytes.
    expect(diff7).toBeLessThan(diff6 * 0.85);
  });

  it('round-trips programs whose code points into .bss, in formats 6 and 7', async () => {
    const r = rng(15);
    for (let trial = 0; trial < 8; trial++) {
      const spec = randomSpec(r, 50 + Math.floor(r() * 200));
      const old = render(spec, [], { bss: true });
      const nw = render(spec, grownFunctions(r, spec), { bss: true });
      for (let k = 0; k < 10 * trial; k++) nw[Math.floor(r() * nw.length)] = Math.floor(r() * 256);
      expect(elfLayout(old, old.length)!.bss).toHaveLength(1);
      const plain = takeResult(diffBytes(old, nw, new SuffixMatcher(old)));
      for (const sites of [ALL_SITES, FORMAT6_SITES]) {
        const p = x86Differences(old, nw, plain.ctrl, sites)!;
        expect(Buffer.from(await applyPredicted(old, nw, plain, p, sites)).equals(Buffer.from(nw))).toBe(true);
      }
    }
  });

  it('round-trips mutated ELF-like bytes (wrong guesses cost bytes, never correctness)', async () => {
    const r = rng(12);
    for (let trial = 0; trial < 20; trial++) {
      const old = render(randomSpec(r, 40 + Math.floor(r() * 100)), []);
      const nw = old.slice();
      for (let k = 0; k < 30; k++) nw[Math.floor(r() * nw.length)] = Math.floor(r() * 256);
      const cut = Math.floor(r() * nw.length);
      const moved = new Uint8Array([...nw.subarray(cut), ...nw.subarray(0, cut)]);
      for (const target of [nw, moved]) {
        const plain = diffJob(old, target);
        const p = x86Differences(old, target, plain.ctrl)!;
        expect(Buffer.from(await applyPredicted(old, target, plain, p)).equals(Buffer.from(target))).toBe(true);
      }
    }
  });

  it('takes the generic path for malformed or other ELF files, without error', async () => {
    const r = rng(13);
    const good = render(randomSpec(r, 80), []);
    expect(elfLayout(good, good.length)).toBeDefined();
    const variants: Array<(b: Uint8Array, dv: DataView) => void> = [
      (b) => (b[4] = 1), // 32-bit class
      (b) => (b[5] = 2), // big-endian
      (_b, dv) => dv.setUint16(18, 183, true), // aarch64
      (_b, dv) => dv.setUint16(0x38, 60000, true), // phnum beyond the head
      (_b, dv) => dv.setBigUint64(0x20, 1n << 40n, true), // phoff far away
      (_b, dv) => dv.setUint16(0x36, 32, true), // wrong phentsize
      (_b, dv) => dv.setBigUint64(64 + 32, 1n << 40n, true), // segment past the end
      (_b, dv) => {
        dv.setUint32(64, 0, true);
        dv.setUint32(64 + 56, 0, true);
      }, // no PT_LOAD
    ];
    for (const spoil of variants) {
      const old = good.slice();
      spoil(old, new DataView(old.buffer));
      expect(elfLayout(old, old.length)).toBeUndefined();
      const nw = old.slice();
      nw[3000] = nw[3000]! ^ 1;
      const plain = diffJob(old, nw);
      expect(plain.x86).toBe(false);
      expect(x86Differences(old, nw, plain.ctrl)).toBeUndefined();
      // the applier of a predicted kind over such a file predicts nothing: the plain differences apply
      expect(Buffer.from(await applyPredicted(old, nw, plain, plain)).equals(Buffer.from(nw))).toBe(true);
    }
    for (let trial = 0; trial < 200; trial++) {
      const junk = good.slice(0, 64 + Math.floor(r() * 200));
      for (let k = 0; k < 8; k++) junk[4 + Math.floor(r() * (junk.length - 4))] = Math.floor(r() * 256);
      expect(() => elfLayout(junk, junk.length)).not.toThrow();
    }
  });

  it('finds the calls, RIP-relative and absolute operands, and each FDE pc_begin, in offset order', () => {
    const spec = randomSpec(rng(16), 200);
    const old = render(spec, []);
    const sites = scanSitesSync(elfLayout(old, old.length)!, old);
    const refs = spec.functions.flat().filter((it) => it.kind !== 'fill').length;
    expect(sites.count).toBeGreaterThanOrEqual(refs + spec.functions.length);
    const list = siteList(sites);
    expect(list.length).toBe(sites.count);
    for (let k = 1; k < list.length; k++) expect(list[k]![0]).toBeGreaterThan(list[k - 1]![0]);
  });

  it('finds the same sites reading the file in small chunks (the applier) as in memory (the builder)', async () => {
    const r = rng(17);
    for (let trial = 0; trial < 10; trial++) {
      const old = render(randomSpec(r, 100 + Math.floor(r() * 200)), []);
      for (let k = 0; k < 50; k++) old[200 + Math.floor(r() * (old.length - 200))] = Math.floor(r() * 256);
      const l = elfLayout(old, old.length)!;
      const whole = scanSitesSync(l, old);
      const chunked = await scanSites(l, old.length, async (o, n) => old.slice(o, o + n), 97 + trial);
      expect(chunked.count).toBe(whole.count);
      expect(siteList(chunked)).toEqual(siteList(whole));
      // handed over as found (the applier's worker): the same sites, in order, each below the frontier reported with it
      const fed = new Sites();
      let last = 0;
      let length = 0;
      let count = 0;
      const handOver = (sites: Sites) => {
        const before = siteList(fed).length;
        fed.append(sites.entries.slice(length, sites.length), sites.count - count);
        length = sites.length;
        count = sites.count;
        return siteList(fed).slice(before);
      };
      const rest = await scanSites(l, old.length, async (o, n) => old.slice(o, o + n), 97 + trial, ALL_SITES, (sites, frontier) => {
        for (const [p] of handOver(sites)) expect(p).toBeLessThan(frontier);
        expect(frontier).toBeGreaterThanOrEqual(last);
        last = frontier;
      });
      handOver(rest);
      expect(last).toBeGreaterThan(0);
      expect(fed.count).toBe(whole.count);
      expect(siteList(fed)).toEqual(siteList(whole));
      // the same entries and seek checkpoints as the sites added one at a time
      expect(fed.length).toBe(whole.length);
      expect(fed.entries.subarray(0, fed.length)).toEqual(whole.entries.subarray(0, whole.length));
      expect(fed.checks.subarray(0, Math.ceil(fed.length / 32))).toEqual(whole.checks.subarray(0, Math.ceil(whole.length / 32)));
    }
  });

  it('predicts the .eh_frame_hdr table exactly from the new .eh_frame, and round-trips with it', async () => {
    const r = rng(18);
    for (let trial = 0; trial < 8; trial++) {
      const spec = randomSpec(r, 100 + Math.floor(r() * 300));
      const old = render(spec, [], { table: true });
      const nw = render(spec, grownFunctions(r, spec), { table: true });
      const t = ehTable(elfLayout(nw.subarray(0, 1 << 16), nw.length)!, nw.subarray(0x10000, 0x10000 + 12), nw.length)!;
      expect(t.end - t.start).toBe(8 * spec.functions.length);
      const d = withTableDifferences(nw, all);
      expect(d.subarray(t.start, t.end).every((x) => x === 0)).toBe(true);
      expect(Buffer.from(d.subarray(0, t.start)).equals(Buffer.from(nw.subarray(0, t.start)))).toBe(true);
      const plain = takeResult(diffBytes(old, nw, new SuffixMatcher(old)));
      const p = x86Differences(old, nw, plain.ctrl)!;
      expect(p.extra).toBeDefined();
      expect(Buffer.from(await applyPredicted(old, nw, plain, p)).equals(Buffer.from(nw))).toBe(true);
    }
  });

  it('restores the table from any split of the bytes, and round-trips spoiled tables and headers', async () => {
    const r = rng(19);
    const good = render(randomSpec(r, 200), [], { table: true });
    const spoilers: Array<(b: Uint8Array) => void> = [
      () => undefined,
      (b) => (b[0x10000 + 3] = 0x1b), // another table encoding
      (b) => (b[0x10000 + 8] = 0xff), // fde_count past the header's segment
      (b) => new DataView(b.buffer).setInt32(0x10000 + 4, -0x10000, true), // .eh_frame before the table
      (b) => new DataView(b.buffer).setInt32(0x10000 + 4, 1 << 30, true), // .eh_frame outside every segment
      (b) => {
        for (let k = 0; k < 40; k++) b[0x10000 + Math.floor(r() * (b.length - 0x10000))] = Math.floor(r() * 256);
      },
      (b) => {
        for (let k = 0; k < 40; k++) b[64 + Math.floor(r() * 200)] = Math.floor(r() * 256);
      },
    ];
    for (const spoil of spoilers) {
      for (let trial = 0; trial < 4; trial++) {
        const nw = good.slice();
        spoil(nw);
        // literal everywhere, or in random runs (the rest as if in add regions)
        const mask = Uint8Array.from({ length: nw.length }, () => 0);
        for (let o = 0, lit = r() < 0.5; o < nw.length; lit = !lit) {
          const n = 1 + Math.floor(r() * 300);
          if (lit || trial % 2 === 0) mask.fill(1, o, o + n);
          o += n;
        }
        const some = (start: number, end: number) => {
          const spans: Array<[number, number]> = [];
          for (let i = start; i < end; i++) {
            if (!mask[i]) continue;
            const last = spans[spans.length - 1];
            if (last && last[1] === i) last[1] = i + 1;
            else spans.push([i, i + 1]);
          }
          return spans;
        };
        const d = withTableDifferences(nw, some);
        const blocks: Uint8Array[] = [];
        for (let o = 0; o < d.length; ) {
          const n = 1 + Math.floor(r() * (r() < 0.5 ? 50 : 20000));
          blocks.push(d.slice(o, o + n));
          o += n;
        }
        const gen = async function* () {
          yield* blocks;
        };
        expect(Buffer.from(await collect(restoreTable(gen(), nw.length, some))).equals(Buffer.from(nw))).toBe(true);
      }
    }
    // files without the table pass through unchanged
    const plainFile = render(randomSpec(r, 50), []);
    expect(withTableDifferences(plainFile, all)).toBe(plainFile);
  });

  it('is chosen by the differ when it is smaller', () => {
    const r = rng(14);
    const spec = randomSpec(r, 300);
    const old = render(spec, []);
    const nw = render(
      spec,
      spec.functions.map((_, k) => (k % 7 === 0 ? 3 : 0)),
    );
    expect(diffJob(old, nw).x86).toBe(true);
  });
});

describe('x86-64 prediction in a patch', () => {
  const hash = () => {
    const h = createHash('sha256');
    return { update: (b: Uint8Array) => void h.update(b), digest: () => `sha256:${h.digest('hex')}` };
  };
  const digest = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

  it('rebuilds a layer whose executable changed, with the predicted differences', async () => {
    const r = rng(15);
    const spec = randomSpec(r, 400);
    const oldElf = render(spec, [], { table: true });
    const newElf = render(
      spec,
      spec.functions.map(() => (r() < 0.1 ? 1 + Math.floor(r() * 30) : 0)),
      { table: true },
    );
    const base = archive(member({ name: 'usr/bin/prog' }, oldElf), member({ name: 'etc/conf' }, 'a=1\n'));
    const target = archive(member({ name: 'usr/bin/prog' }, newElf), member({ name: 'etc/conf' }, 'a=2\n'));
    const { env, rebuild } = memoryEnv(hash);
    const header = await buildPatch(
      { configDigest: digest(Uint8Array.of(1)), diffIDs: [digest(base)], layers: [bufferSource(base)] },
      { configDigest: digest(Uint8Array.of(2)), configBytes: Uint8Array.of(2), repoTags: [], diffIDs: [digest(target)], layers: [bufferSource(target)] },
      env,
    );
    expect(digest(await rebuild(header, 0, [bufferSource(base)]))).toBe(digest(target));
    const l = header.layers[0]!;
    if (l.from !== 'patch') throw new Error('expected a carried layer');
    const plain = takeResult(diffBytes(oldElf, newElf, new SuffixMatcher(oldElf)));
    expect(l.sections.diff.rawLength).toBe(x86Differences(oldElf, newElf, plain.ctrl)!.diff.length);
    expect(l.sections.diff.rawLength).toBeLessThan(plain.diff.length / 3);
  });
});

describe('the old-byte cache plan', () => {
  it('lists the blocks the applier asks for, in its order, each with its next use', () => {
    const w = new ByteWriter();
    // seek (from the last region's end), add, extra: a region over two 64 KiB pieces, a far one, one back at the start
    for (const [seek, add, extra] of [[0, 70_000, 3], [163_845 - 70_000, 10, 0], [100 - 163_855, 1, 5]]) {
      w.svar(seek!);
      w.uvar(add!);
      w.uvar(extra!);
    }
    // blocks of 16 KiB asked for: 0-4 (the first piece and 8 bytes past it), 3-4 (the second from 8 before it), 10, 0
    const never = 0x7fffffff;
    expect(Array.from(oldReadPlan(w.view(), 0, 200_000))).toEqual([8, never, never, 5, 6, never, never, never, never]);
  });
});
