// Word renaming for text deltas (docs/patch-format.md, "Word maps"). A re-minified script keeps
// its code but renames its identifiers (lodash.min.js 4.17.20 → 4.17.21: `q` → `Z` 345 times,
// `Y` → `X` 233 times, 500 names shifted by one), so a byte delta pays a difference or a new
// match at every use. A word map names, once, what each old word becomes; the old file with the
// map applied is what the delta's triples copy from, so only what the map misses is carried.
//
// A word is a maximal run of bytes in [0-9A-Za-z_$]. The old file's vocabulary is its distinct
// words in order of first occurrence: builder and applier compute it from the old bytes alone.
// The map, as written (ByteWriter varints, read back by readWordMap):
//   uvar n; n × (uvar gap, uvar target): the source word is vocabulary[previous source + 1 + gap]
//   (previous source −1 at first); target 0: uvar len (1..MAX_WORD), then len word bytes;
//   target t ≥ 1: the vocabulary word at source + unzigzag(t − 1).
import { ByteWriter, CorruptPatchError, unzigzag, VarintReader, zigzag, type ChunkReader } from './bytes.js';
import { diffBytes, newDiffOutput } from './bsdiff.js';
import { SuffixMatcher } from './matcher.js';

/** Old files up to this size may be word-mapped (the applier holds the old file and its mapped copy). */
export const WORDS_MAX_OLD = 4 << 20;
/** A target word written out is at most this long. */
export const MAX_WORD = 255;
/** A mapping is kept only where it is seen this many times more than the word left as it is. */
const MIN_GAIN = 2;
/** Longer words are kept in the skeletons: minified names are short. */
const SKELETON_WORD = 4;
/** Stands for every word in the skeletons that align old and new words. */
const WORD_MARK = 0x01;

export const isWordByte = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;

/** The end of the word that starts at b[i] (a word byte). */
function wordEnd(b: Uint8Array, i: number): number {
  let j = i + 1;
  while (j < b.length && isWordByte(b[j]!)) j++;
  return j;
}

const text = (b: Uint8Array, from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));

/** The old file's words: `ids[k]` is the vocabulary index of the k-th word occurrence, at `starts[k]`..`ends[k]`. */
export interface Words {
  vocabulary: string[];
  index: Map<string, number>;
  starts: number[];
  ends: number[];
  ids: number[];
}

export function wordsOf(b: Uint8Array): Words {
  const vocabulary: string[] = [];
  const index = new Map<string, number>();
  const starts: number[] = [];
  const ends: number[] = [];
  const ids: number[] = [];
  for (let i = 0; i < b.length; ) {
    if (!isWordByte(b[i]!)) {
      i++;
      continue;
    }
    const j = wordEnd(b, i);
    const w = j - i <= 64 ? text(b, i, j) : new TextDecoder('latin1').decode(b.subarray(i, j));
    let id = index.get(w);
    if (id === undefined) {
      id = vocabulary.length;
      index.set(w, id);
      vocabulary.push(w);
    }
    starts.push(i);
    ends.push(j);
    ids.push(id);
    i = j;
  }
  return { vocabulary, index, starts, ends, ids };
}

/** A word map: vocabulary index of an old word → the bytes it becomes, sorted by index. */
export type WordMap = Array<[number, Uint8Array]>;

/** The old bytes with every mapped word replaced. */
export function applyWordMap(old: Uint8Array, words: Words, map: WordMap): Uint8Array {
  const to = new Map(map);
  let size = old.length;
  for (let k = 0; k < words.ids.length; k++) {
    const t = to.get(words.ids[k]!);
    if (t) size += t.length - (words.ends[k]! - words.starts[k]!);
  }
  const out = new Uint8Array(size);
  let o = 0;
  let from = 0;
  for (let k = 0; k < words.ids.length; k++) {
    const t = to.get(words.ids[k]!);
    if (!t) continue;
    out.set(old.subarray(from, words.starts[k]), o);
    o += words.starts[k]! - from;
    out.set(t, o);
    o += t.length;
    from = words.ends[k]!;
  }
  out.set(old.subarray(from), o);
  return out;
}

/**
 * Words a minifier may rename: not numbers, and at most SKELETON_WORD bytes. The rest stay in the
 * skeletons as they are, anchoring the alignment (with every word collapsed, lines that differ only
 * in their numbers or property names look alike and align wrongly).
 */
const renamable = (b: Uint8Array, i: number, j: number) => !(b[i]! >= 48 && b[i]! <= 57) && j - i <= SKELETON_WORD;

/**
 * The share of a plain delta's nonzero difference bytes (its ctrl and runs streams) that fall in
 * renamable words of the new bytes: near 1 where a minifier renamed, low where numbers, hashes or
 * prose changed (a cheap look before aligning skeletons, which can take a second on 20 KB of JSON).
 */
