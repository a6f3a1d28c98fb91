// Acceptance (issue 13, hostile media): a stick exported from a real deployment, then altered the
// ways sticks get altered (files added, removed, truncated, flipped; `._*` files; a symlink; the
// index edited, re-signed by another key, or gone; a read error mid-file on a real block device).
// Each import fails with its own code and nothing reaches any device inbox; `._*` files are ignored.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsbError } from '../core/usb/stick.js';
import { generateKeys, loadSigner } from '../io/keys.js';
import { BundleStore } from '../main/deployments/bundle-store.js';
import { DeploymentService } from '../main/deployments/service.js';
import { openInventory, type Db } from '../main/inventory/open.js';
import { Inventory } from '../main/inventory/store.js';
import { UsbExporter } from '../main/usb/export.js';
import { UsbImporter, type ImportRequest } from '../main/usb/import.js';
import { StickRejected } from '../main/usb/stick-reader.js';
import { indexSigningBytes, type StickIndex } from '../core/usb/stick.js';
import { seedFleet, type Fleet } from './support/fleet.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-usb-hostile-'));
let fleet: Fleet;
let db: Db;
let keys: { privateKey: string; publicKey: string };
let pristine: string;
let bundleFiles: string[];

beforeAll(async () => {
  fleet = await seedFleet(join(dir, 'shore'), 'usbh');
  keys = await generateKeys(join(dir, 'keys'));
  db = await openInventory(fleet.dbFile);
  const inv = new Inventory(db, 'ana');
  const store = await BundleStore.open(join(fleet.dataDir, 'bundles'));
  const deployments = new DeploymentService(inv, store);
  const id = deployments.create({ manifestJson: fleet.manifest, name: 'hostile', group: 'usbh-north', orderedBy: { name: 'Ana', email: 'ana@fleet.example' } });
  await deployments.build(id, keys.privateKey);
  pristine = join(dir, 'pristine');
  mkdirSync(pristine);
  await new UsbExporter(inv, store).export({ deployment: id, to: [pristine], key: keys.privateKey });
  bundleFiles = readdirSync(join(pristine, 'lighter', 'bundles')).sort();
}, 600_000);

afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function stickCopy(): string {
  const copy = join(dir, `case-${++n}`);
  cpSync(pristine, copy, { recursive: true });
  return copy;
}

function inboxes(): Record<string, string> {
  return Object.fromEntries(fleet.devices.map((d) => [d, join(dir, `inbox-${n}`, d)]));
}

async function importInto(stick: string, extra: Partial<ImportRequest> = {}) {
  const inbox = inboxes();
  const run = new UsbImporter(join(dir, `crew-${n}`)).import({ dir: stick, pubkey: keys.publicKey, inbox, ...extra });
  return { run, inbox };
}

/** The import fails with `code` and no device inbox received anything. */
async function refused(stick: string, code: UsbError['code'], message: RegExp): Promise<void> {
  const { run, inbox } = await importInto(stick);
  const err = (await run.then(
    () => null,
    (e: unknown) => e,
  )) as UsbError | null;
  expect(err).toBeInstanceOf(UsbError);
  expect(err!.code).toBe(code);
  expect(err!.message).toMatch(message);
  for (const d of Object.values(inbox)) expect(existsSync(d) ? readdirSync(d) : []).toEqual([]);
}

const bundlePath = (stick: string, i = 0) => join(stick, 'lighter', 'bundles', bundleFiles[i]!);

