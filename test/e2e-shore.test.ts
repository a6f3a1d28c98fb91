// End to end, the shore engineer's day by clicks and keys in Debian's Chromium against the real
// bridge, inventory, Docker images, bundle store, device registries, edge module and IoT Hub
// stand-in: import the fleet from a file, open a manifest, create a deployment for a group, see the
// plan, build and verify its bundles (progress read while it runs; a cancelled build leaves nothing
// half-written), export them to a folder standing in for a USB stick, connect the hub and sync (the
// gate lists per device what is still missing), the crew puts the stick's bundles into each
// device's inbox and the real edge module applies them into the device's registry and reports to
// its module twin, sync again (the gate opens), push: the hub holds each device's manifest, naming
// images its registry really has. Then the same for a second group and hub by keyboard only. Every
// view is checked with axe-core and screenshotted to test-artifacts/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../core/edge/report.js';
import { readReport } from '../main/hub/report-apply.js';
import { openRegistry } from '../main/hub/registry-client.js';
import { openInventory } from '../main/inventory/open.js';
import { Inventory, type ImageInput } from '../main/inventory/store.js';
import { blur, chooseFile, chooseRole, focused, screenshot, tabTo, useApp, type AppSession } from './support/app.js';
import { makeDevice, runOnceAsync, seedStore, skopeoView, type Device } from './support/edge.js';
import { describeImage, edgeManifest, recordHoldings } from './support/fleet.js';
import { startHubStandin, type HubStandin } from './support/hub-standin/index.js';
import { buildTestImages, pseudoRandom, type TestImages } from './support/images.js';
import { lighter } from './support/usb.js';

const PREFIX = 'e2e-shore';
const NORTH = `${PREFIX}-north`;
const SOUTH = `${PREFIX}-south`;
/** ships 1-3 sail north, on hub fleet-hub; ship 4 south, on hub south-hub */
const DEVICES = [`${PREFIX}-ship-1`, `${PREFIX}-ship-2`, `${PREFIX}-ship-3`, `${PREFIX}-ship-4`];
const NORTH_DEVICES = DEVICES.slice(0, 3);
const SOUTH_DEVICE = DEVICES[3]!;
const BIG = { v1: 'lighter-e2e-shore/big:v1', v2: 'lighter-e2e-shore/big:v2' };

let images: TestImages;
let described: { base: ImageInput; appV1: ImageInput; appV2: ImageInput; bigV1: ImageInput; bigV2: ImageInput };
let key: string;
let pub: string;
/** the hub stand-ins, and each ship: its inbox, receipts, edge state and its own registry */
let hubs: { north: HubStandin; south: HubStandin };
const ships = new Map<string, Device>();

/**
 * Two versions of an image big enough that building their bundle runs for seconds: 128 files of
 * 1 MiB of noise (progress advances file by file), and the same with 4 KiB changed in each. With 64,
 * the build (its verifying apply reads unchanged runs straight into its output since 6bd3df9) could
 * end between the test's third progress reading and its keyboard reaching Cancel.
 */
function buildBigImages(work: string): { v1: { tag: string; archive: string }; v2: { tag: string; archive: string } } {
  const make = (tag: string, name: string, changed: boolean) => {
    const root = join(work, `${name}-root`);
    mkdirSync(join(root, 'data'), { recursive: true });
    for (let i = 0; i < 128; i++) {
      const data = pseudoRandom(1000 + i, 1 << 20);
      if (changed) pseudoRandom(5000 + i, 4096).copy(data, 300_000);
      writeFileSync(join(root, 'data', `blob-${String(i).padStart(2, '0')}.bin`), data);
    }
    const tar = execFileSync('tar', ['-C', root, '--numeric-owner', '--owner=0', '--group=0', '--mtime=2024-01-01', '-cf', '-', '.'], { maxBuffer: 256 << 20 });
    execFileSync('docker', ['import', '-', tag], { input: tar });
    const archive = join(work, `${name}.tar`);
    execFileSync('docker', ['save', '-o', archive, tag]);
    return { tag, archive };
  };
  return { v1: make(BIG.v1, 'big-v1', false), v2: make(BIG.v2, 'big-v2', true) };
}

