import { describe, expect, it } from 'vitest';
import { i32le as i32, put32le } from '../bytes.js';
import { rng, siteList } from '../testing.js';
import { biasAt, execAddress, inExec, offsetOf, SegmentIndex, type ElfLayout, type Segment } from './layout.js';
import { AddressMap, FORMAT6_SITES, PAST, Predictor, scanSitesSync, SiteCursor, SiteFeed, Sites } from './references.js';

/** A layout of random, possibly overlapping segments (hostile files have them), exec ranges merged as elfLayout does. */
function randomLayout(r: () => number, fileSize: number): ElfLayout {
  const loads: Segment[] = Array.from({ length: 1 + Math.floor(r() * 5) }, () => {
    const off = Math.floor(r() * fileSize * 0.8);
    const size = 1 + Math.floor(r() * (fileSize - off));
    const va = r() < 0.3 ? off : 0x400000 + Math.floor(r() * 4) * 0x100000 + off;
    return { off, va, size, exec: r() < 0.5 };
  });
  const exec: ElfLayout['exec'] = [];
  for (const s of loads.filter((l) => l.exec).sort((a, b) => a.off - b.off)) {
    const last = exec[exec.length - 1];
    if (last && s.off <= last.end) last.end = Math.max(last.end, s.off + s.size);
    else exec.push({ start: s.off, end: s.off + s.size });
  }
  return { loads, exec };
}

/** The scan as first written (Set lookups, segment loops per call): the sites every patch since format 3 was built with. */
const MODRM_OPS = new Set([0x01, 0x03, 0x09, 0x0b, 0x11, 0x13, 0x19, 0x1b, 0x21, 0x23, 0x29, 0x2b, 0x31, 0x33, 0x39, 0x3b, 0x63, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8d, 0xff]);
const MODRM_0F_OPS = new Set([
  0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x1f, 0x28, 0x29, 0x2a, 0x2c, 0x2d, 0x2e, 0x2f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b,
  0x4c, 0x4d, 0x4e, 0x4f, 0x51, 0x54, 0x57, 0x58, 0x59, 0x5a, 0x5c, 0x5d, 0x5e, 0x5f, 0x6e, 0x6f, 0x74, 0x75, 0x76, 0x7e, 0x7f, 0xaf, 0xb1, 0xb6, 0xb7, 0xbe, 0xbf, 0xc1,
  0xc6, 0xd4, 0xd6, 0xdb, 0xeb, 0xef, 0xfa, 0xfb, 0xfe,
]);
const relEnd = [0, 4, 5, 8, 0, 0];
function referenceScan(l: ElfLayout, buf: Uint8Array): Array<[number, number]> {
  const sites: Array<[number, number]> = [];
  for (const r of l.exec) {
    const to = Math.min(r.end, buf.length) - 8;
    for (let i = r.start; i < to; ) {
      const p = i;
      const op = buf[p]!;
      const m = buf[p + 1]!;
      let s = op === 0xe8 || op === 0xe9 ? i + 1 : op === 0x0f && (m & 0xf0) === 0x80 ? i + 2 : -1;
      if (s >= 0 && execAddress(l, biasAt(l, s)! + s + 4 + i32(buf, s))) {
        sites.push([s, 1]);
        i = s + 4;
        continue;
      }
      if ((m & 0xc7) === 0x05) {
        let k = 0;
        if (MODRM_OPS.has(op) || (p > 0 && buf[p - 1] === 0x0f && MODRM_0F_OPS.has(op))) k = 1;
        else if (op === 0x83 || op === 0x80 || op === 0xc6) k = 2;
        else if (op === 0x81 || op === 0xc7) k = 3;
        s = i + 2;
        if (k && offsetOf(l, biasAt(l, s)! + s + relEnd[k]! + i32(buf, s)) >= 0) {
          sites.push([s, k]);
          i = s + relEnd[k]!;
          continue;
        }
      }
      let a = -1;
      if (op >= 0xb8 && op <= 0xbf) a = i + 1;
      else if (op === 0x68) a = i + 1;
      else if (op === 0xc7 && (m & 0xf8) === 0xc0) a = i + 2;
      else if (MODRM_OPS.has(op) && (m & 0xc7) === 0x04 && (buf[p + 2]! & 7) === 5) a = i + 3;
      if (a >= 0) {
        const v = i32(buf, a) >>> 0;
        if (v >= 1 << 16 && offsetOf(l, v) >= 0) {
          sites.push([a, 4]);
          i = a + 4;
          continue;
        }
      }
      i++;
    }
  }
  return sites.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
}

