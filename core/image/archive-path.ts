// Names inside an archive are hostile until checked: no absolute paths, no "..", and links may
// only point at other entries of the same archive.

/** Normalises an entry name ("./a//b/" → "a/b"); throws on an absolute path or a ".." component. */
export function safeEntryName(name: string, archive: string): string {
  if (name.startsWith('/')) throw new Error(`${archive}: entry ${JSON.stringify(name)} has an absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new Error(`${archive}: entry ${JSON.stringify(name)} escapes the archive (path traversal)`);
  return parts.join('/');
}

/** The entry a symlink at `entry` pointing to `target` names, or an error when it leaves the archive. */
export function resolveSymlink(entry: string, target: string, archive: string): string {
  if (target.startsWith('/')) throw new Error(`${archive}: symlink ${JSON.stringify(entry)} points outside the archive (to ${JSON.stringify(target)})`);
  const parts = entry.split('/').slice(0, -1);
  for (const p of target.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) throw new Error(`${archive}: symlink ${JSON.stringify(entry)} points outside the archive (to ${JSON.stringify(target)})`);
      parts.pop();
    } else parts.push(p);
  }
  return parts.join('/');
}
