// End to end, the upload queue in Debian's Chromium against the real bridge, inventory and bundle
// store and a real Azurite: give the storage account, queue two deployments' bundles, see the
// queue in the business rules' order, raise one deployment's priority so it goes first, pause and
// resume a transfer, cancel another, cap the rate, run the queue as a job, and find each bundle and
// each device's index in the container through the real @azure/storage-blob SDK. Clicks and keys
// both; axe-core on the view; a screenshot to test-artifacts/.
import { BlobServiceClient } from '@azure/storage-blob';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openInventory } from '../main/inventory/open.js';
import { chooseRole, launchBrowser, openPage, screenshot, seriousViolations, startConsole, stopConsole, type Console } from './support/app.js';
import { startAzurite, type TestAzurite } from './support/azurite.js';
import { edgeManifest } from './support/fleet.js';
import { makeFleet, type Fleet } from './support/uploads.js';

const CONTAINER = 'e2e-uploads';
const KIB = 1024;

let dir: string;
let azurite: TestAzurite;
let fleet: Fleet;
let app: Console | undefined;
let browser: BrowserContext;
let page: Page;
let problems: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lighter-e2e-uploads-'));
  azurite = await startAzurite();
  // north's bundle is the larger, so with equal priorities the rules send south's first (size).
  fleet = await makeFleet(dir, [
    { name: 'north', bundles: [{ name: 'north-app', size: 1536 * KIB, devices: ['e2e-up-ship-1'] }] },
    { name: 'south', bundles: [{ name: 'south-app', size: 768 * KIB, devices: ['e2e-up-ship-2'] }] },
    { name: 'spare', bundles: [{ name: 'spare-app', size: 64 * KIB, devices: ['e2e-up-ship-3'] }] },
  ]);
  // No storage credential in the environment: the engineer gives it in the view.
  const env = { LIGHTER_USER: 'ana', AZURE_STORAGE_CONNECTION_STRING: '', LIGHTER_UPLOAD_SAS_URL: '', LIGHTER_UPLOAD_CONTAINER: '' };
  app = await startConsole(fleet.db, env);
  browser = await launchBrowser(join(dir, 'chromium'));
  ({ page, problems } = await openPage(browser, app.url));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stopConsole(app);
  await azurite?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const rowOf = (id: number) => page.locator(`tr[data-upload="${id}"]`);
const queueOrder = () => page.locator('table[aria-label="Upload queue"] tbody tr').evaluateAll((rows) => rows.map((r) => [r.children[3]!.textContent, r.children[0]!.textContent]));

async function queueDeployment(name: string): Promise<void> {
  await page.getByLabel('Deployment', { exact: true }).focus();
  await page.getByLabel('Deployment', { exact: true }).selectOption(String(fleet.deployments.find((d) => d.name === name)!.id));
  // Enter on a select does not submit its form: Tab to the button
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await expect.poll(() => page.getByRole('status').filter({ hasText: `of ${name} queued` }).count()).toBe(1);
}

