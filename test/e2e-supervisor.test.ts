// End to end, the supervisor's dashboards and the fleet view on a seeded fleet of 2,000 devices and
// 20,000 device images in Debian's Chromium: the figures shown are the ones computed here from the
// seed (not read back from Lighter), a table's CSV export equals the table, the fleet view renders
// and filters (timings written to test-artifacts/fleet-timing.json), axe finds nothing serious,
// screenshots of each view go to test-artifacts/.
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDeviceList } from '../main/inventory/import-devices.js';
import { openInventory } from '../main/inventory/open.js';
import { Inventory } from '../main/inventory/store.js';
import { edgeManifest } from './support/fleet.js';
import { ARTIFACTS, blur, chooseRole, focused, screenshot, tabTo, useApp, type AppSession } from './support/app.js';

const DEVICES = 2000;
const IMAGES = 10;
const dev = (i: number) => `sv-${String(i).padStart(4, '0')}`;
const image = (k: number) => `fleetacr.azurecr.io/sv/mod-${k}`;
const imageSize = (k: number) => (k + 1) * 10_000_000;
const stateOf = (i: number, k: number) => ((i + k) % 97 === 0 ? 'failed' : (i + k) % 13 === 0 ? 'in_transit' : 'present');
const TRANSFERS = Array.from({ length: 30 }, (_, j) => ({ bundle: j % 3, device: dev(j * 7), ok: j % 5 !== 0, daysAgo: j % 10 }));
const BUNDLE_SIZE = (b: number) => (b + 1) * 1_000_000;
const ORDERS = [
  { name: 'ana-q4', by: { name: 'Ana Lima', email: 'ana@fleet.example' }, state: 'pushed' },
  { name: 'ana-hotfix', by: { name: 'Ana Lima', email: 'ana@fleet.example' }, state: 'planned' },
  { name: 'bo-mining', by: { name: 'Bo Chen', email: 'bo@fleet.example' }, state: 'draft' },
] as const;

async function seed({ db: file }: Pick<AppSession, 'db'>): Promise<void> {
  const inv = new Inventory(await openInventory(file, { create: false }), 'ana');
  try {
    const twins = Array.from({ length: DEVICES }, (_, i) => ({
      deviceId: dev(i),
      connectionState: i % 3 ? 'Connected' : 'Disconnected',
      capabilities: { iotEdge: true },
      tags: { group: `g-${String(i % 20).padStart(2, '0')}`, vessel: `MV Vessel ${String(Math.floor(i / 10)).padStart(3, '0')}`, site: `site-${i % 7}` },
    }));
    inv.importDevices(parseDeviceList(JSON.stringify(twins), { hub: 'fleet-hub' }), 'file', 'fleet-2000.json');
    Array.from({ length: IMAGES }, (_, k) => inv.catalogImage({ name: `${image(k)}:1.0`, configDigest: `sha256:${String(k).repeat(64).slice(0, 64)}`, size: imageSize(k) }).id);
    for (let b = 0; b < 3; b++) {
      inv.recordBundle({ id: `sha256:${String(b + 1).repeat(64)}`, version: b + 1, size: BUNDLE_SIZE(b), sha256: `sha256:${'e'.repeat(63)}${b}`, entries: [{ base: null, target: { name: `${image(b)}:1.0`, configDigest: `sha256:${String(b).repeat(64).slice(0, 64)}` } }] });
    }
    for (const o of ORDERS) {
      const id = inv.createDeployment({ name: o.name, manifestJson: edgeManifest({ app: `${image(0)}:1.0` }), orderedBy: o.by, devices: [dev(0), dev(1)] });
      if (o.state !== 'draft') inv.setDeploymentState(id, 'planned');
    }
  } finally {
    inv.db.close();
  }
  // 20,000 device images and dated transfers in one transaction (what syncs would have recorded)
  const raw = new Database(file);
  const ids = (raw.prepare('SELECT id FROM images ORDER BY repository').all() as Array<{ id: number }>).map((r) => r.id);
  const put = raw.prepare("INSERT INTO device_images (device_id, image_id, state, channel, updated_at) VALUES (?, ?, ?, 'reported', '2026-11-30T00:00:00.000Z')");
  const transfer = raw.prepare("INSERT INTO transfers (bundle_id, device_id, channel, state, bytes_done, bytes_total, attempts, created_at, updated_at, finished_at) VALUES (?, ?, 'usb', ?, ?, ?, 1, ?, ?, ?)");
  raw.transaction(() => {
    for (let i = 0; i < DEVICES; i++) for (let k = 0; k < IMAGES; k++) put.run(dev(i), ids[k]!, stateOf(i, k));
    // pushed long ago, when its images were on board (the gate is the inventory's to enforce, not the seed's)
    raw.prepare("UPDATE deployments SET state = 'pushed' WHERE name = 'ana-q4'").run();
    raw.prepare("UPDATE deployment_devices SET pushed_at = '2026-11-01T00:00:00.000Z' WHERE deployment_id = (SELECT id FROM deployments WHERE name = 'ana-q4')").run();
    for (const t of TRANSFERS) {
      const at = new Date(Date.now() - t.daysAgo * 86_400_000).toISOString();
      transfer.run(`sha256:${String(t.bundle + 1).repeat(64)}`, t.device, t.ok ? 'succeeded' : 'failed', t.ok ? BUNDLE_SIZE(t.bundle) : 0, BUNDLE_SIZE(t.bundle), at, at, at);
    }
  })();
  raw.close();
}

