// A real Docker registry (Debian's docker-registry) on a free loopback port with its own storage,
// started by the test that needs it and stopped by it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:41234 */
  host: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** seconds docker-registry 2.8 lets a token live past its exp and before its nbf */
const REGISTRY_LEEWAY = 60;

/**
 * A token server as Azure Container Registry and Docker Hub use: clients that get a Bearer
 * challenge ask it (with basic credentials) for a JWT the registry verifies against our cert.
 */
async function startTokenServer(dir: string, users: Record<string, string>, ttl: number, grants: TokenGrants | undefined): Promise<{ realm: string; cert: string; requests: string[]; stop(): Promise<void> }> {
  const key = join(dir, 'token-key.pem');
  const cert = join(dir, 'token-cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=lighter-test-token'], { stdio: 'ignore' });
  const privateKey = createPrivateKey(readFileSync(key));
  const der = new X509Certificate(readFileSync(cert)).raw.toString('base64');
  const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  const requests: string[] = [];
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [user, pass] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().split(':');
    requests.push(url.searchParams.getAll('scope').join(' '));
    if (!user || users[user] !== pass) {
      res.writeHead(401).end('{"details":"bad credentials"}');
      return;
    }
    // "repository:team/app:pull,push": the actions after the last colon, the name between
    const access = url.searchParams.getAll('scope').map((sc) => {
      const type = sc.slice(0, sc.indexOf(':'));
      const name = sc.slice(sc.indexOf(':') + 1, sc.lastIndexOf(':'));
      const actions = sc.slice(sc.lastIndexOf(':') + 1).split(',').filter((a) => !grants || grants(user, type, name, a));
      return { type, name, actions };
    });
    // docker-registry accepts a token up to 60 s past its exp (clock-skew leeway), so a token
    // meant to live TTL seconds carries exp = now + ttl - 60
    const now = Math.floor(Date.now() / 1000);
    const body = `${b64url({ typ: 'JWT', alg: 'ES256', x5c: [der] })}.${b64url({ iss: 'lighter-test-issuer', sub: user, aud: url.searchParams.get('service'), exp: now + ttl - REGISTRY_LEEWAY, nbf: now - REGISTRY_LEEWAY - 10, iat: now - REGISTRY_LEEWAY, jti: randomBytes(8).toString('hex'), access })}`;
    const sig = sign('sha256', Buffer.from(body), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${body}.${sig.toString('base64url')}` }));
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  return { realm: `http://127.0.0.1:${port}/token`, cert, requests, stop: () => new Promise((r) => server.close(() => r())) };
}

/** Whether USER may do ACTION on the resource (TYPE "repository" or "registry", NAME); the rest of a scope is left out of the token, as real token servers do. */
export type TokenGrants = (user: string, type: string, name: string, action: string) => boolean;

/**
 * options.htpasswd: contents of an htpasswd file (bcrypt) to require basic auth.
 * options.tokenUsers: user → password for bearer-token auth through a token server (see `tokenRequests`).
 * options.tokenTtl: seconds each token stays valid (default 600); the token response does not say.
 * options.tokenGrants: which asked-for actions a token carries (default: all of them).
 */
export async function startRegistry(options: { htpasswd?: string; tokenUsers?: Record<string, string>; tokenTtl?: number; tokenGrants?: TokenGrants } = {}): Promise<TestRegistry & { tokenRequests: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'lighter-registry-'));
  const port = await freePort();
  const token = options.tokenUsers ? await startTokenServer(dir, options.tokenUsers, options.tokenTtl ?? 600, options.tokenGrants) : undefined;
  const auth = options.htpasswd
    ? (writeFileSync(join(dir, 'htpasswd'), options.htpasswd), `auth:\n  htpasswd:\n    realm: lighter-test\n    path: ${join(dir, 'htpasswd')}\n`)
    : token
      ? `auth:\n  token:\n    realm: ${token.realm}\n    service: lighter-test\n    issuer: lighter-test-issuer\n    rootcertbundle: ${token.cert}\n`
      : '';
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`,
  );
  const proc: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    try {
      const res = await fetch(`http://${host}/v2/`);
      if (res.status === 200 || res.status === 401) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    tokenRequests: token?.requests ?? [],
    async stop() {
      await token?.stop();
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestProxy {
  host: string;
  /** bytes sent from clients towards the registry so far */
  readonly uploaded: number;
  /** connections cut so far */
  readonly cuts: number;
  stop(): Promise<void>;
}

/**
 * A loopback TCP proxy to `target` that drops every connection (both directions) once the bytes
 * sent towards the registry pass `cutAfter`, `times` times — a link failing mid-upload. With
 * `atRequest` (e.g. "PATCH ") the cut waits for the next request starting with it and forwards
 * none of that request; without, it cuts mid-stream at the exact byte.
 */
export async function startCuttingProxy(target: string, cutAfter: number, opts: { times?: number; atRequest?: string } = {}): Promise<TestProxy> {
  const times = opts.times ?? 1;
  const [thost, tport] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  let uploaded = 0;
  let cuts = 0;
  let nextCut = cutAfter;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(tport, thost);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (d: Buffer) => {
      if (cuts < times && opts.atRequest && uploaded >= nextCut && d.subarray(0, opts.atRequest.length).toString() === opts.atRequest) {
        cuts++;
        nextCut = uploaded + cutAfter;
        drop();
        return;
      }
      uploaded += d.length;
      if (cuts < times && !opts.atRequest && uploaded >= nextCut) {
        // forward only what fits before the cut, then fail the link
        const keep = d.length - (uploaded - nextCut);
        if (keep > 0) upstream.write(d.subarray(0, keep));
        cuts++;
        nextCut = uploaded + cutAfter;
        setTimeout(drop, 50);
        return;
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    client.on('close', () => (sockets.delete(client), upstream.end()));
    upstream.on('close', () => (sockets.delete(upstream), client.end()));
    client.on('error', drop);
    upstream.on('error', drop);
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  return {
    host: `127.0.0.1:${port}`,
    get uploaded() {
      return uploaded;
    },
    get cuts() {
      return cuts;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * An HTTP proxy to `target` that answers `status` (with extra `headers`, e.g. Retry-After) instead
 * of forwarding when `match` says so. It listens on loopback unless `listen` names another local
 * address.
 */
export async function startFailingProxy(
  target: string,
  match: (method: string, path: string) => number | { status: number; headers: Record<string, string> } | undefined,
  listen = '127.0.0.1',
): Promise<TestProxy> {
  let uploaded = 0;
  const server = createHttpServer((req, res) => {
    const answer = match(req.method ?? 'GET', req.url ?? '/');
    if (answer !== undefined) {
      const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : answer;
      req.resume();
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: `injected ${status}` }] }));
      return;
    }
    req.on('data', (d: Buffer) => (uploaded += d.length));
    const up = httpRequest({ host: target.split(':')[0], port: Number(target.split(':')[1]), method: req.method, path: req.url, headers: req.headers }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const port = await new Promise<number>((resolve) => server.listen(0, listen, () => resolve((server.address() as AddressInfo).port)));
  return {
    host: `${listen}:${port}`,
    get uploaded() {
      return uploaded;
    },
    cuts: 0,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
