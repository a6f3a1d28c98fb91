// The handler table both transports share, on the real services: the reply envelope Electron IPC
// carries, and registration refusing a service that misses a contract method.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppApi } from '../../contract/index.js';
import { parseDeviceList } from '../inventory/import-devices.js';
import { openInventory } from '../inventory/open.js';
import { buildServices, type Services } from '../services.js';
import { Handlers } from './handlers.js';

let dir: string;
let services: Services;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lighter-handlers-'));
  // an explicit database must exist already (as after `lighter db init --db FILE`)
  (await openInventory(join(dir, 'inventory.db'))).close();
  services = await buildServices({ database: join(dir, 'inventory.db'), shell: 'electron' });
});

afterAll(async () => {
  await services?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('bridge handlers', () => {
  it('registers every contract channel', () => {
    expect(services.handlers.channels()).toEqual([
      'app.info',
      'deployments.create',
      'deployments.build',
      'deployments.show',
      'deployments.plan',
      'deployments.openManifest',
      'deployments.pickManifest',
      'inventory.status',
      'inventory.devices',
      'inventory.device',
      'inventory.deployments',
      'inventory.deployment',
      'inventory.transfers',
      'inventory.transfersPerDay',
      'inventory.syncHistory',
      'inventory.auditLog',
      'reports.dashboard',
      'jobs.list',
      'jobs.get',
      'jobs.cancel',
      'fleet.importDevices',
      'hub.list',
      'hub.add',
      'hub.remove',
      'hub.sync',
      'hub.push',
      'hub.notifications',
      'hub.markRead',
      'hub.background',
      'hub.mailRelay',
      'hub.setMailRelay',
      'hub.flushMail',
      'usb.export',
      'usb.import',
      'usb.receipts',
      'usb.trustKey',
      'uploads.list',
      'uploads.progress',
      'uploads.queue',
      'uploads.pause',
      'uploads.resume',
      'uploads.cancel',
      'uploads.setRate',
      'uploads.setPriority',
      'uploads.target',
      'uploads.setTarget',
      'uploads.run',
      'planning.plan',
    ]);
  });

  it('replies with a result or a coded error, never throws', async () => {
    expect(await services.handlers.reply('app.info', undefined)).toMatchObject({ result: { shell: 'electron', database: join(dir, 'inventory.db') } });
    expect(await services.handlers.reply('inventory.deployments', { state: 'shipped' })).toEqual({
      error: { code: 'invalid-request', message: expect.stringMatching(/^inventory\.deployments: state: Invalid enum value\. Expected 'draft' \| 'planned'/) },
    });
    expect(await services.handlers.reply('inventory.deployment', { id: 42 })).toEqual({ error: { code: 'failed', message: 'inventory.deployment: unknown deployment 42' } });
    expect(await services.handlers.reply('app.quit', {})).toMatchObject({ error: { code: 'unknown-method' } });
  });

  it('refuses a service that lacks a method of its namespace', () => {
    expect(() => new Handlers().register('app', {} as AppApi)).toThrow('service for app has no method info');
  });

  it('parses usb requests before the service sees them, and answers refusals with their reason', async () => {
    expect(await services.handlers.reply('usb.import', { dir: '/media/stick', pubkey: 'k.pub', apply: { 'ship-1': 'http://10.0.0.5:5000' } })).toEqual({
      error: { code: 'invalid-request', message: 'usb.import: apply.ship-1: want docker://HOST:PORT' },
    });
    expect(await services.handlers.reply('usb.receipts', { dir: join(dir, 'no-stick') })).toEqual({ error: { code: 'failed', message: `usb.receipts: ${join(dir, 'no-stick', 'receipts')} does not exist: no receipts on this stick` } });
  });

  it('parses deployment requests before the service sees them', async () => {
    const order = { manifestJson: '{}', name: 'x', orderedBy: { name: 'Ana', email: 'ana@fleet.example' } };
    expect(await services.handlers.reply('deployments.create', { ...order, devices: ['a'], group: 'g' })).toEqual({ error: { code: 'invalid-request', message: 'deployments.create: give either devices or group' } });
    expect(await services.handlers.reply('deployments.create', { ...order, devices: ['a'], orderedBy: { name: 'Ana', email: 'ana' } })).toMatchObject({ error: { code: 'invalid-request', message: 'deployments.create: orderedBy.email: is not an email address' } });
    expect(await services.handlers.reply('deployments.show', { id: 99 })).toEqual({ error: { code: 'failed', message: 'deployments.show: unknown deployment 99' } });
  });

  it('plans a manifest for a group: the bundles, and each device manifest rewritten for its registry', async () => {
    const devices = [
      { deviceId: 'plan-1', capabilities: { iotEdge: true }, tags: { group: 'plan-g', localRegistry: 'localhost:5001' } },
      { deviceId: 'plan-2', capabilities: { iotEdge: true }, tags: { group: 'plan-g' } },
    ];
    services.inventory.importDevices(parseDeviceList(JSON.stringify(devices), { hub: null }), 'file', 'test');
    const manifestJson = readFileSync(new URL('../../test/fixtures/manifests/fleet.json', import.meta.url), 'utf8');
    const reply = await services.handlers.reply('planning.plan', { manifestJson, group: 'plan-g' });
    if (!('result' in reply)) throw new Error(JSON.stringify(reply));
    const report = reply.result as { bundles: Array<{ base: unknown; devices: string[] }>; manifests: Array<{ deviceId: string; localRegistry: string; lint: string[]; content: unknown }> };
    expect(report.bundles.length).toBeGreaterThan(0);
    // nothing is on either device yet: every image goes in full, to both
    expect(report.bundles.every((b) => b.base === null && b.devices.join() === 'plan-1,plan-2')).toBe(true);
    expect(report.manifests.map((m) => [m.deviceId, m.localRegistry, m.lint])).toEqual([
      ['plan-1', 'localhost:5001', []],
      ['plan-2', 'localhost:5000', []],
    ]);
    expect(JSON.stringify(report.manifests[0]!.content)).toContain('"localhost:5001/');
    expect(await services.handlers.reply('planning.plan', { manifestJson, group: 'plan-g', devices: ['plan-1'] })).toEqual({ error: { code: 'invalid-request', message: 'planning.plan: give either devices or group' } });
    expect(await services.handlers.reply('planning.plan', { manifestJson, devices: ['ghost'] })).toMatchObject({ error: { code: 'failed', message: expect.stringMatching(/^planning\.plan: unknown device "ghost"/) } });
  });
});
