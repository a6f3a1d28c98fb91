// The target image config coded against the base image's config (patch format 5,
// docs/patch-format.md "Header JSON"): the device has the base config, and a rebuilt image's
// config differs from it in a few fields (created, history timestamps, container ids, diff_ids).
// The delta is a list of JSON items over the two configs as text (UTF-16 code units): a string is
// inserted, a pair [start, length] copies that many code units of the base config from start.
// On app-update (2,374-character config) the compressed header went from 1,422 to 958 B.
import { PatchFormatError } from './format.js';

export type ConfigDeltaItem = string | [number, number];

/** Shortest copy worth an item: `[1234,56],` is about 10 characters of JSON. */
const MIN_COPY = 16;
/** Characters hashed to find copy candidates, and candidates kept per hash (latest first). */
const GRAM = 8;
const CANDIDATES = 32;

/**
 * Greedy left-to-right: at each target position the longest base match starting with the same
 * GRAM characters among the last CANDIDATES positions with that gram; shorter than MIN_COPY is
 * inserted. Deterministic, linear in the configs' sizes times CANDIDATES.
 */
export function encodeConfigDelta(base: string, target: string): ConfigDeltaItem[] {
  const at = new Map<string, number[]>();
  for (let i = 0; i + GRAM <= base.length; i++) {
    const g = base.slice(i, i + GRAM);
    const list = at.get(g);
    if (!list) at.set(g, [i]);
    else {
      list.push(i);
      if (list.length > CANDIDATES) list.shift();
    }
  }
  const out: ConfigDeltaItem[] = [];
  let insert = '';
  let t = 0;
  while (t < target.length) {
    let best = 0;
    let from = 0;
    for (const s of at.get(target.slice(t, t + GRAM)) ?? []) {
      let n = 0;
      while (s + n < base.length && t + n < target.length && base.charCodeAt(s + n) === target.charCodeAt(t + n)) n++;
      if (n > best) [best, from] = [n, s];
    }
    if (best >= MIN_COPY) {
      if (insert) out.push(insert);
      insert = '';
      out.push([from, best]);
      t += best;
    } else insert += target[t++];
  }
  if (insert) out.push(insert);
  return out;
}

/** The target config text from the base config text and the delta; a copy outside the base is a corrupt patch. */
export function applyConfigDelta(base: string, delta: readonly ConfigDeltaItem[], maxLength: number): string {
  const parts: string[] = [];
  let length = 0;
  for (const item of delta) {
    let part: string;
    if (typeof item === 'string') part = item;
    else {
      const [start, n] = item;
      if (start + n > base.length) throw new PatchFormatError(`patch config delta copies base config characters ${start}–${start + n}, beyond its ${base.length}`);
      part = base.slice(start, start + n);
    }
    length += part.length;
    if (length > maxLength) throw new PatchFormatError(`patch config delta gives more than ${maxLength} characters`);
    parts.push(part);
  }
  return parts.join('');
}
