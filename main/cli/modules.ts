// The one list of the CLI's command modules (main/cli/index.ts builds the program from it).
import type { CommandSpec } from './command.js';

/**
 * Every command module, with the first words of the commands it defines: a command line loads only
 * the module that defines its command (`lighter bundle apply` never loads the hub's Azure SDK or
 * the inventory's SQLite), help and unknown commands load them all. modules.test.ts checks the words.
 */
export const MODULES: Array<{ words: string[]; load: () => Promise<{ commands: CommandSpec[] }> }> = [
  // image I/O
  { words: ['inspect', 'copy'], load: () => import('./commands/image.js') },
  // delta engine
  { words: ['diff', 'patch'], load: () => import('./commands/delta.js') },
  // bundles, keys and signatures
  { words: ['keys', 'signature', 'bundle'], load: () => import('./commands/bundle.js') },
  // inventory and planning
  { words: ['db', 'plan'], load: () => import('./commands/db.js') },
  // transports: uploads to a storage account
  { words: ['upload'], load: () => import('./commands/upload.js') },
  // deployments, built once
  { words: ['deployment'], load: () => import('./commands/deployment.js') },
  // USB sticks out, receipts back
  { words: ['usb', 'keys'], load: () => import('./commands/usb.js') },
  // IoT Hub: connections, sync, push; notifications and their mail
  { words: ['hub', 'notify'], load: () => import('./commands/hub.js') },
  // the app without Electron: loopback bridge + renderer in a browser
  { words: ['console'], load: () => import('./commands/console.js') },
];
