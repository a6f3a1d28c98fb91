import { describe, expect, it } from 'vitest';
import { applyConfigDelta, encodeConfigDelta } from './config-delta.js';
import { PatchFormatError } from './format.js';

/** A deterministic pseudo-random generator (tests must fail the same way twice). */
function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

const ALPHABET = 'abcdef0123456789{}[]":, é✓\u{1F600}';
function mutate(base: string, r: (n: number) => number): string {
  const chars = [...base];
  for (let k = r(20); k > 0; k--) {
    const at = r(chars.length + 1);
    const piece = [...Array(r(12))].map(() => [...ALPHABET][r([...ALPHABET].length)]!);
    chars.splice(at, r(3) ? r(10) : 0, ...piece);
  }
  return chars.join('');
}

describe('config delta', () => {
  it('gives back the target exactly for random configs and edits, surrogate pairs split or not', () => {
    const r = rng(15);
    for (let i = 0; i < 300; i++) {
      const base = [...Array(r(600))].map(() => [...ALPHABET][r([...ALPHABET].length)]!).join('');
      const target = r(5) ? mutate(base, r) : [...Array(r(200))].map(() => 'x').join('');
      const delta = encodeConfigDelta(base, target);
      expect(applyConfigDelta(base, JSON.parse(JSON.stringify(delta)), 1 << 20)).toBe(target);
    }
  });

  it('copies what a real config keeps and inserts what changed', () => {
    const base = JSON.stringify({ architecture: 'amd64', config: { Env: ['PATH=/usr/local/bin:/usr/bin'], Cmd: ['node', 'server.js'] }, created: '2026-12-01T10:00:00Z', rootfs: { diff_ids: ['sha256:' + 'a'.repeat(64)] } });
    const target = base.replace('2026-12-01T10:00:00Z', '2026-12-02T11:30:00Z');
    const delta = encodeConfigDelta(base, target);
    expect(delta.filter((d) => typeof d === 'string').join('').length).toBeLessThan(12);
    expect(applyConfigDelta(base, delta, 1 << 20)).toBe(target);
  });

  it('refuses a copy beyond the base config and a result beyond the bound, with their own errors', () => {
    expect(() => applyConfigDelta('abcdef', [[2, 5]], 100)).toThrow(PatchFormatError);
    expect(() => applyConfigDelta('abcdef', [[2, 5]], 100)).toThrow('copies base config characters 2–7, beyond its 6');
    expect(() => applyConfigDelta('abcdef', ['xy', [0, 6]], 7)).toThrow('gives more than 7 characters');
  });
});
