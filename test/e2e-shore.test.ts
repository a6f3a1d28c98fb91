// End to end, the shore engineer's day by clicks and keys in Debian's Chromium against the real
// bridge, inventory, Docker images and bundle store: import the fleet from a file, open a manifest,
// create a deployment for a group, see the plan, build and verify its bundles (progress read while
// it runs; a cancelled build leaves nothing half-written). Every view is checked with axe-core and
// screenshotted to test-artifacts/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openInventory } from '../main/inventory/open.js';
import { Inventory, type ImageInput } from '../main/inventory/store.js';
import { chooseFile, chooseRole, screenshot, useApp, type AppSession } from './support/app.js';
import { describeImage, edgeManifest, SYSTEM_IMAGES } from './support/fleet.js';
import { buildTestImages, pseudoRandom, type TestImages } from './support/images.js';

const PREFIX = 'e2e-shore';
const DEVICES = [`${PREFIX}-ship-1`, `${PREFIX}-ship-2`, `${PREFIX}-ship-3`];
const BIG = { v1: 'lighter-e2e-shore/big:v1', v2: 'lighter-e2e-shore/big:v2' };

let images: TestImages;
let described: { base: ImageInput; appV1: ImageInput; appV2: ImageInput; bigV1: ImageInput; bigV2: ImageInput };
let key: string;

/**
 * Two versions of an image big enough that diffing them runs for seconds: 64 files of 1 MiB of
 * noise (progress advances file by file), and the same with 4 KiB changed in each.
 */
function buildBigImages(work: string): { v1: { tag: string; archive: string }; v2: { tag: string; archive: string } } {
  const make = (tag: string, name: string, changed: boolean) => {
    const root = join(work, `${name}-root`);
    mkdirSync(join(root, 'data'), { recursive: true });
    for (let i = 0; i < 64; i++) {
      const data = pseudoRandom(1000 + i, 1 << 20);
      if (changed) pseudoRandom(5000 + i, 4096).copy(data, 300_000);
      writeFileSync(join(root, 'data', `blob-${String(i).padStart(2, '0')}.bin`), data);
    }
    const tar = execFileSync('tar', ['-C', root, '--numeric-owner', '--owner=0', '--group=0', '--mtime=2024-01-01', '-cf', '-', '.'], { maxBuffer: 128 << 20 });
    execFileSync('docker', ['import', '-', tag], { input: tar });
    const archive = join(work, `${name}.tar`);
    execFileSync('docker', ['save', '-o', archive, tag]);
    return { tag, archive };
  };
  return { v1: make(BIG.v1, 'big-v1', false), v2: make(BIG.v2, 'big-v2', true) };
}

async function seed({ dir, lighter }: Pick<AppSession, 'dir' | 'lighter'>): Promise<void> {
  key = join(dir, 'keys', 'lighter-bundle.key');
  lighter('keys', 'generate', '-o', join(dir, 'keys'));
  images = buildTestImages();
  const big = buildBigImages(dir);
  described = {
    base: await describeImage(images.base),
    appV1: await describeImage(images.appV1),
    appV2: await describeImage(images.appV2),
    bigV1: await describeImage(big.v1),
    bigV2: await describeImage(big.v2),
  };
  writeFileSync(
    join(dir, 'fleet.json'),
    JSON.stringify(DEVICES.map((deviceId, i) => ({ deviceId, connectionState: 'Connected', capabilities: { iotEdge: true }, tags: { group: `${PREFIX}-north`, vessel: `MV Shore ${i + 1}` } }))),
  );
  writeFileSync(join(dir, 'app-v2.json'), edgeManifest({ app: images.appV2.tag }));
  writeFileSync(join(dir, 'big.json'), edgeManifest({ big: BIG.v2 }));
}

const app = useApp(PREFIX, { seed });

afterAll(() => {
  try {
    execFileSync('docker', ['rmi', '-f', BIG.v1, BIG.v2], { stdio: 'ignore' });
  } catch {
    // already gone
  }
});

const bundleFiles = () => (existsSync(join(app.dir, 'bundles')) ? readdirSync(join(app.dir, 'bundles'), { recursive: true }).map(String).sort() : []);

