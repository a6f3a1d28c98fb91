// The one LighterApi and event stream the stores use; set by the session store when it connects.
import type { LighterApi } from '../../contract/index.js';
import type { Events } from './connect.js';

let current: { api: LighterApi; events: Events } | null = null;

export function setConnection(api: LighterApi, events: Events): void {
  current = { api, events };
}

export function api(): LighterApi {
  if (!current) throw new Error('not connected to Lighter');
  return current.api;
}

export function events(): Events {
  if (!current) throw new Error('not connected to Lighter');
  return current.events;
}
