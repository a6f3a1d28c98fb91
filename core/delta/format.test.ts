import { describe, expect, it } from 'vitest';
import { decodeConfig, encodeConfig } from './format.js';

describe('config as header text', () => {
  it('gives back the exact bytes, a byte-order mark and non-ASCII included', () => {
    const json = new TextEncoder().encode('{"architecture":"amd64","config":{"Labels":{"é":"ü ✓"}}}');
    const withBom = Uint8Array.of(0xef, 0xbb, 0xbf, ...json);
    for (const bytes of [json, withBom, new Uint8Array(0)]) expect(Buffer.from(decodeConfig(encodeConfig(bytes))).equals(Buffer.from(bytes))).toBe(true);
  });

  it('refuses a config that is not UTF-8', () => {
    expect(() => encodeConfig(Uint8Array.of(0x7b, 0xff, 0x7d))).toThrow('not UTF-8 text');
  });
});
