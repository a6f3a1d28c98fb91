// ustar headers for the archives Lighter writes (docker-archive: layer, config and manifest
// entries), byte for byte as tar-stream's pack writes them, which the archive writer used before:
// the same archive bytes whatever writes them.
import { BLOCK, headerChecksum } from './reader.js';

const encoder = new TextEncoder();

function octal(b: Uint8Array, at: number, value: number, digits: number): void {
  const s = value.toString(8);
  // tar-stream writes all sevens when a value does not fit (never for the fields written here)
  b.set(encoder.encode(s.length > digits ? `${'7'.repeat(digits)} ` : `${s.padStart(digits, '0')} `), at);
}

/**
 * A ustar header for a regular file or a directory with uid/gid 0, no user or group names, and
 * `mtime` in seconds. Names longer than 100 bytes are split into prefix and name at a '/' as
 * tar-stream does; a name that does not fit that way (or is not ASCII) is refused: no entry
 * Lighter writes has one. Sizes from 8 GiB on are written in base-256.
 */
export function ustarHeader(entry: { name: string; size: number; type: 'file' | 'directory'; mode: number; mtime: number }): Uint8Array {
  let name = entry.name; // as given: tar-stream adds no '/' to a directory's name either
  let prefix = '';
  if (!/^[\x01-\x7f]*$/.test(name)) throw new Error(`tar entry name ${JSON.stringify(name)} is not ASCII`);
  while (name.length > 100) {
    const i = name.indexOf('/');
    if (i === -1) break;
    prefix += prefix ? `/${name.slice(0, i)}` : name.slice(0, i);
    name = name.slice(i + 1);
  }
  if (name.length > 100 || prefix.length > 155) throw new Error(`tar entry name ${JSON.stringify(entry.name)} is too long for a ustar header`);
  const b = new Uint8Array(BLOCK);
  b.set(encoder.encode(name), 0);
  octal(b, 100, entry.mode & 0o7777, 6);
  octal(b, 108, 0, 6);
  octal(b, 116, 0, 6);
  const size = entry.type === 'directory' ? 0 : entry.size;
  if (size.toString(8).length > 11) {
    b[124] = 0x80;
    for (let i = 11, n = size; i > 0; i--) {
      b[124 + i] = n % 256;
      n = Math.floor(n / 256);
    }
  } else octal(b, 124, size, 11);
  octal(b, 136, entry.mtime, 11);
  b[156] = entry.type === 'directory' ? 0x35 : 0x30;
  b.set(encoder.encode('ustar\x0000'), 257);
  octal(b, 329, 0, 6);
  octal(b, 337, 0, 6);
  if (prefix) b.set(encoder.encode(prefix), 345);
  octal(b, 148, headerChecksum(b), 6);
  return b;
}