/** Code-like bytes: opcodes the scanner knows, ModRM bytes that make RIP-relative and SIB forms, and operands that often land in a segment. */
function codeLike(r: () => number, n: number, l: ElfLayout): Uint8Array {
  const ops = [0xe8, 0xe9, 0x0f, 0x8b, 0x89, 0x8d, 0x83, 0x81, 0xc7, 0xc6, 0xb8, 0x68, 0xff, 0x48, 0x10, 0x85, 0x1f];
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const x = r();
    if (x < 0.35) b[i] = ops[Math.floor(r() * ops.length)]!;
    else if (x < 0.5) b[i] = [0x05, 0x04, 0x25, 0x80, 0x85, 0xc0][Math.floor(r() * 6)]!;
    else if (x < 0.6 && i + 4 <= n) {
      // a little-endian operand: a segment address, a displacement to one, or noise
      const s = l.loads[Math.floor(r() * l.loads.length)]!;
      const v = r() < 0.5 ? s.va + Math.floor(r() * s.size) : Math.floor(r() * 2 * s.size) - s.size;
      put32le(b, i, v);
      i += 3;
    } else b[i] = Math.floor(r() * 256);
  }
  return b;
}

describe('SegmentIndex', () => {
  it('answers as offsetOf, biasAt, execAddress and inExec do, at and between every bound, for overlapping segments too', () => {
    const r = rng(15);
    for (let t = 0; t < 300; t++) {
      const l = randomLayout(r, 1 + Math.floor(r() * 1e6));
      const seg = new SegmentIndex(l);
      const points = l.loads.flatMap((s) => [s.off, s.va, s.off + s.size, s.va + s.size].flatMap((p) => [p - 1, p, p + 1]));
      for (let k = 0; k < 200; k++) points.push(Math.floor(r() * 2e6) - 1000, 0x400000 + Math.floor(r() * 0x500000));
      points.push(NaN, -1, 2 ** 53);
      const order = r() < 0.5 ? points : points.reverse();
      const got = order.map((p) => [seg.offsetOf(p), seg.execAddress(p), seg.inExec(p), seg.biasAt(p)]);
      expect(got).toEqual(order.map((p) => [offsetOf(l, p), execAddress(l, p), inExec(l, p), biasAt(l, p) ?? NaN]));
    }
  });
});

describe('the address map', () => {
  it('answers as its definition: of the last region starting at or below t and the 15 before it, the longest covering t, else the last', () => {
    const r = rng(16);
    for (let trial = 0; trial < 200; trial++) {
      // clustered, overlapping and repeated starts (a run of zeros copied to many places), and sparse ones
      const span = 1 + Math.floor(r() * (r() < 0.5 ? 20000 : 2e6));
      const n = Math.floor(r() * 300);
      const olds = Array.from({ length: n }, () => (r() < 0.2 ? 777 % span : Math.floor(r() * span)));
      const lens = Array.from({ length: n }, () => 128 + Math.floor(r() * (r() < 0.5 ? 200 : 50000)));
      const news = Array.from({ length: n }, () => Math.floor(r() * 4e6));
      const map = new AddressMap(news, olds, lens);
      const order = olds.map((_, i) => i).sort((x, y) => olds[x]! - olds[y]! || lens[y]! - lens[x]! || news[x]! - news[y]!);
      const expected = (t: number): number => {
        let k = -1;
        for (let i = 0; i < order.length; i++) if (olds[order[i]!]! <= t) k = i;
        if (k < 0) return t;
        let best = -1;
        for (let j = k; j >= 0 && j > k - 16; j--) {
          const x = order[j]!;
          if (t < olds[x]! + lens[x]! && (best < 0 || lens[x]! > lens[order[best]!]!)) best = j;
        }
        const x = order[best >= 0 ? best : k]!;
        return t - olds[x]! + news[x]!;
      };
      const points = olds.flatMap((o, i) => [o - 1, o, o + 1, o + lens[i]! - 1, o + lens[i]!]).filter((p) => p >= 0);
      for (let k = 0; k < 100; k++) points.push(Math.floor(r() * span * 1.2));
      for (const t of points) expect(map.map(t)).toBe(expected(t));
    }
  });
});

