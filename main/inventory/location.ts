// Where the inventory lives when nobody says: the app's data directory, so Lighter runs with no config.
import { join } from 'node:path';
import { dataDir } from '../../io/data-dir.js';

export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDir(env), 'lighter.db');
}
