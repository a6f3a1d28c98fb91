// Test helpers for signatures.

/** Deterministic noise (xorshift), so figures measured on it do not vary from run to run. */
export function noise(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2 + 1; // odd and distinct per seed (xorshift's state may not be 0)
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