describe('the site list', () => {
  it('keeps sites in the order added while each comes after the one before, else sorted by offset and kind; seeks find the first at or after', () => {
    const r = rng(41);
    for (let t = 0; t < 80; t++) {
      const sites = new Sites();
      const added: Array<[number, number]> = [];
      // gaps from 0 to past several entries' reach (2^13 per entry, 2^26 per skip entry), sometimes a step back; offsets below 2^30 (X86_MAX_OLD)
      let p = Math.floor(r() * 100);
      for (let n = Math.floor(r() * 3000); n > 0; n--) {
        const x = r();
        p += x < 0.02 ? -Math.floor(r() * 5000) : x < 0.03 ? Math.floor(r() * 2 ** 27) : x < 0.1 ? 8191 + Math.floor(r() * 3) : Math.floor(r() * 60);
        p = Math.min(2 ** 30 - 1, Math.max(0, p));
        const site: [number, number] = [p, 1 + Math.floor(r() * 6)];
        sites.add(...site);
        added.push(site);
      }
      sites.finish();
      const inOrder = added.every(([q], k) => k === 0 || q > added[k - 1]![0]);
      const want = inOrder ? added : [...added].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
      expect(siteList(sites)).toEqual(want);
      expect(sites.count).toBe(added.length);
      const c = new SiteCursor(sites);
      for (let k = 0; k < 50; k++) {
        const q = k === 0 ? 0 : want.length && r() < 0.5 ? want[Math.floor(r() * want.length)]![0] + Math.floor(r() * 3) - 1 : Math.floor(r() * (p + 10));
        c.seek(q);
        const i = want.findIndex(([x]) => x >= q);
        expect([c.pos, i < 0 ? 0 : c.kind]).toEqual(i < 0 ? [PAST, 0] : want[i]);
      }
    }
  });
});

describe('the site list handed over as it grows', () => {
  it('gives, taken in parts and appended in order, the same sites as the whole list', () => {
    const r = rng(43);
    for (let t = 0; t < 40; t++) {
      const whole = new Sites();
      const taker = new Sites();
      const got = new Sites();
      let taken = 0;
      // gaps up to several entries' reach (2^13 per entry), in order: as a scan on another thread finds them
      for (let n = Math.floor(r() * 3000), p = Math.floor(r() * 100); n > 0; n--) {
        p += r() < 0.05 ? 8191 + Math.floor(r() * 3 * 8192) : 1 + Math.floor(r() * 60);
        const k = 1 + Math.floor(r() * 6);
        whole.add(p, k);
        taker.add(p, k);
        if (r() < 0.02) {
          got.append(taker.takeEntries(), taker.count - taken);
          taken = taker.count;
        }
      }
      taker.finish();
      got.append(taker.takeEntries(), taker.count - taken);
      whole.finish();
      expect(siteList(got)).toEqual(siteList(whole));
      expect(got.count).toBe(whole.count);
      expect(taker.length).toBe(0);
    }
  });
});

