// A real Docker registry (Debian's docker-registry) on a free loopback port with its own storage,
// started by the test that needs it and stopped by it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** options.htpasswd: contents of an htpasswd file (bcrypt) to require basic auth. */
export async function startRegistry(options: { htpasswd?: string } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'lighter-registry-'));
  const port = await freePort();
  const auth = options.htpasswd
    ? (writeFileSync(join(dir, 'htpasswd'), options.htpasswd), `auth:\n  htpasswd:\n    realm: lighter-test\n    path: ${join(dir, 'htpasswd')}\n`)
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
    async stop() {
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

/** A loopback HTTP proxy to `target` that answers `status` instead of forwarding when `match` says so. */
export async function startFailingProxy(target: string, match: (method: string, path: string) => number | undefined): Promise<TestProxy> {
  let uploaded = 0;
  const server = createHttpServer((req, res) => {
    const status = match(req.method ?? 'GET', req.url ?? '/');
    if (status !== undefined) {
      req.resume();
      res.writeHead(status, { 'content-type': 'application/json' });
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
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  return {
    host: `127.0.0.1:${port}`,
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