export function renamedShare(nw: Uint8Array, ctrl: Uint8Array, runs: Uint8Array): number {
  const inWord = new Uint8Array(nw.length);
  for (let i = 0; i < nw.length; ) {
    if (!isWordByte(nw[i]!)) {
      i++;
      continue;
    }
    const j = wordEnd(nw, i);
    if (renamable(nw, i, j)) inWord.fill(1, i, j);
    i = j;
  }
  const c = new VarintReader(ctrl);
  const r = new VarintReader(runs);
  let np = 0;
  let changed = 0;
  let renamed = 0;
  while (!c.done) {
    c.svar();
    const add = c.uvar();
    const extra = c.uvar();
    for (let left = add; left > 0; ) {
      const zeros = r.uvar();
      const n = r.uvar();
      for (let k = np + add - left + zeros, e = k + n; k < e; k++) renamed += inWord[k]!;
      changed += n;
      left -= zeros + n;
    }
    np += add + extra;
  }
  return changed === 0 ? 0 : renamed / changed;
}

/** The bytes with each word as one WORD_MARK, and which word each mark stands for (-1: not a word). */
function skeleton(b: Uint8Array): { sk: Uint8Array; at: Int32Array; words: Array<[number, number]> } {
  const sk = new Uint8Array(b.length);
  const at = new Int32Array(b.length).fill(-1);
  const words: Array<[number, number]> = [];
  let n = 0;
  for (let i = 0; i < b.length; ) {
    if (!isWordByte(b[i]!)) {
      sk[n++] = b[i++]!;
      continue;
    }
    const j = wordEnd(b, i);
    if (renamable(b, i, j)) {
      at[n] = words.length;
      sk[n++] = WORD_MARK;
    } else sk.set(b.subarray(i, j), (n += j - i) - (j - i));
    words.push([i, j]);
    i = j;
  }
  return { sk: sk.subarray(0, n), at: at.subarray(0, n), words };
}

/**
 * The renames from old to new: both files' skeletons (words collapsed, so renames do not break
 * matches) are aligned by the differ, and each old word maps to the new word it is aligned with
 * most often, where that is at least MIN_GAIN more often than to itself. Empty when nothing pays.
 */
export function findWordMap(old: Uint8Array, nw: Uint8Array, words: Words = wordsOf(old)): WordMap {
  const a = skeleton(old);
  const b = skeleton(nw);
  if (a.words.length === 0 || b.words.length === 0) return [];
  const out = diffBytes(a.sk, b.sk, new SuffixMatcher(a.sk), newDiffOutput());
  const ctrl = out.ctrl.take();
  // counts[id]: new word → times aligned; insertion order makes ties deterministic
  const counts = new Map<number, Map<string, number>>();
  let op = 0;
  let np = 0;
  const v = new VarintReader(ctrl);
  while (!v.done) {
    op += v.svar();
    const add = v.uvar();
    const extra = v.uvar();
    for (let i = 0; i < add; i++) {
      const wa = a.at[op + i]!;
      const wb = b.at[np + i]!;
      if (wa < 0 || wb < 0) continue;
      const id = words.ids[wa]!;
      const [s, e] = b.words[wb]!;
      if (e - s > MAX_WORD) continue;
      const w = text(nw, s, e);
      let m = counts.get(id);
      if (!m) counts.set(id, (m = new Map()));
      m.set(w, (m.get(w) ?? 0) + 1);
    }
    op += add;
    np += add + extra;
  }
  const map: WordMap = [];
  for (const [id, m] of counts) {
    const self = words.vocabulary[id]!;
    let best = self;
    let most = m.get(self) ?? 0;
    const keep = most;
    for (const [w, c] of m)
      if (c > most) {
        best = w;
        most = c;
      }
    if (best !== self && most >= keep + MIN_GAIN) map.push([id, new TextEncoder().encode(best)]);
  }
  return map.sort((x, y) => x[0] - y[0]);
}

/** Writes a map (as findWordMap gives it) for readWordMap. */
export function writeWordMap(w: ByteWriter, words: Words, map: WordMap): void {
  w.uvar(map.length);
  let prev = -1;
  for (const [id, to] of map) {
    w.uvar(id - prev - 1);
    prev = id;
    const t = words.index.get(new TextDecoder('latin1').decode(to));
    if (t !== undefined) {
      w.uvar(1 + zigzag(t - id));
    } else {
      w.uvar(0);
      w.uvar(to.length);
      w.bytes(to);
    }
  }
}

export function encodeWordMap(words: Words, map: WordMap): Uint8Array {
  const w = new ByteWriter(64);
  writeWordMap(w, words, map);
  return w.take();
}

/** Reads a map against the old file's words; anything out of bounds is a CorruptPatchError. */
export async function readWordMap(r: ChunkReader, words: Words): Promise<WordMap> {
  const n = await r.uvar();
  const size = words.vocabulary.length;
  if (n > size) throw new CorruptPatchError(`patch word map has ${n} entries for ${size} old words`);
  const map: WordMap = [];
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const id = prev + 1 + (await r.uvar());
    if (id >= size) throw new CorruptPatchError(`patch word map names old word ${id} of ${size}`);
    prev = id;
    const t = await r.uvar();
    if (t === 0) {
      const len = await r.uvar();
      if (len < 1 || len > MAX_WORD) throw new CorruptPatchError(`patch word map has a word of ${len} bytes`);
      map.push([id, await r.exact(len)]);
    } else {
      const to = id + unzigzag(t - 1);
      if (to < 0 || to >= size) throw new CorruptPatchError(`patch word map names old word ${to} of ${size}`);
      map.push([id, new TextEncoder().encode(words.vocabulary[to]!)]);
    }
  }
  return map;
}