describe('upload queue in the app', () => {
  it('queues two deployments, reorders them by priority, caps the rate and uploads both into Azurite', async () => {
    await chooseRole(page, 'Shore engineer');
    await page.getByRole('link', { name: 'Uploads', exact: true }).click();
    await expect.poll(() => page.url()).toMatch(/#\/uploads$/);
    await expect.poll(() => page.locator('[data-target]').getAttribute('data-target')).toBe('none');

    // The storage account by keyboard: type, Tab, type, Enter. The secret is not shown again.
    await page.getByLabel('SAS URL or connection string').fill(azurite.connectionString());
    await page.keyboard.press('Tab');
    await page.keyboard.type(CONTAINER);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('[data-target]').innerText()).toBe(`Uploads go to container ${CONTAINER}, by a connection string kept in the secret store.`);
    expect(await page.getByLabel('SAS URL or connection string').inputValue()).toBe('');
    expect(await page.content()).not.toContain('AccountKey=');

    await queueDeployment('south');
    await queueDeployment('north');
    await queueDeployment('spare');
    // equal priorities: smaller bundles first
    await expect.poll(queueOrder).toEqual([
      ['spare', '1'],
      ['south', '2'],
      ['north', '3'],
    ]);

    // Cancel spare's transfer (a click); it leaves the order.
    const rows = await page.locator('tr[data-upload]').evaluateAll((rs) => rs.map((r) => [r.children[3]!.textContent, Number(r.getAttribute('data-upload'))] as const));
    const idOf = Object.fromEntries(rows) as Record<string, number>;
    await page.getByRole('button', { name: `Cancel transfer ${idOf.spare}` }).click();
    await expect.poll(() => rowOf(idOf.spare!).getAttribute('data-state')).toBe('cancelled');

    // Raise north by keyboard (focus, Enter): it now goes first.
    await page.getByRole('button', { name: 'Raise north' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('[data-priority-of="north"]').innerText()).toContain('priority 1');
    await expect.poll(queueOrder).toEqual([
      ['north', '1'],
      ['south', '2'],
      ['spare', ''],
    ]);
    // A priority value typed: south to 5 goes first again, then north back above it with 9.
    await page.getByLabel('New priority of south').fill('5');
    await page.keyboard.press('Enter');
    await expect.poll(queueOrder).toEqual([
      ['south', '1'],
      ['north', '2'],
      ['spare', ''],
    ]);
    await page.getByLabel('New priority of north').fill('9');
    await page.keyboard.press('Enter');
    await expect.poll(queueOrder).toEqual([
      ['north', '1'],
      ['south', '2'],
      ['spare', ''],
    ]);

    // Pause south (click): it is held, out of the order; resume it (keyboard).
    await page.getByRole('button', { name: `Pause transfer ${idOf.south}` }).click();
    await expect.poll(() => rowOf(idOf.south!).getAttribute('data-paused')).toBe('true');
    // held ones are listed after the queue, newest first, with no place in the order
    await expect.poll(queueOrder).toEqual([
      ['north', '1'],
      ['spare', ''],
      ['south', ''],
    ]);
    await page.getByRole('button', { name: `Resume transfer ${idOf.south}` }).focus();
    await page.keyboard.press('Space');
    await expect.poll(() => rowOf(idOf.south!).getAttribute('data-paused')).toBe(null);

    // A cap of 512 KiB/s for 2.25 MiB: the run cannot take much less than 4 s.
    await page.getByLabel('Rate cap (KiB/s, 0 = none)').fill('512');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('[data-cap]').getAttribute('data-cap')).toBe(String(512 * KIB));

    expect(await seriousViolations(page), 'axe on uploads').toEqual([]);
    await screenshot(page, 'uploads-queue');

    const started = Date.now();
    await page.getByRole('button', { name: 'Upload the queue' }).click();
    // The running transfer shows its bytes moving.
    await expect.poll(() => rowOf(idOf.north!).getAttribute('data-state'), { timeout: 10_000 }).toBe('running');
    await expect.poll(() => page.locator('.job[data-state="running"] .job-pct').count(), { timeout: 10_000 }).toBe(1);
    await screenshot(page, 'uploads-running');
    await expect.poll(() => page.locator('.job').getAttribute('data-state'), { timeout: 60_000 }).toBe('succeeded');
    const took = (Date.now() - started) / 1000;
    await expect.poll(() => rowOf(idOf.north!).getAttribute('data-state')).toBe('succeeded');
    await expect.poll(() => rowOf(idOf.south!).getAttribute('data-state')).toBe('succeeded');
    expect(await page.locator('.job .muted').last().innerText()).toBe('2 uploaded, 0 failed, 0 stopped.');
    // 2.25 MiB at 512 KiB/s is 4.5 s, less the half-second burst the limiter allows
    expect(took).toBeGreaterThan(3.5);
    await screenshot(page, 'uploads-done');

    // In the container: each bundle once, each device's index naming its bundle.
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString()).getContainerClient(CONTAINER);
    const names: string[] = [];
    for await (const b of container.listBlobsFlat()) names.push(b.name);
    const north = fleet.bundles.get('north-app')!;
    const south = fleet.bundles.get('south-app')!;
    expect(names.sort()).toEqual(
      [`bundles/${north.sha256.slice(7)}.lighter`, `bundles/${south.sha256.slice(7)}.lighter`, 'devices/e2e-up-ship-1/index.json', 'devices/e2e-up-ship-2/index.json'].sort(),
    );
    expect((await container.getBlockBlobClient(`bundles/${north.sha256.slice(7)}.lighter`).getProperties()).contentLength).toBe(north.size);
    const index = JSON.parse((await container.getBlockBlobClient('devices/e2e-up-ship-2/index.json').downloadToBuffer()).toString()) as { bundles: Array<{ bundleId: string }> };
    expect(index.bundles.map((b) => b.bundleId)).toEqual([south.id]);

    // north went first: the priority the view set is the order the runner worked.
    const db = await openInventory(fleet.db, { create: false });
    try {
      const finished = db.prepare("SELECT id FROM transfers WHERE channel = 'upload' AND state = 'succeeded' ORDER BY finished_at, id").all() as Array<{ id: number }>;
      expect(finished.map((r) => r.id)).toEqual([idOf.north, idOf.south]);
    } finally {
      db.close();
    }
    expect(problems).toEqual([]);
  }, 120_000);
});

