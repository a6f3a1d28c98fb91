// The loopback bridge: the IPC contract over HTTP on 127.0.0.1, plus the built renderer, so the app
// runs in any browser without Electron. A random per-run token (handed to the page once, in the URL
// fragment, which browsers never send) must come back in a header on every call; the Host and Origin
// checks stop DNS-rebinding pages and other sites' forms from reaching it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { CONTENT_SECURITY_POLICY } from '../../contract/csp.js';
import { EVENTS_PATH, TOKEN_HEADER, type BridgeErrorCode, type BridgeFailure } from '../../contract/index.js';
import type { EventHub } from './events.js';
import { BridgeError, type Handlers } from './handlers.js';

export const LOOPBACK = '127.0.0.1';
// a device list of a few thousand twins or a deployment manifest fits well inside
const MAX_BODY = 16 << 20;

const STATUS: Record<BridgeErrorCode, number> = {
  'invalid-request': 400,
  unauthorized: 401,
  forbidden: 403,
  'unknown-method': 404,
  'not-found': 404,
  failed: 422,
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

const SECURITY_HEADERS = {
  'content-security-policy': `${CONTENT_SECURITY_POLICY}; frame-ancestors 'none'`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export interface BridgeOptions {
  handlers: Handlers;
  /** pushed to pages as Server-Sent Events on GET /events */
  events?: EventHub;
  /** the built renderer (renderer/dist) */
  rendererDir: string;
  host?: string;
  /** 0 picks a free port */
  port?: number;
}

export interface Bridge {
  /** the address to open, carrying the token in its fragment */
  url: string;
  origin: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

class HttpError extends BridgeError {
  constructor(
    readonly status: number,
    code: BridgeErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const host = options.host ?? LOOPBACK;
  if (host !== LOOPBACK) throw new Error(`the console bridge listens on ${LOOPBACK} only, not ${host}: it serves the inventory to anyone who can reach it`);
  const token = randomBytes(32).toString('base64url');
  const root = resolve(options.rendererDir);
  let port = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = err instanceof BridgeError ? err : new BridgeError('failed', err instanceof Error ? err.message : String(err));
      const status = e instanceof HttpError ? e.status : STATUS[e.code];
      if (!res.headersSent) sendJson(res, status, { error: { code: e.code, message: e.message } } satisfies BridgeFailure);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkHost(req.headers.host, port);
    const url = new URL(req.url ?? '/', `http://${LOOPBACK}:${port}`);
    if (url.pathname.startsWith('/ipc/')) {
      checkOrigin(req.headers.origin, port);
      checkToken(req.headers[TOKEN_HEADER], token);
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        throw new HttpError(405, 'invalid-request', `${req.method} is not allowed on ${url.pathname}; use POST`);
      }
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') throw new HttpError(415, 'invalid-request', `content-type must be application/json, not ${type || '(none)'}`);
      const body = await readJson(req);
      const result = await options.handlers.invoke(decodeURIComponent(url.pathname.slice('/ipc/'.length)), body);
      sendJson(res, 200, { result: result ?? null });
      return;
    }
    if (url.pathname === EVENTS_PATH) {
      checkOrigin(req.headers.origin, port);
      checkToken(req.headers[TOKEN_HEADER], token);
      if (req.method !== 'GET') {
        res.setHeader('allow', 'GET');
        throw new HttpError(405, 'invalid-request', `${req.method} is not allowed on ${EVENTS_PATH}; use GET`);
      }
      streamEvents(req, res, options.events);
      return;
    }
    await serveStatic(req, res, root, url.pathname);
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, LOOPBACK, () => {
      server.off('error', fail);
      ok();
    });
  });
  port = (server.address() as AddressInfo).port;
  const origin = `http://${LOOPBACK}:${port}`;
  return {
    url: `${origin}/#token=${token}`,
    origin,
    token,
    port,
    close: () =>
      new Promise<void>((ok, fail) => {
        server.close((err) => (err ? fail(err) : ok()));
        server.closeAllConnections();
      }),
  };
}

/** Host must name this bridge: a DNS-rebinding page arrives with its own host name. */
function checkHost(host: string | undefined, port: number): void {
  if (host !== `${LOOPBACK}:${port}` && host !== `localhost:${port}`) {
    throw new HttpError(403, 'forbidden', `Host ${JSON.stringify(host ?? '')} is not this bridge (${LOOPBACK}:${port})`);
  }
}

/** Browsers send Origin on every POST; one that is not this bridge is another site's page. */
function checkOrigin(origin: string | undefined, port: number): void {
  if (origin === undefined) return;
  if (origin !== `http://${LOOPBACK}:${port}` && origin !== `http://localhost:${port}`) {
    throw new HttpError(403, 'forbidden', `Origin ${JSON.stringify(origin)} may not call this bridge`);
  }
}

function checkToken(given: string | string[] | undefined, token: string): void {
  const value = Array.isArray(given) ? given[0] : given;
  if (!value) throw new HttpError(401, 'unauthorized', `missing ${TOKEN_HEADER} header; open the URL \`lighter console\` printed`);
  const a = Buffer.from(value);
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new HttpError(401, 'unauthorized', `wrong ${TOKEN_HEADER}; the token changes on every run of \`lighter console\`: open the URL it printed`);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY) throw new HttpError(413, 'invalid-request', `request body of ${declared} bytes exceeds ${MAX_BODY}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'invalid-request', `request body exceeds ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, 'invalid-request', `request body is not JSON: ${(err as Error).message}`);
  }
}

async function serveStatic(req: IncomingMessage, res: ServerResponse, root: string, pathname: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    throw new HttpError(405, 'invalid-request', `${req.method} is not allowed on ${pathname}`);
  }
  let rel: string;
  try {
    rel = decodeURIComponent(pathname === '/' ? '/index.html' : pathname);
  } catch {
    throw new HttpError(400, 'invalid-request', `bad path encoding: ${pathname}`);
  }
  const file = resolve(join(root, rel));
  if (rel.includes('\0') || !file.startsWith(root + sep)) throw new HttpError(404, 'not-found', `no such file: ${pathname}`);
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    if (rel === '/index.html') throw new HttpError(500, 'failed', `the renderer is not built (${join(root, 'index.html')} is missing); run \`npm run build\``);
    throw new HttpError(404, 'not-found', `no such file: ${pathname}`);
  }
  if (!stat.isFile()) throw new HttpError(404, 'not-found', `no such file: ${pathname}`);
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': stat.size,
    // hashed asset names may be cached; the page itself must always be fresh
    'cache-control': rel === '/index.html' ? 'no-store' : 'public, max-age=31536000, immutable',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file).pipe(res);
}

/** Server-Sent Events: one `data:` line of JSON per event, a comment every 15 s keeps proxies and idle timers off. */
function streamEvents(req: IncomingMessage, res: ServerResponse, events: EventHub | undefined): void {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write('retry: 1000\n: connected\n\n');
  const unsubscribe = events?.subscribe((event) => res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`));
  const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
  ping.unref();
  const stop = () => {
    unsubscribe?.();
    clearInterval(ping);
  };
  req.on('close', stop);
  res.on('error', stop);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
