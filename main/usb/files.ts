// File helpers for sticks: hashing a byte range, telling a medium's read error from anything else,
// and how much a directory's filesystem can still take (and whether it is FAT, with its 4 GiB limit).
import { formatBytes as units } from '../../core/units.js';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { FAT32_FILE_LIMIT, UsbError } from '../../core/usb/stick.js';

/** errno codes that mean the medium (or its driver) failed, not that the bytes were changed. */
const READ_ERRORS = new Set(['EIO', 'ENXIO', 'ENODEV', 'ESTALE', 'ETIMEDOUT', 'EREMOTEIO']);

export function isReadError(err: unknown): err is NodeJS.ErrnoException {
  return typeof err === 'object' && err !== null && READ_ERRORS.has((err as NodeJS.ErrnoException).code ?? '');
}

export function asReadError(err: unknown, what: string): unknown {
  return isReadError(err) ? new UsbError('read-error', `${what}: the medium failed to read (${err.code}); the stick or its port is failing, not tampered with; copy again or try another port`) : err;
}

/** sha256 of `size` bytes of `path` from `offset`; `onBytes` sees progress. */
export async function hashRange(path: string, offset: number, size: number, onBytes?: (n: number) => void): Promise<string> {
  const hash = createHash('sha256');
  if (size > 0) {
    for await (const c of createReadStream(path, { start: offset, end: offset + size - 1 })) {
      hash.update(c as Buffer);
      onBytes?.((c as Buffer).length);
    }
  }
  return `sha256:${hash.digest('hex')}`;
}

// statfs f_type of FAT (vfat, msdos) and exFAT; FAT keeps files under 4 GiB, exFAT does not.
const MSDOS_SUPER_MAGIC = 0x4d44;

export async function mediaFacts(dir: string): Promise<{ free: number; fileLimit: number; fat: boolean }> {
  const st = await fs.statfs(dir);
  const fat = st.type === MSDOS_SUPER_MAGIC;
  return { free: st.bavail * st.bsize, fileLimit: fat ? FAT32_FILE_LIMIT : Number.MAX_SAFE_INTEGER, fat };
}

/** "1.50 GiB (1,610,612,736 bytes)": messages about room name exact bytes too. */
export function formatBytes(n: number): string {
  return `${units(n)} (${n.toLocaleString('en-US')} bytes)`;
}
