import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { applyLayer } from './apply.js';
import { buildPatch } from './build.js';
import { bufferSource, ByteWriter, CorruptPatchError } from './bytes.js';
import { diffBytes } from './bsdiff.js';
import { diffJob, takeResult } from './differ.js';
import { SuffixMatcher } from './matcher.js';
import { SECTION_NAMES, type SectionName } from './format.js';
import { CONTENT, HDR_MODE, OP, WORD_MAPPED } from './ops.js';
import { chunked, collect, memoryEnv, rebuild, rng } from './testing.js';
import { applyWordMap, encodeWordMap, findWordMap, readWordMap, renamedShare, wordsOf, type WordMap } from './words.js';
import { archive, member } from '../tar/testing.js';

const hash = () => {
  const h = createHash('sha256');
  return { update: (b: Uint8Array) => void h.update(b), digest: () => `sha256:${h.digest('hex')}` };
};
const digest = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const bytes = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** Minifier-style names: n, t, r, …, then two letters. */
const NAMES = [...'ntreuiofcalshp_vgydbwmxjkAIRSWzBCELTOUkqFDMNPZ'];
const name = (k: number) => (k < NAMES.length ? NAMES[k]! : NAMES[k % NAMES.length]! + NAMES[Math.floor(k / NAMES.length) % NAMES.length]!);
/** A minified-looking script over `vars` names; `shift` renames name k to name k + shift, as a re-minify does. */
function script(r: () => number, lines: number, vars: number, shift: number): string {
  const seeded = rng(Math.floor(r() * 2 ** 31));
  let s = '';
  for (let i = 0; i < lines; i++) {
    const a = name(Math.floor(seeded() * vars) + shift);
    const b = name(Math.floor(seeded() * vars) + shift);
    s += `function ${a}(${b},t){return null==${b}?${i}:${a}.call(t,${b}[${i % 7}],"[object x${i % 13}]")}`;
  }
  return s;
}

function randomText(r: () => number, n: number, alphabet = 'ab_$9 (){}.,;\n\0Z'): Uint8Array {
  return bytes([...Array(n)].map(() => alphabet[Math.floor(r() * alphabet.length)]).join(''));
}

function randomMap(r: () => number, old: Uint8Array): WordMap {
  const words = wordsOf(old);
  const map: WordMap = [];
  for (let id = 0; id < words.vocabulary.length; id++) {
    if (r() < 0.6) continue;
    const to = r() < 0.5 && words.vocabulary.length > 0 ? bytes(words.vocabulary[Math.floor(r() * words.vocabulary.length)]!) : randomText(r, 1 + Math.floor(r() * 5));
    if (to.length > 0) map.push([id, to]);
  }
  return map;
}

/** applyWordMap done the obvious way: split into words and the rest, replace words. */
function naiveApply(old: Uint8Array, map: WordMap): string {
  const words = wordsOf(old);
  const to = new Map(map.map(([id, b]) => [words.vocabulary[id]!, str(b)]));
  return new TextDecoder('latin1').decode(old).replace(/[0-9A-Za-z_$]+/g, (w) => to.get(w) ?? w);
}

