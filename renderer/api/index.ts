// The one LighterApi the stores call; set by the session store when it connects.
import type { LighterApi } from '../../contract/index.js';

let current: LighterApi | null = null;

export function setApi(api: LighterApi): void {
  current = api;
}

export function api(): LighterApi {
  if (!current) throw new Error('not connected to Lighter');
  return current;
}
