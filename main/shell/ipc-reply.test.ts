// The desktop app's IPC calls in plain Node (Electron cannot run here): the manifest file picker
// opens only for our own renderer page, on the real services; any other frame is refused before
// the picker (or any service) runs. The picker itself is the one piece standing in for Electron's
// dialog, as the shell passes it to buildServices.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openInventory } from '../inventory/open.js';
import { buildServices, type Services } from '../services.js';
import { ipcReply } from './ipc-reply.js';
import { trustedPage } from './security.js';

const page = trustedPage('/opt/Lighter/resources/app.asar/renderer/dist/index.html');
const MANIFEST = JSON.stringify({
  modulesContent: {
    $edgeAgent: { 'properties.desired': { schemaVersion: '1.1', runtime: { type: 'docker', settings: {} }, systemModules: {
          edgeAgent: { type: 'docker', settings: { image: 'mcr.microsoft.com/azureiotedge-agent:1.5' } },
          edgeHub: { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: 'mcr.microsoft.com/azureiotedge-hub:1.5' } },
        },
        modules: { app: { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: 'fleet.example/app:2' } } } } },
    $edgeHub: { 'properties.desired': { schemaVersion: '1.1', routes: {} } },
  },
});

let dir: string;
let services: Services;
let asked = 0;
let answer: string | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lighter-ipc-reply-'));
  writeFileSync(join(dir, 'app.json'), MANIFEST);
  // an explicit database must exist already (as after `lighter db init --db FILE`)
  (await openInventory(join(dir, 'inventory.db'))).close();
  services = await buildServices({
    database: join(dir, 'inventory.db'),
    shell: 'electron',
    pickManifest: async () => {
      asked++;
      return answer;
    },
  });
});
afterAll(async () => {
  await services?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('deployments.pickManifest over IPC', () => {
  const call = () => ipcReply(services.handlers, page, 'deployments.pickManifest');

  it('refuses other pages, sub-frames and missing frames without opening the picker', async () => {
    for (const senderFrame of [{ url: 'https://example.com/', parent: null }, { url: 'file:///tmp/evil/index.html', parent: null }, { url: page, parent: { url: 'https://example.com/' } }, null]) {
      expect(await call()({ senderFrame }, {})).toEqual({ error: { code: 'forbidden', message: expect.stringMatching(/^deployments\.pickManifest: refused a call from /) } });
    }
    expect(asked).toBe(0);
  });

  it('opens the picker for our page and answers the file main read, or null when it was closed', async () => {
    answer = join(dir, 'app.json');
    expect(await call()({ senderFrame: { url: `${page}#/deployments/new`, parent: null } }, {})).toEqual({ result: { name: 'app.json', path: answer, text: MANIFEST, modules: 3 } });
    answer = null;
    expect(await call()({ senderFrame: { url: page, parent: null } }, {})).toEqual({ result: null });
    expect(asked).toBe(2);
  });

  it('checks the request before the picker opens', async () => {
    expect(await call()({ senderFrame: { url: page, parent: null } }, { path: '/etc/passwd' })).toMatchObject({ error: { code: 'invalid-request' } });
    expect(asked).toBe(2);
  });
});

describe('deployments.openManifest', () => {
  const open = (path: string) => services.handlers.reply('deployments.openManifest', { path });

  it('reads a manifest by its path', async () => {
    expect(await open(join(dir, 'app.json'))).toEqual({ result: { name: 'app.json', path: join(dir, 'app.json'), text: MANIFEST, modules: 3 } });
  });

  it('says what is wrong with a missing, unreadable or invalid file', async () => {
    writeFileSync(join(dir, 'broken.json'), '{"modulesContent": ');
    writeFileSync(join(dir, 'other.json'), '{"hello": 1}');
    const message = async (path: string) => ((await open(path)) as { error: { message: string } }).error.message;
    expect(await message(join(dir, 'missing.json'))).toBe(`deployments.openManifest: no file ${join(dir, 'missing.json')}`);
    expect(await message(dir)).toBe(`deployments.openManifest: ${dir} is not a file`);
    expect(await message(join(dir, 'broken.json'))).toMatch(new RegExp(`^deployments\\.openManifest: ${join(dir, 'broken.json')} is not an IoT Edge deployment manifest: manifest is not valid JSON`));
    expect(await message(join(dir, 'other.json'))).toMatch(/is not an IoT Edge deployment manifest: manifest has no modulesContent object/);
    expect(await message('')).toMatch(/^deployments\.openManifest: path: give the manifest file’s path/);
  });

  it('has no picker in the console', async () => {
    const console = await buildServices({ database: join(dir, 'inventory.db'), shell: 'bridge' });
    try {
      expect(await console.handlers.reply('deployments.pickManifest', {})).toEqual({ error: { code: 'failed', message: 'deployments.pickManifest: the console has no file picker: type the manifest’s path, or upload the file' } });
    } finally {
      await console.close();
    }
  });
});