describe('word maps', () => {
  it('find the renames of a re-minified script, and the mapped delta is far smaller', async () => {
    const seed = rng(42);
    const oldText = bytes(script(() => seed(), 300, 40, 0));
    const seed2 = rng(42);
    const newText = bytes(script(() => seed2(), 300, 40, 1));
    const words = wordsOf(oldText);
    const map = findWordMap(oldText, newText, words);
    // every name shifts by one: n → t, t → r, …
    expect(map.find(([id]) => words.vocabulary[id] === 'n')?.[1]).toEqual(bytes('t'));
    const d = diffJob(oldText, newText);
    expect(d.words).toBeDefined();
    const mapped = applyWordMap(oldText, words, await readWordMap(chunked(d.words!, 'ops', 3), words));
    expect(await rebuild(mapped, d, newText.length)).toEqual(newText);
    expect(d.diff.length + d.extra.length).toBeLessThan(newText.length / 50);
    const plain = takeResult(diffBytes(oldText, newText, new SuffixMatcher(oldText)));
    expect(renamedShare(newText, plain.ctrl, plain.runs)).toBeGreaterThan(0.7);
    // numbers changed instead: not a rename
    const renumbered = bytes(str(oldText).replace(/\?(\d+):/g, (_, k: string) => `?${Number(k) + 1}:`));
    const other = takeResult(diffBytes(oldText, renumbered, new SuffixMatcher(oldText)));
    expect(other.diff.length).toBeGreaterThan(100);
    expect(renamedShare(renumbered, other.ctrl, other.runs)).toBe(0);
    expect(diffJob(oldText, renumbered).words).toBeUndefined();
  });

  it('round-trip random maps exactly, and apply them as a plain word replacement would', async () => {
    const r = rng(7);
    for (let t = 0; t < 200; t++) {
      const old = randomText(r, Math.floor(r() * 400));
      const words = wordsOf(old);
      const map = randomMap(r, old);
      const code = encodeWordMap(words, map);
      const back = await readWordMap(chunked(code, 'ops', 1 + Math.floor(r() * 5)), words);
      expect(back.map(([id, b]) => [id, str(b)])).toEqual(map.map(([id, b]) => [id, str(b)]));
      expect(new TextDecoder('latin1').decode(applyWordMap(old, words, back))).toBe(naiveApply(old, map));
    }
  });

  it('rebuild random edits of random text exactly through a patch, mapped or not', async () => {
    const r = rng(11);
    let mappedSeen = 0;
    for (let t = 0; t < 30; t++) {
      const minified = r() < 0.5;
      const seed = Math.floor(r() * 2 ** 31);
      const lines = 50 + Math.floor(r() * 100);
      const oldText = minified ? bytes(script(rng(seed), lines, 30, 0)) : randomText(r, 200 + Math.floor(r() * 3000));
      const b = minified ? [...bytes(script(rng(seed), lines, 30, 1))] : [...oldText];
      for (let e = Math.floor(r() * 40); e > 0; e--) b.splice(Math.floor(r() * b.length), Math.floor(r() * 4), ...randomText(r, Math.floor(r() * 4), 'ab_$9 (){}.,;\nZ'));
      const newText = Uint8Array.from([...b, 0x3b]);
      const base = archive(member({ name: 'a.js' }, oldText));
      const target = archive(member({ name: 'a.js' }, newText));
      const { env, rebuild: rebuildLayer } = memoryEnv(hash);
      const header = await buildPatch(
        { configDigest: digest(Uint8Array.of(1)), diffIDs: [digest(base)], layers: [bufferSource(base)] },
        { configDigest: digest(Uint8Array.of(2)), configBytes: Uint8Array.of(2), repoTags: [], diffIDs: [digest(target)], layers: [bufferSource(target)] },
        env,
      );
      expect(digest(await rebuildLayer(header, 0, [bufferSource(base)]))).toBe(digest(target));
      if (diffJob(oldText, newText).words) mappedSeen++;
    }
    expect(mappedSeen).toBeGreaterThan(3);
  });

  it('refuse a map out of bounds with its own error', async () => {
    const old = bytes('alpha beta gamma alpha');
    const words = wordsOf(old); // alpha, beta, gamma
    const code = (f: (w: ByteWriter) => void) => {
      const w = new ByteWriter();
      f(w);
      return chunked(w.take(), 'ops');
    };
    await expect(readWordMap(code((w) => w.uvar(4)), words)).rejects.toThrow('patch word map has 4 entries for 3 old words');
    await expect(readWordMap(code((w) => [1, 3, 1].forEach((n) => w.uvar(n))), words)).rejects.toThrow('patch word map names old word 3 of 3');
    await expect(readWordMap(code((w) => [1, 0, 0, 0].forEach((n) => w.uvar(n))), words)).rejects.toThrow('patch word map has a word of 0 bytes');
    await expect(readWordMap(code((w) => [1, 0, 0, 256].forEach((n) => w.uvar(n))), words)).rejects.toThrow('patch word map has a word of 256 bytes');
    await expect(readWordMap(code((w) => [1, 0, 1 + 3].forEach((n) => w.uvar(n))), words)).rejects.toThrow('patch word map names old word -2 of 3');
    await expect(readWordMap(code((w) => [2, 0, 1].forEach((n) => w.uvar(n))), words)).rejects.toThrow(CorruptPatchError);
  });

  it('refuse the word-map bit on a patch before version 6, or on content that is not a plain delta', async () => {
    const base = archive(member({ name: 'a.js' }, 'alpha beta'));
    const run = (code: number, version: number, fields: number[]) => {
      const ops = new ByteWriter();
      ops.byte(OP.ENTRY);
      ops.uvar(code);
      fields.forEach((n) => ops.uvar(n));
      const s = Object.fromEntries(SECTION_NAMES.map((n) => [n, chunked(n === 'ops' ? ops.take() : new Uint8Array(0), n)])) as Record<SectionName, ReturnType<typeof chunked>>;
      return collect(applyLayer(s, [bufferSource(base)], 2048, version));
    };
    const ref = [0, 0]; // base layer 0, entry 0
    await expect(run(CONTENT.DELTA_REF | (HDR_MODE.BASE << 3) | WORD_MAPPED, 5, [...ref, 10, 0])).rejects.toThrow('patch has a malformed entry code');
    await expect(run(CONTENT.LIT | (HDR_MODE.BASE << 3) | WORD_MAPPED, 6, [...ref, 10])).rejects.toThrow('patch has a malformed entry code');
    await expect(run(CONTENT.DELTA_REF | (HDR_MODE.BASE << 3) | (WORD_MAPPED << 1), 6, [...ref, 10])).rejects.toThrow('patch has a malformed entry code');
    await expect(run(CONTENT.DELTA_REF | (HDR_MODE.BASE << 3) | WORD_MAPPED, 6, [...ref, 10, 9])).rejects.toThrow('patch word map has 9 entries for 2 old words');
  });
});