const app = useApp('e2e-supervisor', { seed, downloads: true });

const tableRows = (name: string) =>
  app.page.locator(`[data-table="${name}"] tbody tr`).evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));

function parseCsv(text: string): string[][] {
  return text
    .trimEnd()
    .split('\r\n')
    .map((line) => line.split(',').map((f) => f.replace(/^"|"$/g, '').replace(/""/g, '"')));
}

describe('supervisor dashboards', () => {
  it('shows the figures the seeded inventory holds', async () => {
    const { page, problems } = app;
    await chooseRole(page, 'Supervisor');
    await expect.poll(() => page.url()).toMatch(/#\/dashboards$/);
    const totals = page.getByTestId('dashboard-totals');
    await expect.poll(() => totals.locator('[data-figure="deployments"]').innerText(), { timeout: 30_000 }).toBe('3');
    const ok = TRANSFERS.filter((t) => t.ok).length;
    const bad = TRANSFERS.length - ok;
    expect(await totals.locator('[data-figure="succeeded"]').innerText()).toBe(String(ok));
    expect(await totals.locator('[data-figure="failed"]').innerText()).toBe(String(bad));
    const sent = TRANSFERS.filter((t) => t.ok).reduce((n, t) => n + BUNDLE_SIZE(t.bundle), 0);
    const full = TRANSFERS.filter((t) => t.ok).reduce((n, t) => n + imageSize(t.bundle), 0);
    expect(await totals.locator('[data-figure="saved"]').innerText()).toBe(`${Math.round(100 * (1 - sent / full))}%`);
    expect(await page.getByRole('img', { name: /^Transfers per day/ }).getAttribute('aria-label')).toBe(`Transfers per day: ${ok} succeeded, ${bad} failed`);
    // the charts drew their bars (recharts SVG), not only a frame
    await expect.poll(() => page.locator('.recharts-bar-rectangle').count()).toBeGreaterThan(3);

    const savings = await tableRows('savings');
    for (let b = 0; b < 3; b++) {
      const mine = TRANSFERS.filter((t) => t.ok && t.bundle === b);
      const row = savings.find((r) => r[0] === `${image(b)}:1.0`)!;
      expect(row.slice(0, 2)).toEqual([`${image(b)}:1.0`, String(mine.length)]);
      expect(row[4]).toBe(`${Math.round(100 * (1 - BUNDLE_SIZE(b) / imageSize(b)))}%`);
    }
    expect(await tableRows('orderers')).toEqual([
      ['Ana Lima', 'ana@fleet.example', '2', '1', '1'],
      ['Bo Chen', 'bo@fleet.example', '1', '0', '1'],
    ]);
    const states = await tableRows('deployments');
    expect(states.map((r) => [r[0], r[1]]).sort()).toEqual(ORDERS.map((o) => [o.name, o.state]).sort());

    const perImage = await tableRows('devices-per-image');
    for (let k = 0; k < IMAGES; k++) {
      const count = (s: string) => Array.from({ length: DEVICES }, (_, i) => stateOf(i, k)).filter((x) => x === s).length;
      expect(perImage.find((r) => r[0] === `${image(k)}:1.0`)!.slice(2)).toEqual([String(count('present')), String(count('in_transit')), String(count('failed'))]);
    }
    expect(problems).toEqual([]);
    await app.expectAccessible('dashboards');
    await screenshot(page, 'supervisor-dashboards');
  }, 120_000);

  it('filters a table and exports exactly what it shows as CSV', async () => {
    const { page } = app;
    const table = page.locator('[data-table="images-per-device"]');
    await table.getByRole('searchbox').fill('sv-019');
    await expect.poll(() => tableRows('images-per-device').then((r) => r.length)).toBe(10);
    const shown = await tableRows('images-per-device');
    for (const r of shown) {
      const i = Number(r[0]!.slice(3));
      const states = Array.from({ length: IMAGES }, (_, k) => stateOf(i, k));
      expect(r.slice(3)).toEqual([states.filter((s) => s === 'present').length, states.filter((s) => s === 'in_transit').length, states.filter((s) => s === 'failed').length].map(String));
    }
    const download = page.waitForEvent('download');
    await table.getByRole('button', { name: 'Export CSV' }).click();
    const file = await (await download).path();
    const csv = parseCsv(readFileSync(file, 'utf8'));
    expect(csv[0]).toEqual(['Device', 'Name', 'Group', 'On board', 'In transit', 'Failed']);
    expect(csv.slice(1)).toEqual(shown.map((r) => r.map((c) => (c === '—' ? '' : c))));
  });

  it('filters a table and exports its CSV by keyboard only', async () => {
    const { page, problems } = app;
    await blur(page);
    // from the top of the page, Tab alone reaches the table's filter
    await tabTo(page, 'input:Filter images per device', { max: 200 });
    await page.keyboard.press('Control+A');
    await page.keyboard.type('sv-020');
    await expect.poll(() => tableRows('images-per-device').then((r) => r.length)).toBe(10);
    const shown = await tableRows('images-per-device');
    expect(shown.map((r) => r[0])).toEqual(Array.from({ length: 10 }, (_, j) => dev(200 + j)));
    // focus stayed in the filter while it narrowed the table, and the next Tab is the export
    expect(await focused(page)).toBe('input:Filter images per device');
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('button:Export CSV');
    const download = page.waitForEvent('download');
    await page.keyboard.press('Space');
    const csv = parseCsv(readFileSync(await (await download).path(), 'utf8'));
    expect(csv[0]).toEqual(['Device', 'Name', 'Group', 'On board', 'In transit', 'Failed']);
    expect(csv.slice(1)).toEqual(shown.map((r) => r.map((c) => (c === '—' ? '' : c))));
    // exporting leaves focus where it was
    expect(await focused(page)).toBe('button:Export CSV');
    expect(problems).toEqual([]);
  });
});

describe('fleet of 2,000 devices and 20,000 device images', () => {
  it('renders and filters the fleet view (timings recorded)', async () => {
    const { page, problems } = app;
    const t0 = Date.now();
    await page.getByRole('link', { name: 'Fleet', exact: true }).click();
    await page.locator('tr[data-device]').first().waitFor();
    const render = Date.now() - t0;
    await expect.poll(() => page.locator('.section-actions .muted').first().innerText()).toBe(`${DEVICES} shown`);
    // virtualised: only what is in view is in the page
    expect(await page.locator('tr[data-device]').count()).toBeLessThan(80);

    const t1 = Date.now();
    await page.getByLabel('Group').selectOption('g-07');
    await expect.poll(() => page.locator('.section-actions .muted').first().innerText(), { interval: 20 }).toBe(`${DEVICES / 20} shown`);
    const filter = Date.now() - t1;

    const t2 = Date.now();
    await page.getByLabel('Search devices').fill('sv-19');
    await expect.poll(() => page.locator('.section-actions .muted').first().innerText(), { interval: 20 }).toBe('5 shown');
    const search = Date.now() - t2;
    expect((await page.locator('tr[data-device]').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-device')))).sort()).toEqual(['sv-1907', 'sv-1927', 'sv-1947', 'sv-1967', 'sv-1987']);

    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'fleet-timing.json'), `${JSON.stringify({ devices: DEVICES, deviceImages: DEVICES * IMAGES, renderMs: render, groupFilterMs: filter, searchMs: search }, null, 2)}\n`);
    process.stdout.write(`fleet view, ${DEVICES} devices / ${DEVICES * IMAGES} device images: render ${render} ms, group filter ${filter} ms, search ${search} ms\n`);
    await app.expectAccessible('fleet');
    await screenshot(page, 'supervisor-fleet-2000');
    expect(problems).toEqual([]);
  }, 120_000);
});