describe('the site feed', () => {
  it('waits for the frontier only where a scanned range lies in what is needed, past the frontier', async () => {
    const feed = new SiteFeed([
      { start: 100, end: 200 },
      { start: 500, end: 600 },
    ]);
    expect(feed.need(0, 100)).toBeUndefined(); // before every range
    expect(feed.need(300, 400)).toBeUndefined(); // between the ranges, with the frontier at 0
    let woke = 0;
    const code = feed.need(150, 160)!.then(() => woke++);
    feed.push(new Uint16Array(0), 0, 120);
    await Promise.resolve();
    expect(woke).toBe(0);
    feed.push(new Uint16Array(0), 0, 170);
    await code;
    expect(woke).toBe(1);
    const across = feed.need(160, 450)!.then(() => woke++); // the first range's rest is past the frontier
    feed.push(new Uint16Array(0), 0, 200);
    await across;
    expect(feed.need(190, 500)).toBeUndefined();
    const last = feed.need(450, 501)!;
    feed.fail(new Error('scan failed'));
    await expect(last).rejects.toThrow('scan failed');
  });
});

describe('the reference scan', () => {
  it('finds exactly the sites of the scan as first written, on random code-like bytes and layouts', () => {
    const r = rng(7);
    let found = 0;
    for (let t = 0; t < 60; t++) {
      const n = 2000 + Math.floor(r() * 30000);
      const l = randomLayout(r, n);
      const buf = codeLike(r, n, l);
      const sites = scanSitesSync(l, buf);
      const got = siteList(sites);
      expect(got).toEqual(referenceScan(l, buf));
      found += got.length;
    }
    expect(found).toBeGreaterThan(1000);
  });
});

describe('references into .bss (format 7)', () => {
  it('are sites of the format 7 scan only, and are predicted moved by the patch shift', () => {
    // code at 0x401000, data at 0x402000 with 0x100 file bytes and .bss up to 0x404000
    const l: ElfLayout = {
      loads: [
        { off: 0x1000, va: 0x401000, size: 0x1000, exec: true },
        { off: 0x2000, va: 0x402000, size: 0x100, exec: false },
      ],
      exec: [{ start: 0x1000, end: 0x2000 }],
      bss: [{ start: 0x402100, end: 0x404000 }],
    };
    const r = rng(31);
    for (let trial = 0; trial < 20; trial++) {
      const old = new Uint8Array(0x2100);
      const targets: Array<{ at: number; kind: 'lea' | 'mov' | 'ptr'; to: number }> = [];
      for (let p = 0x1000; p < 0x1f00; p += 16) {
        const to = 0x402100 + Math.floor(r() * 0x1f00);
        if (r() < 0.5) {
          old.set([0x48, 0x8d, 0x05], p); // lea rax, [rip + disp32]
          put32le(old, p + 3, to - (0x400000 + p + 7));
          targets.push({ at: p + 3, kind: 'lea', to });
        } else {
          old[p] = 0xb8; // mov eax, imm32
          put32le(old, p + 1, to);
          targets.push({ at: p + 1, kind: 'mov', to });
        }
      }
      const to = 0x402100 + Math.floor(r() * 0x1f00);
      put32le(old, 0x2008, to); // a 64-bit pointer in the data
      targets.push({ at: 0x2008, kind: 'ptr', to });
      const shift = Math.floor(r() * 0x10000) * 16 - 0x80000;
      const sites = scanSitesSync(l, old);
      // (chance sites in the operand bytes come and go with the greedy scan)
      expect(sites.count).toBeGreaterThanOrEqual(scanSitesSync(l, old, FORMAT6_SITES).count + targets.length - 1 - 10);
      const same = new AddressMap([0], [0], [old.length]);
      const out = new Uint8Array(old.length);
      new Predictor(l, sites, same, shift).predict(old, 0, 0, old.length, 0, old.length, 0, out);
      for (const t of targets) expect(i32(out, t.at)).toBe((t.kind === 'lea' ? t.to + shift - (0x400000 + t.at + 4) : t.to + shift) | 0);
      // without the .bss sites and a shift (formats 3-6) the operands stay as they were
      new Predictor(l, scanSitesSync(l, old, FORMAT6_SITES), same).predict(old, 0, 0, old.length, 0, old.length, 0, out);
      for (const t of targets) expect(i32(out, t.at)).toBe(i32(old, t.at));
    }
  });
});