describe('shore engineer in the app', () => {
  it('imports the fleet from a file', async () => {
    await chooseRole(app.page, 'Shore engineer');
    await expect.poll(() => app.page.url()).toMatch(/#\/fleet$/);
    await chooseFile(app.page, () => app.page.locator('label.button', { hasText: 'Import devices…' }).click(), join(app.dir, 'fleet.json'));
    await expect.poll(() => app.page.getByRole('status').first().innerText()).toContain('fleet.json: 3 added, 0 updated, 0 unchanged');
    await expect.poll(() => app.page.locator('tr[data-device]').count()).toBe(3);
    await app.expectAccessible('fleet');
    await screenshot(app.page, 'shore-fleet');

    // what the devices hold, as their reports would record it (hub sync stands in here later)
    const inv = new Inventory(await openInventory(app.db, { create: false }), 'ana');
    try {
      for (const d of DEVICES) for (const name of SYSTEM_IMAGES) inv.recordImage(d, { name });
      inv.recordImage(DEVICES[0]!, described.appV1);
      inv.recordImage(DEVICES[1]!, described.appV1);
      inv.recordImage(DEVICES[2]!, described.base);
      for (const d of DEVICES) inv.recordImage(d, described.bigV1);
      inv.catalogImage(described.appV2);
      inv.catalogImage(described.bigV2);
    } finally {
      inv.db.close();
    }
  });

  /** New deployment by keyboard: open the manifest, fill the form, Enter. */
  async function createDeployment(manifest: string, name: string): Promise<number> {
    await app.page.getByRole('link', { name: 'Deployments', exact: true }).click();
    await app.page.getByRole('link', { name: 'New deployment…' }).click();
    await expect.poll(() => app.page.url()).toMatch(/#\/deployments\/new$/);
    const chooser = app.page.waitForEvent('filechooser');
    await app.page.getByLabel('Deployment manifest').focus();
    await app.page.keyboard.press('Enter');
    await (await chooser).setFiles(join(app.dir, manifest));
    await expect.poll(() => app.page.getByTestId('manifest-file').innerText()).toContain(manifest);
    await app.page.getByLabel('Name', { exact: true }).fill(name);
    await app.page.getByLabel('Ordered by').fill('Ana Lima');
    await app.page.getByLabel('Email').fill('ana@fleet.example');
    await app.page.getByLabel('Group', { exact: true }).selectOption(`${PREFIX}-north`);
    await app.expectAccessible('new deployment');
    await screenshot(app.page, `shore-new-deployment`);
    await app.page.getByLabel('Email').press('Enter');
    await expect.poll(() => app.page.url()).toMatch(/#\/deployments\/\d+$/);
    return Number(/(\d+)$/.exec(app.page.url())![1]);
  }

  it('cancels a long build, leaving nothing half-written, after reading its progress three times', async () => {
    await createDeployment('big.json', 'big-north');
    const plan = app.page.getByRole('table', { name: 'Distinct bundles' });
    await expect.poll(() => plan.locator('tr[data-bundle-key]').count()).toBe(1);
    const before = bundleFiles();
    await app.page.getByLabel('Signing key').fill(key);
    await app.page.getByRole('button', { name: 'Build bundles' }).click();
    const bar = app.page.getByRole('progressbar', { name: /Build bundles for big-north/ });
    const readings: number[] = [];
    const start = Date.now();
    while (new Set(readings.filter((r) => r > 0)).size < 3 && Date.now() - start < 240_000) {
      const v = await bar.getAttribute('aria-valuenow', { timeout: 60_000 }).catch(() => null);
      if (v !== null) readings.push(Number(v));
      await app.page.waitForTimeout(100);
    }
    const distinct = [...new Set(readings.filter((r) => r > 0))];
    expect(distinct.length, `progress readings ${readings.join(',')}`).toBeGreaterThanOrEqual(3);
    expect(distinct).toEqual([...distinct].sort((a, b) => a - b));
    await screenshot(app.page, 'shore-build-running');
    await app.page.getByRole('button', { name: 'Cancel' }).click();
    const job = app.page.locator('.job[data-state]').first();
    await expect.poll(() => job.getAttribute('data-state'), { timeout: 60_000 }).toBe('cancelled');
    expect(await job.innerText()).toContain('cancelled by ana');
    // nothing half-written: the store holds what it held, no partial or scratch files anywhere in it
    expect(bundleFiles()).toEqual(before);
    // the console's scratch (under its data directory, the test's dir) holds no build work area
    const scratch = join(app.dir, 'tmp');
    expect(existsSync(scratch) ? readdirSync(scratch, { recursive: true }).map(String).filter((f) => f.includes('lighter-deploy-')) : []).toEqual([]);
  }, 300_000);

  it('plans for a group and builds the distinct bundles with progress and a result', async () => {
    const id = await createDeployment('app-v2.json', 'app-v2-north');
    const perDevice = app.page.getByRole('table', { name: 'Plan per device' });
    await expect.poll(() => perDevice.locator(`tr[data-plan-device="${DEVICES[0]}"]`).count()).toBe(3);
    const rows = await perDevice.locator('tbody tr').allInnerTexts();
    expect(rows.filter((r) => r.includes(images.appV2.tag))).toHaveLength(3);
    expect(rows.find((r) => r.includes(DEVICES[0]!) && r.includes(images.appV2.tag)) ?? rows.join('\n')).toMatch(/needed\s+docker\.io\/lighter-test\/app:v1/);
    const bundles = app.page.getByRole('table', { name: 'Distinct bundles' });
    await expect.poll(() => bundles.locator('tr[data-bundle-key]').count()).toBe(2);
    await app.expectAccessible('deployment plan');
    await screenshot(app.page, 'shore-plan');

    await app.page.getByRole('button', { name: 'Build bundles' }).click();
    const job = app.page.locator('.job[data-state]').first();
    await expect.poll(() => job.getAttribute('data-state'), { timeout: 240_000 }).toBe('succeeded');
    expect(await job.innerText()).toMatch(/2 bundles ready \(2 built and verified, 0 reused\)/);
    const built = app.page.getByRole('table', { name: 'Built bundles per device' });
    await expect.poll(() => built.locator('tr[data-built-device]').count()).toBe(3);
    await expect.poll(() => app.page.locator('.section', { hasText: 'Deployment app-v2-north' }).locator('[data-state]').first().innerText()).toBe('planned');
    expect(bundleFiles().filter((f) => f.endsWith('.bundle'))).toHaveLength(2);
    await app.expectAccessible('deployment built');
    await screenshot(app.page, 'shore-built');

    // the URL is the view: a reload shows the same deployment and the finished job
    await app.page.reload();
    await expect.poll(() => app.page.url()).toMatch(new RegExp(`#/deployments/${id}$`));
    await expect.poll(() => app.page.locator('.job[data-state]').first().getAttribute('data-state')).toBe('succeeded');

    await app.page.getByRole('link', { name: 'Jobs', exact: true }).click();
    const table = app.page.locator('[data-table="jobs"] tbody');
    await expect.poll(() => table.innerText()).toMatch(/bundle-build\s+Build bundles for app-v2-north\s+succeeded/);
    expect(await table.innerText()).toMatch(/bundle-build\s+Build bundles for big-north\s+cancelled/);
    await app.expectAccessible('jobs');
    await screenshot(app.page, 'shore-jobs');
    expect(app.problems).toEqual([]);
  }, 300_000);

  it('exports the bundles to a USB folder, and the crew opens that stick and sees per device what it needs', async () => {
    const stick = join(app.dir, 'stick');
    mkdirSync(stick);
    await app.page.getByRole('link', { name: 'Deployments', exact: true }).click();
    await app.page.getByRole('link', { name: 'app-v2-north' }).click();
    await app.page.getByLabel('Stick folder').fill(stick);
    await app.page.getByRole('button', { name: 'Export to USB' }).click();
    const job = app.page.locator('.job', { hasText: 'Export deployment' });
    await expect.poll(() => job.getAttribute('data-state'), { timeout: 120_000 }).toBe('succeeded');
    expect(await job.innerText()).toMatch(/files written to .*stick .* for 3 devices/);
    expect(readdirSync(stick).length).toBeGreaterThan(1);
    await app.expectAccessible('export');
    await screenshot(app.page, 'shore-exported');

    // the crew, offline, with the stick
    await app.page.getByLabel('Role').selectOption('crew');
    await expect.poll(() => app.page.url()).toMatch(/#\/crew$/);
    await app.page.getByLabel('Stick folder').fill(stick);
    await app.page.getByLabel('Bundle public key').fill(join(app.dir, 'keys', 'lighter-bundle.pub'));
    await app.page.getByLabel('Bundle public key').press('Enter');
    const devices = app.page.getByRole('table', { name: 'Devices on this stick' });
    await expect.poll(() => devices.locator('tr[data-stick-device]').count(), { timeout: 120_000 }).toBe(3);
    expect(await devices.locator(`tr[data-stick-device="${DEVICES[2]}"]`).innerText()).toContain(images.appV2.tag);
    await app.expectAccessible('crew');
    await screenshot(app.page, 'crew-stick');

    await app.page.goto(`${app.console.origin}/#/hub`);
    await expect.poll(() => app.page.getByRole('heading', { name: 'IoT Hub and notifications' }).count()).toBe(1);
    await app.expectAccessible('hub');
    await screenshot(app.page, 'shore-hub');
    expect(app.problems).toEqual([]);
  }, 300_000);
});
