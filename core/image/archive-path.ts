// Names inside an archive are hostile until checked: no absolute paths, no "..", and links may
// only point at other entries of the same archive. What is an escape is core/tar/path.ts's call.
import { normalisePath, pathFault, resolveLink } from '../tar/path.js';

const FAULT = { nul: 'contains NUL', absolute: 'has an absolute path', parent: 'escapes the archive (path traversal)' } as const;

/** Normalises an entry name ("./a//b/" → "a/b"); throws on an absolute path, NUL or a ".." component. */
export function safeEntryName(name: string, archive: string): string {
  const fault = pathFault(name);
  if (fault) throw new Error(`${archive}: entry ${JSON.stringify(name)} ${FAULT[fault]}`);
  return normalisePath(name);
}

/** The entry a symlink at `entry` pointing to `target` names, or an error when it leaves the archive. */
export function resolveSymlink(entry: string, target: string, archive: string): string {
  const to = resolveLink(entry, target);
  if (to === undefined) throw new Error(`${archive}: symlink ${JSON.stringify(entry)} points outside the archive (to ${JSON.stringify(target)})`);
  return to;
}
