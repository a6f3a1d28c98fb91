// One HTTP exchange with a registry over node:http(s): streamed bodies both ways, redirects
// followed for GET/HEAD, and plain HTTP only where it is safe (loopback) or explicitly allowed.
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  url: URL;
}

export interface RequestOptions {
  method: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  insecure?: boolean;
  /** ms without progress before the exchange is abandoned */
  timeout?: number;
}

/** 127.0.0.0/8, localhost and ::1, with or without a port. */
export function isLoopback(host: string): boolean {
  const h = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export function send(url: URL, opts: RequestOptions, redirects = 5): Promise<Response> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, {
      method: opts.method,
      headers: opts.headers,
      rejectUnauthorized: !opts.insecure,
      timeout: opts.timeout ?? 120_000,
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${(opts.timeout ?? 120_000) / 1000}s`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if ((opts.method === 'GET' || opts.method === 'HEAD') && [301, 302, 303, 307, 308].includes(status) && location && redirects > 0) {
        res.resume();
        const next = new URL(location, url);
        if (next.protocol === 'http:' && url.protocol === 'https:' && !opts.insecure) {
          reject(new Error(`${url.host} redirected to plain HTTP (${next.host}); refusing without --insecure`));
          return;
        }
        // credentials are for the registry, not for the storage it redirects to
        const headers = { ...opts.headers };
        if (next.host !== url.host) delete headers.authorization;
        send(next, { ...opts, headers }, redirects - 1).then(resolve, reject);
        return;
      }
      resolve({ status, headers: res.headers, body: res, url });
    });
    const body = opts.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

export async function readBody(res: Response, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      res.body.destroy();
      throw new Error(`${what} is larger than ${limit} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
