// Shared by the USB tests: the lighter CLI run as a user would (dist/, through bin/lighter.js),
// device registries seeded with what each device holds, and what skopeo reads back from them.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from './registry.js';
import type { Fleet } from './fleet.js';

export const CLI = join(import.meta.dirname, '..', '..', 'bin', 'lighter.js');

export function lighter(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'utf8', env: { ...process.env, LIGHTER_USER: 'ana', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `lighter` without blocking this process: for runs that talk to a server the test itself serves. */
export function lighterAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('node', [CLI, ...args], { encoding: 'utf8', env: { ...process.env, LIGHTER_USER: 'ana', ...env } }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ status: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

/** Runs the CLI and parses its --json result; throws with stderr when it fails. */
export function lighterJson<T>(args: string[], env: NodeJS.ProcessEnv = {}): T {
  const r = lighter([...args, '--json'], env);
  if (r.status !== 0) throw new Error(`lighter ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** One registry per device of the fleet, holding the image the inventory says the device has. */
export async function deviceRegistries(fleet: Fleet): Promise<TestRegistry[]> {
  const regs = await Promise.all(fleet.devices.map(() => startRegistry()));
  const held = [fleet.images.appV1, fleet.images.appV1, fleet.images.base];
  held.forEach((img, i) => execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `docker-archive:${img.archive}`, `docker://${regs[i]!.host}/${img.tag}`]));
  return regs;
}
