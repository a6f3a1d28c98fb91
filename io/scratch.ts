// Scratch space: every temp directory Lighter makes lives under <data>/tmp, never in the OS temp
// dir, so what a killed run leaves is found and removed by the next run instead of filling a
// device's disk. Each process works inside one directory of its own whose name carries its pid
// and, on Linux, its start time (from /proc): a sweep removes only directories whose owner is gone.
// The start time is what makes a reused pid harmless; where it cannot be read (Windows, macOS) a
// directory whose pid is alive is kept, so a sweep can leave a dead run's files until later but
// never takes a live run's.
import { readFileSync, rmSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { dataDir } from './data-dir.js';

const RUN_DIR = /^run-p(\d+)-s(\d+|x)-/;

export function scratchRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDir(env), 'tmp');
}

/** A process's start time in clock ticks after boot, or 'x' when the OS does not tell. */
function startTime(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // field 22; the command name (field 2) is in parentheses and may itself contain spaces
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: a process we may not signal is still a process
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the run that made directory NAME may still be running. */
export function ownerAlive(name: string): boolean {
  const m = RUN_DIR.exec(name);
  if (!m) return true;
  const pid = Number(m[1]);
  if (!alive(pid)) return false;
  if (m[2] === 'x') return true;
  const now = startTime(pid);
  return now === undefined || now === m[2];
}

const mine = new Map<string, Promise<string>>();

/** This process's scratch directory under ROOT, made on first use and removed when it exits. */
export function processScratch(root = scratchRoot()): Promise<string> {
  let dir = mine.get(root);
  if (!dir) {
    dir = (async () => {
      await fs.mkdir(root, { recursive: true });
      const made = await fs.mkdtemp(join(root, `run-p${process.pid}-s${startTime('self') ?? 'x'}-`));
      process.once('exit', () => rmSync(made, { recursive: true, force: true }));
      return made;
    })();
    mine.set(root, dir);
    dir.catch(() => mine.delete(root));
  }
  return dir;
}

/** A fresh directory named PREFIX… for one job, inside PARENT (default: this process's scratch). */
export async function makeScratchDir(prefix: string, parent?: string): Promise<string> {
  return fs.mkdtemp(join(parent ?? (await processScratch()), prefix));
}

/** Runs FN with a fresh scratch directory that is removed with everything in it, whatever happens. */
export async function withScratchDir<T>(prefix: string, parent: string | undefined, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await makeScratchDir(prefix, parent);
  try {
    return await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Removes what dead runs left under ROOT; returns the names removed. Live runs' directories stay. */
export async function sweepScratch(root = scratchRoot()): Promise<string[]> {
  const gone: string[] = [];
  for (const name of await fs.readdir(root).catch(() => [] as string[])) {
    if (!RUN_DIR.test(name) || ownerAlive(name)) continue;
    await fs.rm(join(root, name), { recursive: true, force: true });
    gone.push(name);
  }
  return gone;
}
