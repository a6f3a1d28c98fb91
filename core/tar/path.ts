// The one normaliser of names found in tar archives (layer tars, docker-save archives), so the
// delta engine matches, the archive index looks up and the safety scan judges the same name.
// Callers word the refusal for their own user; what counts as an escape is decided here.

/** Why a name could leave the directory it is unpacked in. */
export type PathFault = 'nul' | 'absolute' | 'parent';

/** "./a//b/" → "a/b": empty and "." components dropped; "" for the root itself. */
export function normalisePath(path: string): string {
  return path
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

/** The fault that lets `path` escape when unpacked, if any ("a/../b" counts: ".." is never needed). */
export function pathFault(path: string): PathFault | undefined {
  if (path.includes('\0')) return 'nul';
  if (path.startsWith('/')) return 'absolute';
  if (path.split('/').includes('..')) return 'parent';
  return undefined;
}

/**
 * Where a symlink at `entry` pointing to `target` leads, normalised; undefined when it leaves the
 * tree (an absolute target, or more ".." than `entry` has parents).
 */
export function resolveLink(entry: string, target: string): string | undefined {
  if (target.startsWith('/')) return undefined;
  const parts = normalisePath(entry).split('/').slice(0, -1);
  for (const p of target.split('/')) {
    if (p === '' || p === '.') continue;
    if (p !== '..') parts.push(p);
    else if (parts.pop() === undefined) return undefined;
  }
  return parts.join('/');
}
