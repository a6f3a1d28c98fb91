// Opening a deployment manifest by its path (typed in the app, or chosen in the desktop app's file
// picker): main reads it, so the renderer never touches the file system. Each way it can fail has
// its own message: no such file, not a file, unreadable, too large, not an IoT Edge manifest.
import { readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, resolve } from 'node:path';
import type { ManifestFile } from '../../contract/index.js';
import { parseManifest } from '../../core/deployment/manifest.js';

/** what `deployments.create` takes */
export const MAX_MANIFEST_BYTES = 4 << 20;

export async function readManifestFile(path: string, cwd: string = process.cwd()): Promise<ManifestFile> {
  const file = isAbsolute(path) ? path : resolve(cwd, path);
  let size: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) throw Object.assign(new Error(`${file} is not a file`), { code: 'ENOTFILE' });
    size = s.size;
  } catch (err) {
    throw new Error(describe(file, err));
  }
  if (size > MAX_MANIFEST_BYTES) throw new Error(`${file} is ${size} bytes; a deployment manifest may be at most 4 MiB`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(describe(file, err));
  }
  let modules: number;
  try {
    modules = parseManifest(text).modules.length;
  } catch (err) {
    throw new Error(`${file} is not an IoT Edge deployment manifest: ${(err as Error).message}`);
  }
  return { name: basename(file), path: file, text, modules };
}

function describe(file: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `no file ${file}`;
  if (code === 'ENOTFILE' || code === 'EISDIR') return `${file} is not a file`;
  if (code === 'EACCES' || code === 'EPERM') return `cannot read ${file}: permission denied`;
  return `cannot read ${file}: ${(err as Error).message}`;
}
