// End to end: `lighter console` on an inventory seeded through the real CLI and inventory service,
// driven in Debian's Chromium. Checks that real data renders on every screen with no CSP or script
// errors, that a wrong or missing token shows an error, and that an empty inventory says what to do.
// Screenshots go to test-artifacts/console-*.png.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openInventory } from '../main/inventory/open.js';
import { Inventory } from '../main/inventory/store.js';
import { chooseRole, screenshot, stopConsole, useApp, type AppSession, type Console } from './support/app.js';
import { edgeManifest } from './support/fleet.js';

const TWINS = [
  {
    deviceId: 'aurora-edge-01',
    connectionState: 'Connected',
    lastActivityTime: new Date(Date.now() - 3600_000).toISOString(),
    capabilities: { iotEdge: true },
    tags: { group: 'tankers', vessel: 'MV Aurora', site: 'North Sea', displayName: 'Aurora bridge gateway' },
  },
  { deviceId: 'aurora-edge-02', connectionState: 'Disconnected', capabilities: { iotEdge: true }, tags: { group: 'tankers', vessel: 'MV Aurora', site: 'North Sea' } },
  { deviceId: 'pit7-crusher', connectionState: 'Connected', capabilities: { iotEdge: true }, tags: { group: 'mining', site: 'Pilbara pit 7' } },
];

const BUNDLE = `sha256:${'ab'.repeat(32)}`;

async function seed({ dir, db, lighter }: Pick<AppSession, 'dir' | 'db' | 'lighter'>): Promise<void> {
  const devices = join(dir, 'devices.json');
  writeFileSync(devices, JSON.stringify(TWINS));
  lighter('db', 'import-devices', '--db', db, '--hub', 'fleet-hub', devices);
  for (const image of ['mcr.microsoft.com/azureiotedge-agent:1.5', 'mcr.microsoft.com/azureiotedge-hub:1.5', 'fleetacr.azurecr.io/telemetry:1.4']) {
    lighter('db', 'record-image', '--db', db, '--device', 'aurora-edge-01', '--no-read', `docker://${image}`);
  }
  // what has no CLI yet goes through the inventory service itself
  const inv = new Inventory(await openInventory(db, { create: false }), 'ana');
  try {
    inv.recordBundle({ id: BUNDLE, version: 7, size: 12_400_000, sha256: 'cd'.repeat(32), entries: [{ base: { name: 'fleetacr.azurecr.io/telemetry:1.4' }, target: { name: 'fleetacr.azurecr.io/telemetry:1.5' } }] });
    inv.setDeviceImage('aurora-edge-02', { name: 'fleetacr.azurecr.io/telemetry:1.5' }, 'in_transit', { bundleId: BUNDLE, channel: 'usb' });
    const ok = inv.createTransfer(BUNDLE, 'aurora-edge-01', 'upload', 12_400_000);
    inv.setTransferState(ok, 'running');
    inv.transferProgress(ok, 12_400_000);
    inv.setTransferState(ok, 'succeeded');
    const bad = inv.createTransfer(BUNDLE, 'pit7-crusher', 'upload', 12_400_000);
    inv.setTransferState(bad, 'running');
    inv.setTransferState(bad, 'failed', { error: 'link dropped after 3.1 MB' });
    const dep = inv.createDeployment({
      name: 'telemetry-1.5-north-sea',
      manifestJson: edgeManifest({ telemetry: 'fleetacr.azurecr.io/telemetry:1.5' }),
      orderedBy: { name: 'Ana Shore', email: 'ana@fleet.example' },
      devices: ['aurora-edge-01', 'aurora-edge-02'],
    });
    inv.setDeploymentState(dep, 'planned');
  } finally {
    inv.db.close();
  }
}

const app = useApp('e2e-console', { seed });
let empty: Console;