async function seed({ dir, lighter: cli }: Pick<AppSession, 'dir' | 'lighter'>): Promise<void> {
  key = join(dir, 'keys', 'lighter-bundle.key');
  pub = join(dir, 'keys', 'lighter-bundle.pub');
  cli('keys', 'generate', '-o', join(dir, 'keys'));
  images = buildTestImages();
  const big = buildBigImages(dir);
  described = {
    base: await describeImage(images.base),
    appV1: await describeImage(images.appV1),
    appV2: await describeImage(images.appV2),
    bigV1: await describeImage(big.v1),
    bigV2: await describeImage(big.v2),
  };
  // each ship's registry holds what the inventory will say it holds: app v1 on ships 1-2, the base on 3-4
  for (const [i, d] of DEVICES.entries()) {
    const ship = await makeDevice(d);
    ships.set(d, ship);
    const held = i < 2 ? images.appV1 : images.base;
    await seedStore(ship, held.archive, held.tag);
  }
  // the device list as the hub holds it (tags: group, vessel, the ship's registry), exported to a file
  const twins = DEVICES.map((deviceId, i) => ({
    deviceId,
    capabilities: { iotEdge: true },
    tags: { group: i < 3 ? NORTH : SOUTH, vessel: `MV Shore ${i + 1}`, localRegistry: ships.get(deviceId)!.registry.host },
  }));
  writeFileSync(join(dir, 'fleet.json'), JSON.stringify(twins.map((t) => ({ ...t, connectionState: 'Connected' }))));
  hubs = {
    north: await startHubStandin({ devices: twins.slice(0, 3).map((t) => ({ ...t, modules: ['lighter'] })) }),
    south: await startHubStandin({ devices: twins.slice(3).map((t) => ({ ...t, modules: ['lighter'] })) }),
  };
  // the console trusts both stand-ins' CAs, as it would trust a real hub's
  writeFileSync(join(dir, 'hub-cas.pem'), `${hubs.north.ca}\n${hubs.south.ca}`);
  writeFileSync(join(dir, 'app-v2.json'), edgeManifest({ app: images.appV2.tag }));
  writeFileSync(join(dir, 'big.json'), edgeManifest({ big: BIG.v2 }));
}

const app = useApp(PREFIX, { seed, env: () => ({ NODE_EXTRA_CA_CERTS: join(app.dir, 'hub-cas.pem'), LIGHTER_HUB_CONNECTION_STRING: '' }) });

