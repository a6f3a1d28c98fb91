import { describe, expect, it } from 'vitest';
import { decodeConfig, decodePrefix, encodeConfig, encodePrefix, parseHeader, patchHeader } from './format.js';

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
  it('writes version 7 and reads versions 2 to 6 too (they lack only the x86-predicted delta kinds, cm sections, the predicted .eh_frame_hdr table, config deltas, block sections, predicted symbol tables and word maps, predicted CIE pointers)', () => {
    expect(new DataView(encodePrefix(100).buffer).getUint32(8)).toBe(7);
    expect(decodePrefix(prefix(7))).toBe(100);
    expect(decodePrefix(prefix(6))).toBe(100);
    expect(decodePrefix(prefix(5))).toBe(100);
    expect(decodePrefix(prefix(2))).toBe(100);
    expect(decodePrefix(prefix(3))).toBe(100);
    expect(decodePrefix(prefix(4))).toBe(100);
    expect(decodePrefix(prefix(5))).toBe(100);
  });
  it('refuses other versions, naming the ones it reads', () => {
    expect(() => decodePrefix(prefix(8))).toThrow('unsupported patch format version 8 (this build reads 2, 3, 4, 5, 6 and 7)');
    expect(() => decodePrefix(prefix(1))).toThrow('unsupported patch format version 1');
  });
});

describe('header target config', () => {
  const d = (c: string) => `sha256:${c.repeat(64)}`;
  const header = (target: object, base: string | null = d('a')) => new TextEncoder().encode(JSON.stringify({ base: { configDigest: base, diffIDs: [] }, target: { configDigest: d('b'), repoTags: [], ...target }, layers: [] }));
  it('takes the config whole or as a delta against a base config', () => {
    expect(parseHeader(header({ config: '{}' }), 0).target.config).toBe('{}');
    expect(parseHeader(header({ configDelta: [[0, 3], 'x'] }), 0).target.configDelta).toEqual([[0, 3], 'x']);
  });
  it('refuses both, neither, a delta without a base, and malformed items', () => {
    expect(() => parseHeader(header({ config: '{}', configDelta: ['x'] }), 0)).toThrow('needs exactly one of config and configDelta');
    expect(() => parseHeader(header({}), 0)).toThrow('needs exactly one of config and configDelta');
    expect(() => parseHeader(header({ configDelta: ['x'] }, null), 0)).toThrow('has a configDelta but no base config');
    expect(() => parseHeader(header({ configDelta: [[0, -1]] }), 0)).toThrow('patch header is invalid');
    expect(() => parseHeader(header({ configDelta: [[0, 1, 2]] }), 0)).toThrow('patch header is invalid');
  });
});

describe('sections in blocks', () => {
  const header = (lit: object) => ({
    base: { configDigest: null, diffIDs: [] },
    target: { configDigest: `sha256:${'1'.repeat(64)}`, config: '{}', repoTags: [] },
    layers: [
      {
        from: 'patch',
        diffID: `sha256:${'2'.repeat(64)}`,
        size: 0,
        offset: 0,
        length: 10 + ('length' in lit ? (lit.length as number) : 0),
        sha256: `sha256:${'3'.repeat(64)}`,
        sections: { ops: { length: 2, rawLength: 1 }, hdr: { length: 2, rawLength: 1 }, ctrl: { length: 2, rawLength: 1 }, runs: { length: 2, rawLength: 1 }, diff: { length: 2, rawLength: 1 }, lit },
      },
    ],
  });
  it('accepts blocks that cover the section, and refuses ones that do not', () => {
    expect(patchHeader.safeParse(header({ length: 30, rawLength: 50, coding: 'blocks', block: 20, blocks: [10, 10, 10] })).success).toBe(true);
    for (const bad of [
      { length: 20, rawLength: 50, coding: 'blocks', block: 20, blocks: [10, 10] },
      { length: 31, rawLength: 50, coding: 'blocks', block: 20, blocks: [10, 10, 10] },
      { length: 30, rawLength: 50, coding: 'blocks', block: (16 << 20) + 1, blocks: [30] },
      { length: 30, rawLength: 50, coding: 'blocks', blocks: [30] },
      { length: 30, rawLength: 50, block: 50, blocks: [30] },
    ])
      expect(patchHeader.safeParse(header(bad)).success).toBe(false);
  });
});
