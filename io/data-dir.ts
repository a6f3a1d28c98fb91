// Where Lighter keeps its data when nobody says: $LIGHTER_DATA_DIR, else the XDG data directory
// ($XDG_DATA_HOME or ~/.local/share, then lighter). The one resolver for the CLI, the app, the
// edge module and the scratch space. An empty variable counts as unset (as a shell's `VAR=` means),
// never as the current directory.
import { homedir } from 'node:os';
import { join } from 'node:path';

export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LIGHTER_DATA_DIR) return env.LIGHTER_DATA_DIR;
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'lighter');
}
