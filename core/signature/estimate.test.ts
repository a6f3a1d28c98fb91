import { describe, expect, it } from 'vitest';
import { estimatePatchBytes, rankBases } from './estimate.js';
import { ContentSketcher, encodeSamples } from './sketch.js';
import { noise } from './testing.js';
import type { FileFingerprint, ImageSignature } from './types.js';

const hex = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const image = (config: number, layers: Array<{ id: number; files: FileFingerprint[] }>): ImageSignature => ({
  version: 1,
  configDigest: hex(config),
  repoTags: [],
  layers: layers.map((l) => ({ diffID: hex(l.id), size: l.files.reduce((s, f) => s + f.size + 512, 0), files: l.files })),
});
const file = (path: string, size: number, h: number): FileFingerprint => ({ path, size, hash: hex(h) });

const os = { id: 1, files: [{ path: 'etc', size: 0 }, file('bin/sh', 100_000, 11), file('lib/libc.so', 2_000_000, 12)] };
const app1 = { id: 2, files: [file('app/main.js', 300_000, 21), file('app/data.bin', 1_000_000, 22)] };
const base = image(100, [os, app1]);

describe('estimatePatchBytes', () => {
  it('costs nothing when the target is made of layers the base has', () => {
    expect(estimatePatchBytes([base], image(101, [os, app1]))).toBe(0);
  });

  it('costs about nothing for a new layer whose contents the base has', () => {
    const moved = image(102, [os, { id: 3, files: app1.files }]);
    const cost = estimatePatchBytes([base], moved);
    const fixed = estimatePatchBytes([base], image(109, [os, { id: 10, files: [{ path: 'etc', size: 0 }] }]));
    expect(fixed).toBeGreaterThan(0); // a bundle's own framing
    expect(cost - fixed).toBeLessThan(1000);
  });

  it('charges a changed file a fraction of a new one, and a new file its compressed size', () => {
    const changed = image(103, [os, { id: 4, files: [file('app/main.js', 300_000, 31), file('app/data.bin', 1_000_000, 22)] }]);
    const added = image(104, [os, { id: 5, files: [file('app/other.js', 300_000, 31), file('app/data.bin', 1_000_000, 22)] }]);
    const c = estimatePatchBytes([base], changed);
    const a = estimatePatchBytes([base], added);
    expect(c).toBeLessThan(a / 2);
    expect(a).toBeGreaterThan(300_000 * 0.2);
    expect(a).toBeLessThan(300_000);
  });

  it('charges the growth of a changed file as new data', () => {
    const grown = image(105, [os, { id: 6, files: [file('app/main.js', 1_300_000, 32)] }]);
    const same = image(106, [os, { id: 7, files: [file('app/main.js', 300_000, 33)] }]);
    expect(estimatePatchBytes([base], grown) - estimatePatchBytes([base], same)).toBeGreaterThan(1_000_000 * 0.2);
  });

  it('ships the full image when there is no base, and never more than that with one', () => {
    const target = image(107, [os, { id: 8, files: [file('app/main.js', 310_000, 34)] }]);
    const full = estimatePatchBytes([], target);
    expect(full).toBeGreaterThan(estimatePatchBytes([base], target));
    expect(estimatePatchBytes([image(1, [{ id: 99, files: [file('x', 5, 99)] }])], target)).toBe(full);
  });
});

describe('estimatePatchBytes with content features (version 2 signatures)', () => {
  const sketched = (path: string, bytes: Uint8Array, packed: number, h: number): FileFingerprint => {
    const s = new ContentSketcher(bytes.length);
    s.update(bytes);
    const { rateBits, samples } = s.finish();
    return { path, size: bytes.length, hash: hex(h), packed, sketchBits: rateBits, sketch: encodeSamples(samples) };
  };
  const v2 = (config: number, f: FileFingerprint) => ({ ...image(config, [os, { id: config, files: [f] }]), version: 2 as const });
  const old = noise(1, 2 << 20);
  const edited = (share: number) => {
    const b = old.slice();
    b.set(noise(2, Math.round(b.length * share)), 4096);
    return b;
  };

  it('charges a changed file the share of it the old version lacks', () => {
    const base2 = v2(200, sketched('model.bin', old, old.length, 60));
    const cost = (share: number, h: number) => estimatePatchBytes([base2], v2(201 + h, sketched('model.bin', edited(share), old.length, h)));
    const fixed = estimatePatchBytes([base2], image(299, [os, { id: 299, files: [{ path: 'etc', size: 0 }] }]));
    const tenth = cost(0.1, 61) - fixed;
    const half = cost(0.5, 62) - fixed;
    // random bytes: the missing share costs its size (0.1 × 2 MiB), within sampling error
    expect(tenth).toBeGreaterThan(0.08 * old.length);
    expect(tenth).toBeLessThan(0.12 * old.length);
    expect(half / tenth).toBeGreaterThan(4);
    expect(half / tenth).toBeLessThan(6);
  });

  it('charges compressible content less per byte than content that does not compress', () => {
    const alone = (f: FileFingerprint) => estimatePatchBytes([], { ...image(210, [{ id: 210, files: [f] }]), version: 2 });
    const random = alone(sketched('a', old, old.length, 70));
    const text = alone(sketched('a', old, old.length / 5, 71));
    expect(text).toBeLessThan(random / 5); // the patch's coder beats the gauge on compressible content
  });
});

describe('rankBases', () => {
  it('puts the candidate sharing most with the target first, and keeps ties in order', () => {
    const target = image(110, [os, { id: 9, files: [file('app/main.js', 300_000, 41)] }]);
    const unrelated = image(111, [{ id: 50, files: [file('opt/x', 10, 51)] }]);
    const ranked = rankBases(
      [
        { key: 'none', bases: [] },
        { key: 'unrelated', bases: [unrelated] },
        { key: 'base', bases: [base] },
      ],
      target,
    );
    expect(ranked.map((r) => r.key)).toEqual(['base', 'none', 'unrelated']);
    expect(ranked[0]!.estimate).toBeLessThan(ranked[1]!.estimate);
  });
});
