// `app`: facts about the running Lighter, for the title bar and the about box.
import { z } from 'zod';
import type { MethodOf } from './channels.js';

export const appRequests = {
  info: z.object({}).strict(),
} satisfies Record<MethodOf<'app'>, z.ZodTypeAny>;

export interface AppInfo {
  name: string;
  version: string;
  /** the directory Lighter keeps its state in */
  dataDir: string;
  /** the inventory database file in use */
  database: string;
  /** which face is serving: the Electron shell, the loopback bridge, or a headless CLI command */
  shell: 'electron' | 'bridge' | 'cli';
}

export interface AppApi {
  info(req?: z.input<typeof appRequests.info>): Promise<AppInfo>;
}
