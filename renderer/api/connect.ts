// Picks the transport once at start: the preload's window.lighter inside Electron, else the
// loopback bridge, whose token arrives once in the URL fragment (#token=...). The token is wiped
// from the address bar and history and kept in this tab's sessionStorage only, so a reload of the
// tab still works while other tabs, other sites and a new browser session never see it.
import { apiFrom, BridgeCallError, type BridgeReply } from '../../contract/client.js';
import { TOKEN_HEADER } from '../../contract/channels.js';
import { EVENTS_PATH, type BridgeEvent, type EventSubscription } from '../../contract/events.js';
import type { LighterApi } from '../../contract/index.js';

declare global {
  interface Window {
    lighter?: LighterApi;
    lighterEvents?: EventSubscription;
  }
}

const TOKEN_KEY = 'lighter.token';

function takeToken(): string | null {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const token = params.get('token');
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', window.location.pathname + window.location.search);
    return token;
  }
  return sessionStorage.getItem(TOKEN_KEY);
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

/** Events, plus a callback whenever the stream (re)opens: what was missed must be re-read then. */
export interface Events {
  subscribe(listener: (event: BridgeEvent) => void): () => void;
  onOpen(listener: () => void): () => void;
}

/**
 * Server-Sent Events read with fetch (EventSource cannot send the token header), reconnecting
 * after a drop with a short back-off.
 */
function httpEvents(token: string): Events {
  const listeners = new Set<(event: BridgeEvent) => void>();
  const opens = new Set<() => void>();
  let started = false;
  const run = async () => {
    for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
      try {
        const res = await fetch(`.${EVENTS_PATH}`, { headers: { [TOKEN_HEADER]: token }, cache: 'no-store' });
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
        delay = 500;
        for (const o of opens) o();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const data = block
              .split('\n')
              .filter((l) => l.startsWith('data: '))
              .map((l) => l.slice(6))
              .join('\n');
            if (!data) continue;
            const event = JSON.parse(data) as BridgeEvent;
            for (const l of listeners) l(event);
          }
        }
      } catch {
        // the console restarted or the network blipped: try again
      }
      await new Promise((ok) => setTimeout(ok, delay));
    }
  };
  return {
    subscribe(listener) {
      listeners.add(listener);
      if (!started) {
        started = true;
        void run();
      }
      return () => listeners.delete(listener);
    },
    onOpen(listener) {
      opens.add(listener);
      return () => opens.delete(listener);
    },
  };
}

function electronEvents(sub: EventSubscription): Events {
  return {
    subscribe: (listener) => sub.subscribe(listener),
    // IPC has no stream to drop: it is open from the start
    onOpen(listener) {
      queueMicrotask(listener);
      return () => {};
    },
  };
}

export type Connection = { api: LighterApi; events: Events } | { error: string };

export function connect(): Connection {
  if (window.lighter && window.lighterEvents) return { api: window.lighter, events: electronEvents(window.lighterEvents) };
  const token = takeToken();
  if (!token) return { error: 'This page needs the address `lighter console` printed, with its #token=… part. Open that link, or run `lighter console` again.' };
  return { api: httpApi(token), events: httpEvents(token) };
}
