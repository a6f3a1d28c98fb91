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

/**
 * A process as other processes can recognise it later: its pid, and its start time in clock ticks
 * after boot ('x' where the OS does not tell). The pid alone is not enough: after a reboot or a
 * crash the same pid is soon another process.
 */
export interface ProcessIdentity {
  pid: number;
  start: string;
}

/** The identity of process PID as the OS tells it now (start 'x' where it does not tell). */
export function processIdentity(pid: number = process.pid): ProcessIdentity {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // field 22; the command name (field 2) is in parentheses and may itself contain spaces
    return { pid, start: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? 'x' };
  } catch {
    return { pid, start: 'x' };
  }
}

/** Whether the process P names may still run: its pid is alive and, where both are known, started when P says. */
export function processRunning(p: ProcessIdentity): boolean {
  try {
    process.kill(p.pid, 0);
  } catch (err) {
    // EPERM: a process we may not signal is still a process
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (p.start === 'x') return true;
  const now = processIdentity(p.pid).start;
  return now === 'x' || now === p.start;
}

/** Whether the run that made directory NAME may still be running. */
export function ownerAlive(name: string): boolean {
  const m = RUN_DIR.exec(name);
  return m ? processRunning({ pid: Number(m[1]), start: m[2]! }) : true;
}

const mine = new Map<string, Promise<string>>();

/** This process's scratch directory under ROOT, made on first use and removed when it exits. */
export function processScratch(root = scratchRoot()): Promise<string> {
  let dir = mine.get(root);
  if (!dir) {
    dir = (async () => {
      await fs.mkdir(root, { recursive: true });
      const made = await fs.mkdtemp(join(root, `run-p${process.pid}-s${processIdentity().start}-`));
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