afterAll(async () => {
  for (const ship of ships.values()) await ship.stop();
  await hubs?.north.stop();
  await hubs?.south.stop();
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
    await expect.poll(() => app.page.getByRole('status').first().innerText()).toContain('fleet.json: 4 added, 0 updated, 0 unchanged');
    await expect.poll(() => app.page.locator('tr[data-device]').count()).toBe(4);
    await app.expectAccessible('fleet');
    await screenshot(app.page, 'shore-fleet');

    // what the devices held before today, as earlier reports recorded it (their registries hold the same)
    const inv = new Inventory(await openInventory(app.db, { create: false }), 'ana');
    try {
      recordHoldings(inv, DEVICES, described);
      for (const d of NORTH_DEVICES) inv.recordImage(d, described.bigV1);
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
    await app.page.getByLabel('Group', { exact: true }).selectOption(NORTH);
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
    // cancelled by keyboard in the Jobs view: Tab reaches the header's running-jobs link, Enter opens
    // the view, Tab reaches the running job's Cancel, Enter cancels it
    await blur(app.page);
    await tabTo(app.page, 'a:1 running job');
    await app.page.keyboard.press('Enter');
    await expect.poll(() => app.page.url()).toMatch(/#\/jobs$/);
    await tabTo(app.page, 'button:Cancel');
    expect(await app.page.locator('.job:has(:focus) .job-title').innerText()).toBe('Build bundles for big-north');
    await app.page.keyboard.press('Enter');
    // the list, by keyboard: its filter narrows All jobs to the cancelled build
    await expect.poll(() => app.page.locator('[data-table="jobs"] tbody').innerText(), { timeout: 60_000 }).toMatch(/bundle-build\s+Build bundles for big-north\s+cancelled/);
    await tabTo(app.page, 'input:Filter jobs');
    await app.page.keyboard.type('big-north');
    await expect.poll(() => app.page.locator('[data-table="jobs"] tbody tr').count()).toBe(1);
    await app.page.goBack();
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

    expect(app.problems).toEqual([]);
  }, 300_000);

  it('connects the hub by clicks and syncs: the gate stays closed and lists per device what is still missing', async () => {
    const { page } = app;
    await page.getByLabel('Role').selectOption('shore');
    await page.getByRole('link', { name: 'Hub & notifications' }).click();
    await expect.poll(() => page.url()).toMatch(/#\/hub$/);
    await expect.poll(() => page.getByText('No hub connected yet').count()).toBe(1);
    await app.expectAccessible('hub, none connected');
    await screenshot(app.page, 'shore-hub-empty');
    await connectHub(page, 'fleet-hub', hubs.north);

    const synced = await runJob(page, 'Sync every hub', () => page.getByRole('button', { name: 'Sync now' }).click());
    // the hub's twins now say which hub each ship is on
    expect(await synced.innerText()).toContain('hub fleet-hub: 0 devices added, 3 updated');
    await expect.poll(() => page.locator('tr[data-hub="fleet-hub"]').innerText()).toMatch(/ago|now/);
    await app.expectAccessible('hub, synced');
    await screenshot(app.page, 'shore-hub');

    await openDeployment(page, 'app-v2-north');
    const gate = page.locator('[data-gate]');
    await expect.poll(() => gate.getAttribute('data-gate')).toBe('closed');
    // the bundles are on their way by USB, nothing is reported yet: every ship still misses app v2
    for (const d of NORTH_DEVICES) expect(await gate.locator(`[data-missing-device="${d}"]`).innerText()).toBe(`${d} misses ${images.appV2.tag}`);
    expect(await page.getByRole('button', { name: 'Push manifest' }).isDisabled()).toBe(true);
    await app.expectAccessible('gate closed');
    await page.locator('[data-gate]').scrollIntoViewIfNeeded();
    await screenshot(app.page, 'shore-gate-closed');
  });

  it('the ships apply the stick with the edge module and report; sync opens the gate; Push by click: the hub holds each ship its manifest', async () => {
    const { page } = app;
    await shipsApply(join(app.dir, 'stick'), NORTH_DEVICES, hubs.north);

    const synced = await runJob(page, 'Sync every hub', () => page.getByRole('button', { name: 'Sync now' }).click());
    expect(await synced.innerText()).toContain('ready: app-v2-north');
    const gate = page.locator('[data-gate]');
    await expect.poll(() => gate.getAttribute('data-gate')).toBe('open');
    await expect.poll(() => page.getByRole('button', { name: 'Push manifest' }).isEnabled()).toBe(true);
    await app.expectAccessible('gate open');
    await page.locator('[data-gate]').scrollIntoViewIfNeeded();
    await screenshot(app.page, 'shore-gate-open');

    const job = await runJob(page, 'Push deployment', () => page.getByRole('button', { name: 'Push manifest' }).click());
    expect(await job.innerText()).toContain(`Manifest pushed to ${NORTH_DEVICES.join(', ')}.`);
    await expectPushed(hubs.north, NORTH_DEVICES);

    // the app shows it pushed: the deployment, each target device, the list, the notifications
    const panel = page.locator('.section', { hasText: 'Deployment app-v2-north' });
    // (the view re-reads the deployment when the push job ends: give a loaded machine time for it)
    await expect.poll(() => panel.locator('[data-state]').first().innerText(), { timeout: 15_000 }).toBe('pushed');
    await expect.poll(() => panel.getByRole('table').nth(1).locator('[data-state="pushed"]').count(), { timeout: 15_000 }).toBe(3);
    expect(await page.locator('table.grid').first().innerText()).toMatch(/app-v2-north\s+pushed\s+Ana Lima <ana@fleet\.example>\s+3 \/ 3 pushed/);
    await app.expectAccessible('pushed');
    await page.locator('[data-gate]').scrollIntoViewIfNeeded();
    await screenshot(app.page, 'shore-pushed');
    await page.getByRole('link', { name: 'Hub & notifications' }).click();
    const notes = page.getByRole('list', { name: 'Notifications' });
    await expect.poll(() => notes.locator('[data-notification="deployment-pushed"]').count()).toBe(3);
    expect(await notes.locator('[data-notification="deployment-ready"]').innerText()).toContain('deployment app-v2-north is ready');
    await app.expectAccessible('notifications');
    await screenshot(app.page, 'shore-notifications');
    expect(app.problems).toEqual([]);
  }, 240_000);

  it('by keyboard only: connects the south hub, plans, builds, exports, syncs and pushes for the south group', async () => {
    const { page } = app;
    const stick = join(app.dir, 'stick-south');
    mkdirSync(stick);
    const kb = page.keyboard;
    await blur(page);

    // the hub view, from the navigation
    await tabTo(page, 'a:Hub & notifications');
    await kb.press('Enter');
    await expect.poll(() => page.url()).toMatch(/#\/hub$/);
    await tabTo(page, 'input:Name');
    await kb.type('south-hub');
    await kb.press('Tab');
    expect(await focused(page)).toBe('input:Connection string');
    await kb.type(hubs.south.serviceConnectionString);
    await kb.press('Tab');
    expect(await focused(page)).toBe('button:Connect hub');
    await kb.press('Enter');
    await expect.poll(() => page.locator('tr[data-hub="south-hub"]').innerText()).toMatch(/south-hub\s+localhost:\d+\s+iothubowner\s+stored\s+never/);
    // connected: the next step, Sync now, has focus
    await expect.poll(() => focused(page)).toBe('button:Sync now');
    await runJob(page, 'Sync every hub', () => kb.press('Enter'));
    // focus stayed on the button while it ran (it never turned disabled under the key)
    expect(await focused(page)).toBe('button:Sync now');

    // a new deployment for the south group
    await tabTo(page, 'a:Deployments');
    await kb.press('Enter');
    await tabTo(page, 'a:New deployment…');
    await kb.press('Enter');
    await expect.poll(() => page.url()).toMatch(/#\/deployments\/new$/);
    await tabTo(page, 'input:Deployment manifest');
    await chooseFile(page, () => kb.press('Enter'), join(app.dir, 'app-v2.json'));
    await expect.poll(() => page.getByTestId('manifest-file').innerText()).toContain('app-v2.json');
    await tabTo(page, 'input:Name');
    await kb.type('app-v2-south');
    for (const [label, text] of [['Ordered by', 'Ana Lima'], ['Email', 'ana@fleet.example']] as const) {
      await kb.press('Tab');
      expect(await focused(page)).toBe(`input:${label}`);
      await kb.type(text);
    }
    await tabTo(page, 'select:Group');
    // a closed select takes the first letters of an option, as a user types them
    await kb.type(SOUTH);
    await expect.poll(() => page.getByLabel('Group', { exact: true }).inputValue()).toBe(SOUTH);
    await tabTo(page, 'button:Create deployment');
    await kb.press('Enter');
    await expect.poll(() => page.url()).toMatch(/#\/deployments\/\d+$/);

    // the plan: ship 4 needs app v2 from its base, the bundle ship 3 got; the signing key is remembered
    const perDevice = page.getByRole('table', { name: 'Plan per device' });
    await expect.poll(() => perDevice.locator(`tr[data-plan-device="${SOUTH_DEVICE}"]`).count()).toBe(3);
    expect(await page.getByLabel('Signing key').inputValue()).toBe(key);
    await tabTo(page, 'button:Build bundles');
    const build = await runJob(page, 'Build bundles for app-v2-south', () => kb.press('Enter'));
    expect(await build.innerText()).toMatch(/1 bundle ready \(0 built and verified, 1 reused\)/);
    // the button kept focus through the build; the next Tab goes on to the export
    expect(await focused(page)).toBe('button:Build bundles');

    // export: the stick folder remembers the last stick; select it all and type the new one
    await kb.press('Tab');
    expect(await focused(page)).toBe('input:Stick folder');
    await kb.press('ControlOrMeta+A');
    await kb.type(stick);
    const exported = await runJob(page, 'Export deployment', () => kb.press('Enter'));
    expect(await exported.innerText()).toMatch(/for 1 device\./);
    expect(await focused(page)).toBe('input:Stick folder');
    const gate = page.locator('[data-gate]');
    await expect.poll(() => gate.locator(`[data-missing-device="${SOUTH_DEVICE}"]`).innerText()).toBe(`${SOUTH_DEVICE} misses ${images.appV2.tag}`);
    await app.expectAccessible('south gate closed');

    await shipsApply(stick, [SOUTH_DEVICE], hubs.south);
    await tabTo(page, 'button:Sync now');
    const synced = await runJob(page, 'Sync every hub', () => kb.press('Enter'));
    expect(await synced.innerText()).toContain('ready: app-v2-south');
    await expect.poll(() => gate.getAttribute('data-gate')).toBe('open');
    await kb.press('Tab');
    expect(await focused(page)).toBe('button:Push manifest');
    const pushed = await runJob(page, 'Push deployment', () => kb.press('Enter'));
    expect(await pushed.innerText()).toContain(`Manifest pushed to ${SOUTH_DEVICE}.`);
    await expectPushed(hubs.south, [SOUTH_DEVICE]);
    await expect.poll(() => page.locator('.section', { hasText: 'Deployment app-v2-south' }).locator('[data-state]').first().innerText()).toBe('pushed');
    await app.expectAccessible('south pushed');
    await page.locator('[data-gate]').scrollIntoViewIfNeeded();
    await screenshot(app.page, 'shore-keyboard-pushed');
    expect(app.problems).toEqual([]);
  }, 240_000);
});

// ---- the steps the tests share ----

/** Connects a hub by clicks: its name, its service connection string; the secret is never shown again. */
async function connectHub(page: Page, name: string, hub: HubStandin): Promise<void> {
  await page.getByLabel('Name', { exact: true }).click();
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Connection string').click();
  await page.getByLabel('Connection string').fill(hub.serviceConnectionString);
  await page.getByRole('button', { name: 'Connect hub' }).click();
  await expect.poll(() => page.locator(`tr[data-hub="${name}"]`).innerText()).toMatch(new RegExp(`^${name}\\s+${hub.host}\\s+iothubowner\\s+stored\\s+never`));
  const secret = /SharedAccessKey=([^;]+)/.exec(hub.serviceConnectionString)![1]!;
  expect(await page.getByLabel('Connection string').inputValue()).toBe('');
  expect(await page.content()).not.toContain(secret);
  // nor is it in the inventory (the console keeps it in its secret store, sealed)
  for (const f of [app.db, `${app.db}-wal`]) if (existsSync(f)) expect(readFileSync(f).includes(secret), f).toBe(false);
}

async function openDeployment(page: Page, name: string): Promise<void> {
  await page.getByRole('link', { name: 'Deployments', exact: true }).click();
  await page.getByRole('link', { name }).click();
  await expect.poll(() => page.locator('.section', { hasText: `Deployment ${name}` }).count()).toBeGreaterThan(0);
}

/**
 * Starts a job by `start` (a click or a key) and waits for it, a new one (not an earlier job of
 * the same title still on screen), to reach `state`; returns its element.
 */
async function runJob(page: Page, title: string, start: () => Promise<void>, state = 'succeeded') {
  const job = page.locator('.job', { hasText: title }).first();
  const before = (await job.count()) > 0 ? await job.getAttribute('data-job') : null;
  await start();
  await expect.poll(() => job.getAttribute('data-job')).not.toBe(before);
  await expect.poll(() => job.getAttribute('data-state'), { timeout: 120_000 }).toBe(state);
  return job;
}

/**
 * On board: the crew puts the stick's bundles into each ship's inbox (`lighter usb import --inbox`,
 * on the crew laptop, its own data directory), then each ship's edge module (`lighter edge run
 * --once`, the real program and device SDK) applies them into its registry and reports to its
 * module twin on `hub`. The twin then lists app v2 by its config digest, and skopeo finds it in the
 * ship's registry under the name the twin gives.
 */
async function shipsApply(stick: string, devices: string[], hub: HubStandin): Promise<void> {
  const laptop = join(app.dir, `crew-laptop-${devices.length}`);
  const r = lighter(['usb', 'import', stick, '--pubkey', pub, ...devices.flatMap((d) => ['--inbox', `${d}=${ships.get(d)!.inbox}`])], { LIGHTER_DATA_DIR: laptop });
  expect(r.status, r.stderr).toBe(0);
  await Promise.all(
    devices.map((d) => runOnceAsync(ships.get(d)!, pub, ['--hub-ca', hub.caFile, '--hub-retry-ms', '300'], { LIGHTER_EDGE_HUB_CONNECTION_STRING: hub.moduleConnectionString(d, 'lighter') })),
  );
  for (const d of devices) {
    const report = twinReport(hub, d);
    const v2 = report.images.find((i) => i.id === described.appV2.configDigest);
    expect(v2, `${d} reports app v2: ${JSON.stringify(report.images)}`).toBeDefined();
    expect(report.results.map((x) => x.result)).toEqual(['applied']);
    expect(skopeoView(ships.get(d)!.registry.host, v2!.ref)?.configDigest).toBe(described.appV2.configDigest);
  }
}

/** The Lighter report on a ship's module twin, read as the service SDK would and as shore sync parses it. */
function twinReport(hub: HubStandin, deviceId: string): Report {
  const r = readReport((hub.twin(deviceId, 'lighter').properties as { reported?: unknown }).reported);
  if ('error' in r) throw new Error(`${deviceId}: the twin report does not parse: ${r.error}`);
  return r.report;
}

/**
 * What the hub holds for each device, read back through the real service SDK as a real hub returns
 * it: the $edgeAgent module twin's desired properties name app v2 in the ship's own registry, and
 * that registry has that image (skopeo); $edgeHub got its routes. One configuration per device.
 */
async function expectPushed(hub: HubStandin, devices: string[]): Promise<void> {
  const registry = openRegistry(hub.serviceConnectionString, { ca: hub.ca });
  for (const d of devices) {
    const agent = (await registry.getModuleTwin(d, '$edgeAgent')).responseBody as unknown as { properties: { desired: { modules: Record<string, { settings: { image: string } }> } } };
    const image = agent.properties.desired.modules.app!.settings.image;
    const host = ships.get(d)!.registry.host;
    expect(image).toBe(`${host}/${images.appV2.tag}`);
    expect(skopeoView(host, image.slice(host.length + 1))?.configDigest).toBe(described.appV2.configDigest);
    const edgeHub = (await registry.getModuleTwin(d, '$edgeHub')).responseBody as unknown as { properties: { desired: { schemaVersion: string; routes: unknown } } };
    expect(edgeHub.properties.desired).toMatchObject({ schemaVersion: '1.1', routes: {} });
    expect(hub.appliedConfigurations.filter((c) => c.deviceId === d)).toHaveLength(1);
  }
}