describe('opening a manifest by its path', () => {
  it('reads the file in main, and says what is wrong with a missing or invalid one', async () => {
    writeFileSync(join(dir, 'by-path.json'), edgeManifest({ app: 'fleet.example/app:3' }));
    writeFileSync(join(dir, 'not-a-manifest.json'), '{"hello": "world"}');
    await page.getByRole('link', { name: 'Deployments', exact: true }).click();
    await page.getByRole('link', { name: 'New deployment…' }).click();
    await expect.poll(() => page.url()).toMatch(/#\/deployments\/new$/);
    const path = page.getByLabel('or its path');

    // by keyboard: type, Enter (opens the file, does not submit the form)
    await path.fill(join(dir, 'missing.json'));
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('alert').innerText()).toBe(`deployments.openManifest: no file ${join(dir, 'missing.json')}`);
    await path.fill(join(dir, 'not-a-manifest.json'));
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/is not an IoT Edge deployment manifest: manifest has no modulesContent object/);
    await path.fill(join(dir, 'by-path.json'));
    await page.getByRole('button', { name: 'Open path' }).click();
    await expect.poll(() => page.getByTestId('manifest-file').innerText()).toMatch(/^by-path\.json \(\d[\d,]* characters\)$/);
    expect(await page.getByRole('alert').count()).toBe(0);
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('by-path');
    expect(page.url()).toMatch(/#\/deployments\/new$/);
    expect(await seriousViolations(page), 'axe on new deployment').toEqual([]);
    await screenshot(page, 'deployment-manifest-path');
  }, 60_000);
});

describe('fleet by keyboard', () => {
  it('filters, opens a device drawer with Enter (focus on its close button) and closes it with Escape or the close button (focus back on the link)', async () => {
    await page.getByRole('link', { name: 'Fleet', exact: true }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.url()).toMatch(/#\/fleet$/);
    await page.getByLabel('Search devices').focus();
    await page.keyboard.type('ship-2');
    await expect.poll(() => page.locator('tr[data-device]').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-device')))).toEqual(['e2e-up-ship-2']);
    // Tab from the search box reaches the device's link
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').innerText()).toBe('e2e-up-ship-2');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.url()).toMatch(/#\/fleet\/e2e-up-ship-2$/);
    await expect.poll(() => page.getByRole('complementary', { name: 'Device detail' }).count()).toBe(1);
    // focus moved into the drawer, onto its close button
    await expect.poll(() => page.locator(':focus').getAttribute('aria-label')).toBe('Close');
    expect(await page.locator('aside[aria-label="Device detail"] :focus').count()).toBe(1);
    expect(await seriousViolations(page), 'axe on the device drawer').toEqual([]);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.url()).toMatch(/#\/fleet$/);
    await expect.poll(() => page.getByRole('complementary', { name: 'Device detail' }).count()).toBe(0);
    // and back to the link that opened it
    await expect.poll(() => page.locator(':focus').innerText()).toBe('e2e-up-ship-2');
    // the same by the close button: Enter opens, Enter on the focused close button closes
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator(':focus').getAttribute('aria-label')).toBe('Close');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.url()).toMatch(/#\/fleet$/);
    await expect.poll(() => page.getByRole('complementary', { name: 'Device detail' }).count()).toBe(0);
    await expect.poll(() => page.locator(':focus').innerText()).toBe('e2e-up-ship-2');
  }, 60_000);
});
