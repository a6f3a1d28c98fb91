// The loopback bridge against the real inventory service on a temp database: what it refuses
// (no token, wrong token, foreign Host or Origin, bad requests, other binds) and what it serves.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_HEADER } from '../../contract/index.js';
import { buildServices, type Services } from '../services.js';
import { parseDeviceList } from '../inventory/import-devices.js';
import { openInventory } from '../inventory/open.js';
import { Inventory } from '../inventory/store.js';
import { startBridge, type Bridge } from './server.js';

let dir: string;
let services: Services;
let bridge: Bridge;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: bridge.port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function call(channel: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return send(`/ipc/${channel}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [TOKEN_HEADER]: bridge.token, ...headers },
    body: JSON.stringify(body),
  });
}

const json = (a: Answer) => JSON.parse(a.body) as { result?: unknown; error?: { code: string; message: string } };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lighter-bridge-'));
  const file = join(dir, 'inventory.db');
  const db = await openInventory(file);
  const inv = new Inventory(db, 'ana');
  // the JSON `az iot hub device-identity list` prints, through the real import parser
  const twins = [
    { deviceId: 'aurora-01', connectionState: 'Connected', capabilities: { iotEdge: true }, tags: { group: 'tankers', vessel: 'MV Aurora', displayName: 'Aurora gateway' } },
    { deviceId: 'pit7-01', connectionState: 'Disconnected', capabilities: { iotEdge: true }, tags: { group: 'mining', site: 'Pit 7' } },
  ];
  inv.importDevices(parseDeviceList(JSON.stringify(twins), { hub: 'hub-1' }), 'file', 'devices.json');
  inv.recordImage('aurora-01', { name: 'fleetacr.azurecr.io/telemetry:1.4' });
  db.close();

  const ui = join(dir, 'ui');
  mkdirSync(join(ui, 'assets'), { recursive: true });
  writeFileSync(join(ui, 'index.html'), '<!doctype html><title>Lighter</title>');
  writeFileSync(join(ui, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'outside the renderer');

  services = await buildServices({ database: file, shell: 'bridge' });
  bridge = await startBridge({ handlers: services.handlers, events: services.events, rendererDir: ui });
});

afterAll(async () => {
  await bridge?.close();
  await services?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('loopback bridge', () => {
  it('listens on 127.0.0.1 only and prints a URL carrying the token in its fragment', async () => {
    expect(bridge.origin).toBe(`http://127.0.0.1:${bridge.port}`);
    expect(bridge.url).toBe(`${bridge.origin}/#token=${bridge.token}`);
    expect(bridge.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // any other address of this machine must not answer
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && a.family === 'IPv4' && !a.internal)
      .map((a) => a!.address);
    for (const address of others) {
      const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
        const req = request({ host: address, port: bridge.port, path: '/' }, () => resolve(null));
        req.on('error', resolve);
        req.end();
      });
      expect(err?.code, `reachable on ${address}`).toBe('ECONNREFUSED');
    }
  });

  it('refuses to bind anything but 127.0.0.1', async () => {
    for (const host of ['0.0.0.0', '::', 'localhost', '192.168.1.10']) {
      await expect(startBridge({ handlers: services.handlers, rendererDir: dir, host })).rejects.toThrow(/listens on 127\.0\.0\.1 only/);
    }
  });

  it('each run has its own token', async () => {
    const other = await startBridge({ handlers: services.handlers, rendererDir: dir });
    try {
      expect(other.token).not.toBe(bridge.token);
    } finally {
      await other.close();
    }
  });

  it('answers calls that carry the token with real inventory data', async () => {
    const a = await call('inventory.devices', { group: 'tankers' });
    expect(a.status).toBe(200);
    const list = json(a).result as { devices: Array<{ id: string; images: { present: number } }>; facets: { groups: string[] } };
    expect(list.devices.map((d) => d.id)).toEqual(['aurora-01']);
    expect(list.devices[0]!.images.present).toBe(1);
    expect(list.facets.groups).toEqual(['mining', 'tankers']);
    const info = json(await call('app.info', {})).result as { database: string; shell: string };
    expect(info).toMatchObject({ database: join(dir, 'inventory.db'), shell: 'bridge' });
  });

  it('rejects calls without the token, or with a wrong one, with 401', async () => {
    const none = await send('/ipc/inventory.status', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(none.status).toBe(401);
    expect(json(none).error).toMatchObject({ code: 'unauthorized', message: expect.stringContaining(`missing ${TOKEN_HEADER}`) });
    const wrong = await call('inventory.status', {}, { [TOKEN_HEADER]: bridge.token.slice(1) + 'A' });
    expect(wrong.status).toBe(401);
    expect(json(wrong).error!.message).toMatch(/wrong x-lighter-token/);
    // even unknown methods need the token first: nothing is revealed without it
    const unknown = await send('/ipc/nope.nothing', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(unknown.status).toBe(401);
  });

  it('rejects a foreign Host (DNS rebinding) on every path, and a foreign Origin on calls', async () => {
    const rebound = await call('inventory.status', {}, { host: `evil.example:${bridge.port}` });
    expect(rebound.status).toBe(403);
    expect(json(rebound).error!.message).toMatch(/Host "evil\.example:\d+" is not this bridge/);
    expect((await send('/', { headers: { host: `evil.example:${bridge.port}` } })).status).toBe(403);
    const csrf = await call('inventory.status', {}, { origin: 'https://evil.example' });
    expect(csrf.status).toBe(403);
    expect(json(csrf).error!.message).toMatch(/Origin "https:\/\/evil\.example" may not call/);
    expect((await call('inventory.status', {}, { origin: bridge.origin })).status).toBe(200);
    expect((await call('inventory.status', {}, { host: `localhost:${bridge.port}`, origin: `http://localhost:${bridge.port}` })).status).toBe(200);
  });

  it('turns schema violations into specific 400s', async () => {
    const wrongType = await call('inventory.devices', { group: 5 });
    expect(wrongType.status).toBe(400);
    expect(json(wrongType).error).toEqual({ code: 'invalid-request', message: 'inventory.devices: group: Expected string, received number' });
    const extra = await call('inventory.auditLog', { limit: 10, bogus: true });
    expect(extra.status).toBe(400);
    expect(json(extra).error!.message).toBe("inventory.auditLog: Unrecognized key(s) in object: 'bogus'");
    const range = await call('inventory.transfersPerDay', { days: 1000 });
    expect(json(range).error!.message).toMatch(/^inventory\.transfersPerDay: days: Number must be less than or equal to 366$/);
    const empty = await call('inventory.device', { id: '  ' });
    expect(json(empty).error!.message).toBe('inventory.device: id: must not be empty');
    const notJson = await send('/ipc/inventory.status', { method: 'POST', headers: { 'content-type': 'application/json', [TOKEN_HEADER]: bridge.token }, body: '{oops' });
    expect(notJson.status).toBe(400);
    expect(json(notJson).error!.message).toMatch(/^request body is not JSON/);
  });

  it('answers unknown methods with 404 and lists the known ones', async () => {
    const a = await call('inventory.dropTables', {});
    expect(a.status).toBe(404);
    expect(json(a).error!.code).toBe('unknown-method');
    expect(json(a).error!.message).toMatch(/unknown method "inventory\.dropTables"; known: app\.info, deployments\.create/);
  });

  it('passes a service refusal through with its own message', async () => {
    const a = await call('inventory.device', { id: 'ghost-01' });
    expect(a.status).toBe(422);
    expect(json(a).error).toEqual({ code: 'failed', message: expect.stringMatching(/^inventory\.device: unknown device "ghost-01"/) });
  });

  it('accepts only JSON POSTs of bounded size on /ipc', async () => {
    const get = await send('/ipc/inventory.status', { headers: { [TOKEN_HEADER]: bridge.token } });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    // a form post (what a cross-site <form> can send) is not JSON
    const form = await send('/ipc/inventory.status', { method: 'POST', headers: { 'content-type': 'text/plain', [TOKEN_HEADER]: bridge.token }, body: '{}' });
    expect(form.status).toBe(415);
    const big = await send('/ipc/inventory.status', {
      method: 'POST',
      headers: { 'content-type': 'application/json', [TOKEN_HEADER]: bridge.token },
      body: JSON.stringify({ pad: 'x'.repeat(16 << 20) }),
    });
    expect(big.status).toBe(413);
  });

  it('serves the renderer with a strict CSP and nothing outside it', async () => {
    const page = await send('/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Lighter</title>');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'.*frame-ancestors 'none'/);
    expect(page.headers['cache-control']).toBe('no-store');
    const js = await send('/assets/app.js');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/nope.js']) {
      const a = await send(path);
      expect(a.status, path).toBe(404);
      expect(a.body).not.toContain('outside the renderer');
    }
  });
});

