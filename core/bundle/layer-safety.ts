// Layer tars are never extracted by Lighter, but they end up in a registry, a Docker engine or an
// archive that someone may unpack. Defence in depth: a rebuilt layer whose entries would escape
// the root they are unpacked into (`..`, absolute names, hardlinks out of the tree, writing
// through a symlink the same layer planted) is refused, even from a correctly signed bundle.
import { BundleError } from './errors.js';

export interface LayerEntry {
  name: string;
  type: string;
  linkname?: string | null;
}

function normalise(path: string, what: string): string {
  if (path.includes('\0')) throw new BundleError('unsafe-entry', `${what} ${JSON.stringify(path)} contains NUL`);
  if (path.startsWith('/')) throw new BundleError('unsafe-entry', `${what} ${JSON.stringify(path)} is absolute`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new BundleError('unsafe-entry', `${what} ${JSON.stringify(path)} climbs out with ".."`);
  return parts.join('/');
}

/** Checks a layer's entries in tar order; create one per layer. */
export class LayerSafety {
  private readonly symlinks = new Set<string>();

  check(entry: LayerEntry): void {
    const name = normalise(entry.name, 'entry');
    this.refuseThroughSymlink(name, entry.name);
    if (entry.type === 'link') {
      const target = normalise(entry.linkname ?? '', `hardlink ${JSON.stringify(entry.name)} ->`);
      if (target === '') throw new BundleError('unsafe-entry', `hardlink ${JSON.stringify(entry.name)} has no target`);
      this.refuseThroughSymlink(target, `hardlink target of ${entry.name}`);
    }
    if (entry.type === 'symlink') this.symlinks.add(name);
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
