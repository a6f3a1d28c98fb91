// End to end, the crew's flow in Debian's Chromium against the real bridge: a real stick exported by
// `lighter usb export` from a deployment of the real test images; on board, by clicks, the stick
// opened and applied to two device registries (one a real loopback registry, the other the ship LAN:
// plain HTTP on a non-loopback address, which fails until the view's "plain HTTP (insecure)" choice
// is made); then by keyboard only the stick opened again, the choice made and the apply finished.
// Checked afterwards without Lighter: skopeo reads every planned image's id from each registry, the
// receipts on the stick verify with the laptop's key, and after the receipts are taken in the app
// the inventory has the images on board. Each state is checked with axe-core and screenshotted.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Locator } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { parseImageName } from '../core/deployment/image-name.js';
import { RECEIPT_SUFFIX } from '../core/edge/receipt.js';
import { generateKeys } from '../io/keys.js';
import { loadOrCreateReceiptKey, readReceipt, verifyReceipt } from '../io/receipt.js';
import { openInventory } from '../main/inventory/open.js';
import { screenshot, useApp } from './support/app.js';
import { seedFleet, type Fleet } from './support/fleet.js';
import { independentView } from './support/independent-view.js';
import { startFailingProxy, startRegistry, type TestProxy, type TestRegistry } from './support/registry.js';

const PREFIX = 'e2e-crew';

interface Shown {
  devices: string[];
  bundles: Array<{ deviceId: string; target: { ref: string }; imageState: string | null }>;
  gate: { devices: Array<{ deviceId: string; missing: string[] }> };
}

let fleet: Fleet;
let keys: { privateKey: string; publicKey: string };
let deployment: number;
let stick: string;
/** device one's registry, on loopback; device three's, as the ship LAN shows it through `lan` */
let regs: TestRegistry[] = [];
let lan: TestProxy | undefined;
let applyTo: Array<{ device: string; registry: string }>;

const app = useApp('e2e-crew', {
  async seed({ dir, db, lighter }) {
    fleet = await seedFleet(dir, PREFIX);
    keys = await generateKeys(join(dir, 'keys'));
    const manifest = join(dir, 'manifest.json');
    writeFileSync(manifest, fleet.manifest);
    const cli = <T,>(...args: string[]) => JSON.parse(lighter(...args, '--db', db, '--json')) as T;
    // The stick the shore view makes, by the same services: a deployment for the group, built, exported.
    deployment = cli<{ id: number }>('deployment', 'create', '--manifest', manifest, '--group', `${PREFIX}-north`, '--ordered-by', 'Ana Lima', '--email', 'ana@fleet.example').id;
    cli('deployment', 'build', String(deployment), '--key', keys.privateKey);
    stick = join(dir, 'stick');
    mkdirSync(stick);
    cli('usb', 'export', '--deployment', String(deployment), '--to', stick, '--key', keys.privateKey);

    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (!external) throw new Error('this test needs a non-loopback IPv4 address to stand for the ship LAN');
    regs = await Promise.all([startRegistry(), startRegistry()]);
    // What the two devices hold: device one app v1, device three only the base.
    const held = [fleet.images.appV1, fleet.images.base];
    held.forEach((img, i) => execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `docker-archive:${img.archive}`, `docker://${regs[i]!.host}/${img.tag}`]));
    lan = await startFailingProxy(regs[1]!.host, () => undefined, external);
    applyTo = [
      { device: fleet.devices[0], registry: `docker://${regs[0]!.host}` },
      { device: fleet.devices[2], registry: `docker://${lan.host}` },
    ];
  },
});

afterAll(async () => {
  await lan?.stop();
  await Promise.all(regs.map((r) => r.stop()));
});

const show = () => JSON.parse(app.lighter('deployment', 'show', String(deployment), '--db', app.db, '--json')) as Shown;

/** Presses Tab until `target` has the focus: it is reachable by keyboard, in the page's tab order. */
async function tabTo(target: Locator, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement)) return;
    await app.page.keyboard.press('Tab');
  }
  throw new Error(`${target.toString()} not reached by ${max} presses of Tab`);
}

/** Records what the page shows of every running job (bar value, stage line) from now on. */
async function watchProgress(): Promise<void> {
  await app.page.evaluate(`(() => {
    window.__progress = [];
    const seen = () => {
      for (const job of document.querySelectorAll('.job[data-state="running"]')) {
        const bar = job.querySelector('[role="progressbar"]');
        window.__progress.push({ title: job.querySelector('.job-title')?.textContent ?? '', value: Number(bar?.getAttribute('aria-valuenow') ?? -1), meta: job.querySelector('.job-meta')?.textContent ?? '' });
      }
    };
    new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  })()`);
}

const progressSeen = () => app.page.evaluate('window.__progress') as Promise<Array<{ title: string; value: number; meta: string }>>;