describe('hostile USB media', () => {
  it('imports the untouched stick (the control): every device inbox gets its bundles', async () => {
    const { run, inbox } = await importInto(stickCopy());
    const r = await run;
    expect(r.devices.map((d) => d.bundles.map((b) => b.outcome))).toEqual([['copied'], ['copied'], ['copied']]);
    expect(Object.values(inbox).map((d) => readdirSync(d).length)).toEqual([1, 1, 1]);
  });

  it('refuses a file added to the stick', async () => {
    const s = stickCopy();
    writeFileSync(join(s, 'lighter', 'bundles', `${'0'.repeat(64)}.bundle`), 'not from shore');
    await refused(s, 'unexpected-file', /lighter\/bundles\/0{64}\.bundle: unexpected-file: the signed index does not list it/);
  });

  it('refuses a stick with a file removed', async () => {
    const s = stickCopy();
    rmSync(bundlePath(s, 1));
    await refused(s, 'missing-file', new RegExp(`${bundleFiles[1]}: missing-file`));
  });

  it('refuses a truncated file', async () => {
    const s = stickCopy();
    const p = bundlePath(s);
    truncateSync(p, statSync(p).size - 100);
    await refused(s, 'size-mismatch', /size-mismatch: \d+ bytes, the index says \d+ \(truncated\)/);
  });

  it('refuses a file with a flipped byte, and names it as altered', async () => {
    const s = stickCopy();
    const p = bundlePath(s);
    const bytes = readFileSync(p);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x01;
    writeFileSync(p, bytes);
    await refused(s, 'digest-mismatch', /digest-mismatch: its bytes hash to sha256:[0-9a-f]{64}, the index says/);
  });

  it('ignores macOS ._* files, and says so', async () => {
    const s = stickCopy();
    writeFileSync(join(s, 'lighter', 'bundles', `._${bundleFiles[0]}`), Buffer.alloc(4096, 1));
    writeFileSync(join(s, 'lighter', '._index.json'), Buffer.alloc(4096, 1));
    const { run } = await importInto(s);
    const r = await run;
    expect(r.ignored).toEqual(['lighter/._index.json', `lighter/bundles/._${bundleFiles[0]} (macOS metadata)`]);
    expect(r.devices.flatMap((d) => d.bundles.map((b) => b.outcome))).toEqual(['copied', 'copied', 'copied']);
  });

  it('refuses a symlink where a bundle file should be', async () => {
    const s = stickCopy();
    const p = bundlePath(s);
    cpSync(p, join(dir, 'outside.bundle'));
    rmSync(p);
    symlinkSync(join(dir, 'outside.bundle'), p);
    await refused(s, 'unsafe-entry', /unsafe-entry: a symlink, not a regular file/);
  });

  it('refuses an index edited after export, one signed by another key, and a stick without one', async () => {
    const edited = stickCopy();
    const file = join(edited, 'lighter', 'index.json');
    const signed = JSON.parse(readFileSync(file, 'utf8')) as { index: StickIndex; signature: string };
    signed.index.devices[0]!.deviceId = 'usbh-intruder';
    writeFileSync(file, JSON.stringify(signed));
    await refused(edited, 'bad-signature', /altered or damaged after export/);

    const other = stickCopy();
    const mallory = await loadSigner((await generateKeys(join(dir, 'mallory'))).privateKey);
    const original = JSON.parse(readFileSync(join(other, 'lighter', 'index.json'), 'utf8')) as { index: StickIndex };
    const forged = { ...original.index, signer: mallory.keyId };
    writeFileSync(join(other, 'lighter', 'index.json'), JSON.stringify({ index: forged, signature: Buffer.from(mallory.sign(indexSigningBytes(forged))).toString('base64') }));
    await refused(other, 'wrong-key', /the index is signed by sha256:[0-9a-f]{64}, not by the bundle key/);

    const none = stickCopy();
    rmSync(join(none, 'lighter', 'index.json'));
    await refused(none, 'no-index', /not a Lighter stick, or the export did not finish/);
  });

  it('lists every problem on a stick at once, each with its code', async () => {
    const s = stickCopy();
    rmSync(bundlePath(s, 0));
    truncateSync(bundlePath(s, 1), 10);
    writeFileSync(join(s, 'lighter', 'notes.txt'), 'hi');
    await refused(s, 'unexpected-file', /^unexpected-file: 3 problem\(s\) on the stick, nothing applied: lighter\/notes\.txt: unexpected-file: /);
    const err = (await (await importInto(s)).run.catch((e: unknown) => e)) as StickRejected;
    expect(err.problems.map((p) => [p.file.split('/').pop(), p.code]).sort()).toEqual(
      [
        ['notes.txt', 'unexpected-file'],
        [bundleFiles[0], 'missing-file'],
        [bundleFiles[1], 'size-mismatch'],
      ].sort(),
    );
  });

  // A real block device that fails mid-file: an ext4 image on a loop device, shrunk under the
  // mounted filesystem so reads past the cut get EIO from the block layer.
  const canLoop = process.getuid?.() === 0 && existsSync('/dev/loop-control');
  it.skipIf(!canLoop)('reports a read error mid-file as a read error, not as tampering', async () => {
    const img = join(dir, 'stick.img');
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    const size = 64 << 20;
    execFileSync('truncate', ['-s', String(size), img]);
    execFileSync('mkfs.ext4', ['-q', '-b', '4096', img]);
    const loop = execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim();
    let mounted = false;
    try {
      execFileSync('mount', [loop, mnt]);
      mounted = true;
      const largest = [...bundleFiles].sort((a, b) => statSync(bundlePath(pristine, bundleFiles.indexOf(b))).size - statSync(bundlePath(pristine, bundleFiles.indexOf(a))).size)[0]!;
      // Everything else first, so the cut falls in this file and nothing the reader needs before it.
      cpSync(pristine, join(mnt, 'stick'), { recursive: true, filter: (src) => !src.endsWith(largest) });
      execFileSync('sync');
      const target = join(mnt, 'stick', 'lighter', 'bundles', largest);
      cpSync(join(pristine, 'lighter', 'bundles', largest), target);
      execFileSync('sync');
      // Where the file's bytes are on the device: cut the device in the middle of them.
      const extents = execFileSync('filefrag', ['-v', '-b4096', target], { encoding: 'utf8' });
      const first = /^\s*0:\s+\d+\.\.\s*\d+:\s+(\d+)\.\.\s*(\d+):/m.exec(extents)!;
      const cut = Math.floor((Number(first[1]) + Number(first[2])) / 2) * 4096;
      execFileSync('umount', [mnt]);
      mounted = false;
      execFileSync('mount', ['-o', 'ro', loop, mnt]);
      mounted = true;
      execFileSync('truncate', ['-s', String(cut), img]);
      execFileSync('losetup', ['-c', loop]);
      await refused(join(mnt, 'stick'), 'read-error', new RegExp(`${largest}: read-error: the medium failed to read \\(EIO\\); not tampering`));
    } finally {
      if (mounted) execFileSync('umount', ['-l', mnt]);
      execFileSync('losetup', ['-d', loop]);
    }
  }, 120_000);
});
