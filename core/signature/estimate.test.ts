import { describe, expect, it } from 'vitest';
import { estimatePatchBytes, rankBases } from './estimate.js';
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
    expect(cost).toBeGreaterThan(0);
    expect(cost).toBeLessThan(1000);
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
    expect(estimatePatchBytes([base], grown) - estimatePatchBytes([base], same)).toBeGreaterThan(1_000_000 * 0.25);
  });

  it('ships the full image when there is no base, and never more than that with one', () => {
    const target = image(107, [os, { id: 8, files: [file('app/main.js', 310_000, 34)] }]);
    const full = estimatePatchBytes([], target);
    expect(full).toBeGreaterThan(estimatePatchBytes([base], target));
    expect(estimatePatchBytes([image(1, [{ id: 99, files: [file('x', 5, 99)] }])], target)).toBe(full);
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
