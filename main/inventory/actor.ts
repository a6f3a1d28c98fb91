// Who a command or the app acts as: recorded by the inventory's audit log and by job history.
// Apart from the inventory (main/inventory/store.ts), so that commands without one (`lighter patch`,
// standaloneJobs) do not load it.
import { userInfo } from 'node:os';

/** Who acts: --user, else LIGHTER_USER, else the OS account. */
export function resolveActor(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const who = flag || env.LIGHTER_USER || userInfo().username;
  if (!who) throw new Error('cannot tell who is acting; pass --user NAME or set LIGHTER_USER');
  return who;
}
