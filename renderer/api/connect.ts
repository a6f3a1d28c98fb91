// Picks the transport once at start: the preload's window.lighter inside Electron, else the
// loopback bridge, whose token arrives once in the URL fragment (#token=...). The token is kept in
// memory only and the fragment is wiped from the address bar and history.
import { apiFrom, BridgeCallError, type BridgeReply } from '../../contract/client.js';
import { TOKEN_HEADER } from '../../contract/channels.js';
import type { LighterApi } from '../../contract/index.js';

declare global {
  interface Window {
    lighter?: LighterApi;
  }
}

function takeToken(): string | null {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const token = params.get('token');
  if (token) history.replaceState(null, '', window.location.pathname + window.location.search);
  return token;
}

function httpApi(token: string): LighterApi {
  return apiFrom(async (channel, request) => {
    let res: Response;
    try {
      res = await fetch(`./ipc/${channel}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [TOKEN_HEADER]: token },
        body: JSON.stringify(request),
        cache: 'no-store',
      });
    } catch {
      throw new BridgeCallError('failed', 'cannot reach the Lighter console: is `lighter console` still running?');
    }
    const body = (await res.json().catch(() => null)) as BridgeReply | null;
    if (!body) throw new BridgeCallError('failed', `${channel}: the console answered ${res.status} without a reply`);
    return body;
  });
}

export type Connection = { api: LighterApi } | { error: string };

export function connect(): Connection {
  if (window.lighter) return { api: window.lighter };
  const token = takeToken();
  if (!token) return { error: 'This page needs the address `lighter console` printed, with its #token=… part. Open that link, or run `lighter console` again.' };
  return { api: httpApi(token) };
}