describe('event stream', () => {
  /** Opens GET /events and collects parsed events until `until` says stop. */
  function listen(headers: Record<string, string>, until: (events: Array<{ type: string; job: { id: number; state: string; done: number } }>) => boolean) {
    return new Promise<{ status: number; type: string | undefined; events: Array<{ type: string; job: { id: number; state: string; done: number } }> }>((resolve, reject) => {
      const events: Array<{ type: string; job: { id: number; state: string; done: number } }> = [];
      const req = request({ host: '127.0.0.1', port: bridge.port, path: '/events', headers }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          resolve({ status: res.statusCode!, type: res.headers['content-type'], events });
          return;
        }
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          let end;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const data = block.split('\n').find((l) => l.startsWith('data: '));
            if (data) events.push(JSON.parse(data.slice(6)));
          }
          if (until(events)) {
            req.destroy();
            resolve({ status: 200, type: res.headers['content-type'], events });
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('pushes job progress and the end to a page that holds the token', async () => {
    let release!: () => void;
    const gate = new Promise<void>((ok) => (release = ok));
    const stream = listen({ [TOKEN_HEADER]: bridge.token }, (events) => events.some((e) => e.job.state === 'succeeded'));
    // the stream is open once the server has a subscriber
    await expect.poll(() => services.events.size).toBe(1);
    const job = services.jobs.start('test-sse', 'count to three', {}, async (ctx) => {
      for (let i = 1; i <= 3; i++) ctx.progress(i, 3, 'counting');
      await gate;
      return { counted: 3 };
    });
    release();
    const got = await stream;
    expect(got.type).toBe('text/event-stream; charset=utf-8');
    const mine = got.events.filter((e) => e.type === 'job' && e.job.id === job.id);
    expect(mine[0]!.job.state).toBe('running');
    expect(mine.at(-1)!.job).toMatchObject({ state: 'succeeded', done: 3, result: { counted: 3 } });
    await expect.poll(() => services.events.size).toBe(0);
  });

  it('refuses the stream without the token or from a foreign origin', async () => {
    expect((await listen({}, () => true)).status).toBe(401);
    expect((await listen({ [TOKEN_HEADER]: 'x'.repeat(43) }, () => true)).status).toBe(401);
    expect((await listen({ [TOKEN_HEADER]: bridge.token, origin: 'https://evil.example' }, () => true)).status).toBe(403);
  });
});
