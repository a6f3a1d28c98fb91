import { describe, expect, it } from 'vitest';
import { decodeConfig, decodePrefix, encodeConfig, encodePrefix } from './format.js';

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

describe('format version', () => {
  const prefix = (version: number) => {
    const p = encodePrefix(100);
    new DataView(p.buffer).setUint32(8, version);
    return p;
  };
  it('writes version 5 and reads versions 2 to 4 too (they lack only the x86-predicted delta kinds, cm sections and the predicted .eh_frame_hdr table)', () => {
    expect(new DataView(encodePrefix(100).buffer).getUint32(8)).toBe(5);
    expect(decodePrefix(prefix(2))).toBe(100);
    expect(decodePrefix(prefix(3))).toBe(100);
    expect(decodePrefix(prefix(4))).toBe(100);
    expect(decodePrefix(prefix(5))).toBe(100);
  });
  it('refuses other versions, naming the ones it reads', () => {
    expect(() => decodePrefix(prefix(6))).toThrow('unsupported patch format version 6 (this build reads 2, 3, 4 and 5)');
    expect(() => decodePrefix(prefix(1))).toThrow('unsupported patch format version 1');
  });
});
