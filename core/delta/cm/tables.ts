// Fixed tables of the context-mixing coder: the logistic squash/stretch pair and the bit-history
// state machine. Everything is integer arithmetic from constants, so encoder and decoder compute
// identical probabilities on any engine or CPU (Math.exp/log may differ in the last bit across
// platforms; a coder cannot afford that).

/** 4096 / (1 + e^-x) at x = -8, -7.5, …, 8, rounded: the knots squash interpolates between. */
const KNOTS = [1, 2, 4, 6, 10, 17, 27, 45, 74, 120, 194, 311, 488, 747, 1102, 1546, 2048, 2550, 2994, 3349, 3608, 3785, 3902, 3976, 4022, 4051, 4069, 4079, 4086, 4090, 4092, 4094, 4095];

/** Logistic: x in stretch units (x/256 natural units, clamped to ±2047) → probability in 0..4095. */
export function squash(x: number): number {
  if (x > 2047) x = 2047;
  if (x < -2047) x = -2047;
  const w = x & 127;
  const i = (x >> 7) + 16;
  return (KNOTS[i]! * (128 - w) + KNOTS[i + 1]! * w + 64) >> 7;
}

/** Inverse of squash: probability 0..4095 → the smallest x with squash(x) ≥ p (−2047..2047). */
export const STRETCH = (() => {
  const t = new Int16Array(4096);
  let pi = 0;
  for (let x = -2047; x <= 2047; x++) {
    const v = squash(x);
    for (let p = pi; p <= v; p++) t[p] = x;
    pi = v + 1;
  }
  for (let p = pi; p < 4096; p++) t[p] = 2047;
  return t;
})();

/**
 * Bit histories in one byte: a state stands for a pair of counts (n0, n1) of the zeros and ones seen
 * in a context. Seeing a bit adds one to its count and, past 2, halves the other (old evidence
 * against a now-repeating bit fades); counts are capped so the states number under 256. State 0 is
 * the empty history.
 */
export interface StateTable {
  /** next[s * 2 + bit] */
  readonly next: Uint8Array;
  readonly n0: Uint8Array;
  readonly n1: Uint8Array;
}

function cap(other: number): number {
  if (other === 0) return 48;
  if (other === 1) return 24;
  if (other === 2) return 12;
  if (other <= 4) return 7;
  return 5;
}

function discount(n: number): number {
  return n > 2 ? (n >> 1) + 1 : n;
}

export const STATES: StateTable = (() => {
  const key = (a: number, b: number) => a * 256 + b;
  const index = new Map<number, number>([[0, 0]]);
  const pairs: Array<[number, number]> = [[0, 0]];
  const step = (a: number, b: number, bit: number): [number, number] => (bit ? [discount(a), Math.min(b + 1, cap(discount(a)))] : [Math.min(a + 1, cap(discount(b))), discount(b)]);
  for (let i = 0; i < pairs.length; i++) {
    const [a, b] = pairs[i]!;
    for (const bit of [0, 1]) {
      const [x, y] = step(a, b, bit);
      if (!index.has(key(x, y))) {
        index.set(key(x, y), pairs.length);
        pairs.push([x, y]);
      }
    }
  }
  if (pairs.length > 256) throw new Error(`bit-history states overflow a byte: ${pairs.length}`);
  const next = new Uint8Array(512);
  const n0 = new Uint8Array(256);
  const n1 = new Uint8Array(256);
  pairs.forEach(([a, b], s) => {
    n0[s] = a;
    n1[s] = b;
    for (const bit of [0, 1]) {
      const [x, y] = step(a, b, bit);
      next[s * 2 + bit] = index.get(key(x, y))!;
    }
  });
  return { next, n0, n1 };
})();
