// Layer tars are never extracted by Lighter, but they end up in a registry, a Docker engine or an
// archive that someone may unpack. Defence in depth: a rebuilt layer whose entries would escape
// the root they are unpacked into (`..`, absolute names, hardlinks out of the tree, writing
// through a symlink the same layer planted) is refused, even from a correctly signed bundle.
// Entries come from core/tar/reader.ts; what is an escape is core/tar/path.ts's call.
import type { TarEntry } from '../tar/reader.js';
import { normalisePath, pathFault } from '../tar/path.js';
import { BundleError } from './errors.js';

export type LayerEntry = Pick<TarEntry, 'type' | 'path' | 'linkpath' | 'global'>;

const FAULT = { nul: 'contains NUL', absolute: 'is absolute', parent: 'climbs out with ".."' } as const;

/**
 * pax keys a global header may not set: GNU tar applies them to every entry after it, Docker's
 * unpacker ignores them, so the same layer would unpack to different names or entries.
 */
const AMBIGUOUS_GLOBALS = ['path', 'linkpath', 'size'] as const;

function normalise(path: string, what: string): string {
  const fault = pathFault(path);
  if (fault) throw new BundleError('unsafe-entry', `${what} ${JSON.stringify(path)} ${FAULT[fault]}`);
  return normalisePath(path);
}

/** Checks a layer's entries in tar order; create one per layer. */
export class LayerSafety {
  private readonly symlinks = new Set<string>();

  check(entry: LayerEntry): void {
    if (entry.global) return checkGlobal(entry.global);
    const name = normalise(entry.path, 'entry');
    this.refuseThroughSymlink(name, entry.path);
    if (entry.type === '1') {
      const target = normalise(entry.linkpath, `hardlink ${JSON.stringify(entry.path)} ->`);
      if (target === '') throw new BundleError('unsafe-entry', `hardlink ${JSON.stringify(entry.path)} has no target`);
      this.refuseThroughSymlink(target, `hardlink target of ${entry.path}`);
    }
    if (entry.type === '2') this.symlinks.add(name);
    else this.symlinks.delete(name);
  }

  private refuseThroughSymlink(name: string, shown: string): void {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (this.symlinks.has(dir)) throw new BundleError('unsafe-entry', `${JSON.stringify(shown)} is written through symlink ${JSON.stringify(dir)}`);
    }
  }
}

function checkGlobal(records: ReadonlyMap<string, string>): void {
  for (const key of AMBIGUOUS_GLOBALS) {
    const value = records.get(key);
    if (value === undefined) continue;
    if (key !== 'size') normalise(value, `pax global ${key}`); // an escaping name is refused as the escape it is
    throw new BundleError('unsafe-entry', `a pax global header sets ${key}=${JSON.stringify(value)} for every entry after it, which unpackers disagree on (GNU tar applies it, Docker ignores it)`);
  }
}
