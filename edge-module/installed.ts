// Which images the device's current deployment uses, as `restore` and `prune` need to know it:
// from an IoT Edge deployment manifest when one is given (its modules' images, as store refs), or
// else from the module's own record of what bundles installed (`<state>/installed.json`): the
// newest image of each repository is current, the one before it is the previous version.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseManifest } from '../core/deployment/manifest.js';
import { imageRef, type ImageRef } from '../core/edge/receipt.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { storeRefOf } from './store.js';

const FILE = 'installed.json';
const installedSchema = z.array(z.object({ image: imageRef, version: z.number().int().positive(), at: z.string() }).strict());
type Installed = z.infer<typeof installedSchema>;

export function repositoryOf(ref: string): string {
  return ref.slice(0, ref.lastIndexOf(':'));
}

async function read(stateDir: string): Promise<Installed> {
  const text = await fs.readFile(join(stateDir, FILE), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '[]';
    throw err;
  });
  const parsed = installedSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${join(stateDir, FILE)} is damaged; remove it (restore and prune then need --deployment)`);
  return parsed.data;
}

/** Records an image a bundle installed (newest last; at most a few per repository are kept). */
export async function recordInstalled(stateDir: string, image: ImageRef, version: number): Promise<void> {
  const all = (await read(stateDir)).filter((i) => i.image.ref !== image.ref || i.image.id !== image.id);
  all.push({ image, version, at: new Date().toISOString() });
  const repo = repositoryOf(image.ref);
  const mine = all.filter((i) => repositoryOf(i.image.ref) === repo);
  const keep = new Set(mine.slice(-4));
  await writeFileAtomic(join(stateDir, FILE), `${JSON.stringify(all.filter((i) => repositoryOf(i.image.ref) !== repo || keep.has(i)))}\n`);
}

export interface Deployment {
  /** store refs the deployment runs */
  current: string[];
  /** the version before each current one (bundle history only) */
  previous: string[];
}

/** The deployment from a manifest file, or from what bundles installed. */
export async function currentDeployment(stateDir: string, manifestFile?: string): Promise<Deployment> {
  if (manifestFile) {
    const m = parseManifest(await fs.readFile(manifestFile, 'utf8'));
    return { current: m.modules.filter((x) => !x.system).map((x) => storeRefOf(x.image)), previous: [] };
  }
  const all = await read(stateDir);
  const byRepo = new Map<string, Installed>();
  for (const i of all) byRepo.set(repositoryOf(i.image.ref), [...(byRepo.get(repositoryOf(i.image.ref)) ?? []), i]);
  const current: string[] = [];
  const previous: string[] = [];
  for (const list of byRepo.values()) {
    const refs = [...new Set(list.map((i) => i.image.ref).reverse())]; // newest first
    current.push(refs[0]!);
    if (refs[1]) previous.push(refs[1]);
  }
  return { current, previous };
}
