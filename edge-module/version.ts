// The module's version, from the package.json it ships with (found upward from this file, so it
// is the same from the sources, from dist/ and inside the module's container image).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)), n = 0; n < 4; dir = dirname(dir), n++) {
    const p = join(dir, 'package.json');
    if (!existsSync(p)) continue;
    const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'lighter' && pkg.version) return pkg.version;
  }
  return '0.0.0-unknown';
}

export const MODULE_VERSION = findVersion();