describe('lighter console in Chromium', () => {
  it('shows the fleet, a device, deployments, transfers and history from the inventory', async () => {
    const { page, problems } = app;
    // first start: the role picks the home view
    await expect.poll(() => page.getByRole('heading', { name: 'How will you use Lighter on this machine?' }).count()).toBe(1);
    await chooseRole(page, 'Shore engineer');
    await expect.poll(() => page.url()).toBe(`${app.console.origin}/#/fleet`);
    const table = page.locator('table.grid');
    await expect.poll(() => table.first().innerText()).toContain('Aurora bridge gateway');
    // the token leaves the address bar once read
    expect(page.url()).not.toContain('token');

    const tiles = await page.locator('.stats').innerText();
    expect(tiles).toMatch(/DEVICES\s+3\s+3 IoT Edge · 2 groups/);
    expect(tiles).toMatch(/IN TRANSIT\s+1/);
    const rows = await page.locator('tr[data-device]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-device')));
    expect(rows).toEqual(['aurora-edge-01', 'aurora-edge-02', 'pit7-crusher']);
    expect(await page.locator('tr[data-device="aurora-edge-01"] [data-state]').allTextContents()).toEqual(['connected', '3present']);
    expect(await page.locator('tr[data-device="aurora-edge-02"] [data-state="in_transit"]').textContent()).toBe('1in transit');
    await screenshot(page, 'console-fleet');

    await page.getByLabel('Group').selectOption('mining');
    await expect.poll(() => page.locator('tr[data-device]').count()).toBe(1);
    expect(await page.locator('tr[data-device]').getAttribute('data-device')).toBe('pit7-crusher');
    await page.getByLabel('Group').selectOption('');
    await expect.poll(() => page.locator('tr[data-device]').count()).toBe(3);

    await page.click('tr[data-device="aurora-edge-01"] a');
    await expect.poll(() => page.url()).toBe(`${app.console.origin}/#/fleet/aurora-edge-01`);
    const drawer = page.getByRole('complementary', { name: 'Device detail' });
    await expect.poll(() => drawer.innerText()).toContain('fleetacr.azurecr.io/telemetry');
    const detail = await drawer.innerText();
    expect(detail).toMatch(/Hub\s+fleet-hub/);
    expect(detail).toContain('telemetry-1.5-north-sea');
    expect(detail).toMatch(/ababababab\w* by upload\s*succeeded/);
    await screenshot(page, 'console-device');

    await page.getByRole('link', { name: 'Deployments', exact: true }).click();
    await page.getByText('telemetry-1.5-north-sea').click();
    const targets = page.locator('section', { hasText: 'Target devices' });
    await expect.poll(() => targets.innerText()).toMatch(/aurora-edge-01[\s\S]*2 \/ 3[\s\S]*aurora-edge-02[\s\S]*0 \/ 3/);
    expect(await page.locator('table.grid').first().innerText()).toMatch(/telemetry-1\.5-north-sea\s+planned\s+Ana Shore <ana@fleet\.example>\s+0 \/ 2 pushed/);
    await screenshot(page, 'console-deployments');

    await page.getByRole('link', { name: 'Transfers', exact: true }).click();
    await expect.poll(() => page.getByRole('img').getAttribute('aria-label')).toBe('1 succeeded and 1 failed over 30 days');
    const transfers = await page.locator('section', { hasText: 'Recent transfers' }).innerText();
    expect(transfers).toMatch(/pit7-crusher\s+ababababab\w*\s+upload\s+failed[\s\S]*link dropped after 3\.1 MB/);
    expect(transfers).toMatch(/aurora-edge-01\s+ababababab\w*\s+upload\s+succeeded/);
    await screenshot(page, 'console-transfers');

    await page.getByRole('link', { name: 'History', exact: true }).click();
    await expect.poll(() => page.locator('section', { hasText: 'Sync history' }).innerText()).toContain('devices.json: 3 added, 0 updated, 0 unchanged');
    const audit = await page.locator('section', { hasText: 'Audit log' }).innerText();
    expect(audit).toMatch(/ana\s+import-devices/);
    expect(audit).toMatch(/ana\s+deployment-planned\s+telemetry-1\.5-north-sea/);
    await screenshot(page, 'console-history');

    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows an error, and no data, for a wrong or missing token', async () => {
    const wrong = await app.open(`${app.console.origin}/#token=${'A'.repeat(43)}`);
    const alert = wrong.page.getByRole('alert');
    await expect.poll(() => alert.innerText()).toMatch(/Cannot open Lighter\s+wrong x-lighter-token/);
    expect(await wrong.page.locator('tr[data-device]').count()).toBe(0);
    await screenshot(wrong.page, 'console-wrong-token');
    await wrong.page.close();

    const missing = await app.open(`${app.console.origin}/`);
    await expect.poll(() => missing.page.getByRole('alert').innerText()).toMatch(/needs the address `lighter console` printed/);
    await missing.page.close();
  });

  it('guides a new user on an empty inventory', async () => {
    const emptyDb = join(app.dir, 'empty.db');
    app.lighter('db', 'init', '--db', emptyDb);
    empty = await app.startConsole(emptyDb);
    const { page, problems } = await app.open(empty.url);
    await chooseRole(page, 'Shore engineer');
    const status = page.getByRole('status');
    await expect.poll(() => status.innerText()).toMatch(/No devices in the inventory yet[\s\S]*lighter db import-devices FILE/);
    await screenshot(page, 'console-empty');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('stops cleanly on SIGTERM', async () => {
    expect(await stopConsole(empty)).toBe(0);
  });
});