const devicesTable = () => app.page.getByRole('table', { name: 'Devices on this stick' });
const results = () => app.page.getByRole('table', { name: 'Apply results' });
const outcomeOf = (device: string) => results().locator(`tr[data-result-device="${device}"]`).getAttribute('data-outcome');
const applyJob = () => app.page.locator('.job', { hasText: 'Apply from' });

describe('crew in the app', () => {
  it('opens the stick and applies to two device registries by clicks; the LAN one fails until plain HTTP is chosen', async () => {
    await app.page.getByRole('button', { name: /^Crew/ }).click();
    await expect.poll(() => app.page.url()).toMatch(/#\/crew$/);
    await app.page.getByLabel('Stick folder').fill(stick);
    await app.page.getByLabel('Bundle public key').fill(keys.publicKey);
    await app.page.getByRole('button', { name: 'Open stick' }).click();
    await expect.poll(() => devicesTable().locator('tr[data-stick-device]').count(), { timeout: 120_000 }).toBe(3);
    for (const d of fleet.devices) expect(await devicesTable().locator(`tr[data-stick-device="${d}"]`).innerText()).toContain(fleet.images.appV2.tag);
    // nothing to apply yet, and the plain-HTTP choice waits for an address
    await expect.poll(() => app.page.getByRole('button', { name: /^Apply to/ }).isDisabled()).toBe(true);
    expect(await app.page.getByRole('checkbox', { name: `plain HTTP (insecure) for ${fleet.devices[2]}` }).isDisabled()).toBe(true);
    await app.expectAccessible('crew stick opened');
    await screenshot(app.page, 'crew-stick-opened');

    for (const t of applyTo) await app.page.getByLabel(`Registry of ${t.device}`).fill(t.registry);
    await watchProgress();
    await app.page.getByRole('button', { name: 'Apply to 2 devices' }).click();
    await expect.poll(() => applyJob().getAttribute('data-state'), { timeout: 180_000 }).toBe('succeeded');
    expect(await outcomeOf(fleet.devices[0])).toBe('applied');
    expect(await outcomeOf(fleet.devices[2])).toBe('failed');
    expect(await applyJob().innerText()).toContain('1 applied, 1 failed');
    // main's reason, shown per device: the registry is plain HTTP off loopback
    expect(await results().locator(`tr[data-result-device="${fleet.devices[2]}"]`).innerText()).toMatch(/HTTPS.*insecure/s);
    expect(await results().locator(`tr[data-result-device="${fleet.devices[1]}"]`).count()).toBe(0);
    // the page showed the job moving, applying to each device, never going back (the verify stage
    // before it can be over before the page draws on an idle machine: test/usb-roundtrip checks the
    // stages at the service)
    const seen = (await progressSeen()).filter((p) => p.title.startsWith('Apply from'));
    expect(seen.some((p) => p.meta.includes(`applying to ${fleet.devices[0]}`)), JSON.stringify(seen)).toBe(true);
    const values = seen.map((p) => p.value);
    expect(new Set(values).size, JSON.stringify(seen)).toBeGreaterThan(1);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    await app.expectAccessible('crew apply with a failure');
    await screenshot(app.page, 'crew-apply-failed');
  }, 300_000);

  it('by keyboard only: opens the stick again, chooses plain HTTP for the LAN registry and finishes the apply', async () => {
    await app.page.reload();
    await expect.poll(() => app.page.getByLabel('Stick folder').inputValue()).toBe(stick);
    // the stick folder and key are remembered: Tab to the form and submit it with Enter
    await tabTo(app.page.getByLabel('Bundle public key'));
    await app.page.keyboard.press('Enter');
    await expect.poll(() => devicesTable().locator('tr[data-stick-device]').count(), { timeout: 120_000 }).toBe(3);
    // the registries typed before are remembered too
    for (const t of applyTo) expect(await app.page.getByLabel(`Registry of ${t.device}`).inputValue()).toBe(t.registry);
    const insecure = app.page.getByRole('checkbox', { name: `plain HTTP (insecure) for ${fleet.devices[2]}` });
    await tabTo(insecure);
    await app.page.keyboard.press('Space');
    expect(await insecure.isChecked()).toBe(true);
    expect(await app.page.getByRole('checkbox', { name: `plain HTTP (insecure) for ${fleet.devices[0]}` }).isChecked()).toBe(false);
    await app.expectAccessible('crew plain HTTP chosen');
    await screenshot(app.page, 'crew-insecure-chosen');
    await tabTo(app.page.getByRole('button', { name: 'Apply to 2 devices' }));
    await app.page.keyboard.press('Enter');
    await expect.poll(() => applyJob().getAttribute('data-state'), { timeout: 180_000 }).toBe('succeeded');
    expect(await outcomeOf(fleet.devices[0])).toBe('already-applied');
    expect(await outcomeOf(fleet.devices[2])).toBe('applied');
    expect(await applyJob().innerText()).toContain('1 already there, 1 applied');
    expect(await app.page.getByTestId('receipts-written').innerText()).toMatch(/1 receipt written to .*\/receipts/);
    await app.expectAccessible('crew applied');
    await screenshot(app.page, 'crew-applied');

    // what went to main: the plain-HTTP choice for device three only (the job history keeps the request)
    const d = await openInventory(fleet.dbFile, { create: false });
    try {
      const rows = d.prepare("SELECT params_json FROM jobs WHERE kind = 'usb-import' ORDER BY id").all() as Array<{ params_json: string }>;
      const asked = rows.map((r) => JSON.parse(r.params_json) as { dryRun: boolean; apply: Record<string, string>; insecure: unknown }).filter((p) => !p.dryRun);
      expect(asked.map((p) => [Object.keys(p.apply).sort(), p.insecure])).toEqual([
        [[fleet.devices[0], fleet.devices[2]], []],
        [[fleet.devices[0], fleet.devices[2]], [fleet.devices[2]]],
      ]);
    } finally {
      d.close();
    }
  }, 300_000);

  it('leaves verified receipts on the stick and the planned images in both registries, and the inventory marks them on board', async () => {
    // receipts: one per device applied, signed by the laptop key of the console's data directory
    const dirOnStick = join(stick, 'receipts');
    const files = readdirSync(dirOnStick);
    const receipts = await Promise.all(files.filter((f) => f.endsWith(RECEIPT_SUFFIX)).map((f) => readReceipt(join(dirOnStick, f))));
    expect(receipts.map((r) => [r.deviceId, r.result]).sort()).toEqual([
      [fleet.devices[0], 'applied'],
      [fleet.devices[2], 'applied'],
    ]);
    const laptop = await loadOrCreateReceiptKey(app.dir);
    const pem = files.filter((f) => f.endsWith('.pem'));
    expect(pem).toEqual([`signer-${laptop.keyId.slice(7, 23)}.pem`]);
    const signerPem = readFileSync(join(dirOnStick, pem[0]!), 'utf8');
    for (const r of receipts) {
      expect(verifyReceipt(r, laptop.publicKeyPem)).toEqual({ ok: true });
      expect(verifyReceipt(r, signerPem)).toEqual({ ok: true });
      expect(verifyReceipt({ ...r, result: 'failed' }, signerPem)).toMatchObject({ ok: false, why: 'bad-signature' });
    }

    // every image the plan sends to the two devices, read back by skopeo from each device's registry
    const plan = show();
    const archives = Object.values(fleet.images);
    const readBack = [regs[0]!.host, regs[1]!.host];
    for (const [i, t] of applyTo.entries()) {
      const planned = plan.bundles.filter((b) => b.deviceId === t.device);
      expect(planned.length).toBeGreaterThan(0);
      for (const b of planned) {
        const n = parseImageName(b.target.ref);
        const archive = archives.find((a) => parseImageName(a.tag).path === n.path && parseImageName(a.tag).tag === n.tag)!;
        const expected = independentView(`docker-archive:${archive.archive}`).configDigest;
        expect(independentView(`docker://${readBack[i]}/${n.path}:${n.tag}`).configDigest, `${b.target.ref} on ${t.device}`).toBe(expected);
        expect(receipts.find((r) => r.deviceId === t.device)?.target?.id).toBe(expected);
      }
    }
    expect(plan.gate.devices.filter((g) => g.missing.length === 0)).toEqual([]);

    // back on shore, the receipts taken in the app (by keyboard): the images are on board
    const take = app.page.getByRole('button', { name: 'Take receipts into the inventory' });
    await tabTo(take);
    await app.page.keyboard.press('Enter');
    await expect.poll(() => app.page.getByTestId('receipts-taken').innerText()).toBe('2 taken (2 applied), 0 refused');
    await app.expectAccessible('crew receipts taken');
    await screenshot(app.page, 'crew-receipts-taken');
    const after = show();
    const stateOf = (device: string) => after.bundles.filter((b) => b.deviceId === device).map((b) => b.imageState);
    expect(stateOf(fleet.devices[0])).toEqual(['applied']);
    expect(stateOf(fleet.devices[2])).toEqual(['applied']);
    expect(stateOf(fleet.devices[1])).toEqual(['in_transit']);
    expect(after.gate.devices.find((g) => g.deviceId === fleet.devices[0])?.missing).toEqual([]);
    expect(after.gate.devices.find((g) => g.deviceId === fleet.devices[2])?.missing).toEqual([]);
    expect(after.gate.devices.find((g) => g.deviceId === fleet.devices[1])?.missing.length).toBeGreaterThan(0);
    expect(app.problems).toEqual([]);
  }, 300_000);
});
