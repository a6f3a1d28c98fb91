// The job service over a real inventory file: progress with rate and ETA, result, specific errors,
// cancel, one job per exclusive resource, and a history that outlives the process.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempInventory } from '../../test/support/inventory.js';
import type { JobInfo } from '../../contract/jobs.js';
import { JobHistory } from './history.js';
import { JobCancelledError, JobConflictError, Jobs } from './service.js';

const inv = useTempInventory('lighter-jobs-');

/** a clock the test moves by hand */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, tick: (ms: number) => (t += ms) };
}

describe('job service', () => {
  it('reports progress with rate and ETA, then the result, and keeps it in the history', async () => {
    const c = clock();
    const jobs = new Jobs({ history: new JobHistory(inv.db), actor: 'ana', now: c.now, throttleMs: 0 });
    const seen: JobInfo[] = [];
    jobs.subscribe((j) => seen.push(j));
    const job = jobs.start('bundle-build', 'Build telemetry 1.5', { deployment: 3 }, async (ctx) => {
      for (let i = 0; i <= 10; i++) {
        ctx.progress(i * 1_000_000, 10_000_000, i < 5 ? 'diffing' : 'compressing');
        c.tick(1000);
      }
      return { bytes: 42 };
    });
    expect(await job.done).toEqual({ bytes: 42 });
    expect(seen[0]).toMatchObject({ id: job.id, state: 'running', kind: 'bundle-build', actor: 'ana', done: 0 });
    const mid = seen.find((j) => j.done === 4_000_000)!;
    expect(mid.rate).toBeCloseTo(1_000_000);
    expect(mid.etaSeconds).toBeCloseTo(6);
    expect(seen.map((j) => j.stage)).toContain('compressing');
    expect(seen.at(-1)).toMatchObject({ state: 'succeeded', result: { bytes: 42 }, done: 10_000_000, rate: null });

    // a new process (a new service on the same file) still lists it
    const later = new Jobs({ history: new JobHistory(inv.db), actor: 'bo' });
    expect(later.get(job.id)).toMatchObject({ state: 'succeeded', title: 'Build telemetry 1.5', params: { deployment: 3 }, result: { bytes: 42 }, actor: 'ana' });
    expect(later.list().map((j) => j.id)).toContain(job.id);
  });

  it('fails with the run’s own first error line', async () => {
    const jobs = new Jobs({ history: new JobHistory(inv.db), actor: 'ana' });
    const job = jobs.start('usb-export', 'Export to /media/stick', {}, async () => {
      throw new Error('/media/stick is read-only\n  at somewhere');
    });
    await expect(job.done).rejects.toThrow('/media/stick is read-only');
    expect(jobs.get(job.id)).toMatchObject({ state: 'failed', error: '/media/stick is read-only' });
  });

  it('cancels: the signal aborts, progress() throws, the job ends cancelled', async () => {
    const jobs = new Jobs({ history: new JobHistory(inv.db), actor: 'ana' });
    let reports = 0;
    let cleaned = false;
    const job = jobs.start('bundle-build', 'Build a big one', {}, async (ctx) => {
      try {
        for (;;) {
          ctx.progress(++reports, 1000);
          await new Promise((ok) => setTimeout(ok, 5));
        }
      } finally {
        cleaned = true;
      }
    });
    await expect.poll(() => reports).toBeGreaterThan(2);
    expect(jobs.cancel(job.id)).toMatchObject({ state: 'running', cancelling: true });
    await expect(job.done).rejects.toBeInstanceOf(JobCancelledError);
    expect(cleaned).toBe(true);
    expect(jobs.get(job.id)).toMatchObject({ state: 'cancelled', error: 'cancelled by ana' });
    expect(() => jobs.cancel(job.id)).toThrow(`job #${job.id} is not running (it cancelled)`);
    expect(() => jobs.get(999_999)).toThrow('no job #999999');
  });

  it('runs at most one job per exclusive resource', async () => {
    const jobs = new Jobs({ history: new JobHistory(inv.db), actor: 'ana' });
    let release!: () => void;
    const gate = new Promise<void>((ok) => (release = ok));
    const first = jobs.start('usb-export', 'Export A', {}, () => gate, { exclusive: 'usb:/media/stick' });
    expect(() => jobs.start('usb-export', 'Export B', {}, async () => {}, { exclusive: 'usb:/media/stick' })).toThrow(JobConflictError);
    expect(() => jobs.start('usb-export', 'Export B', {}, async () => {}, { exclusive: 'usb:/media/stick' })).toThrow(
      `usb:/media/stick is in use by job #${first.id} (Export A); wait for it to finish or cancel it`,
    );
    // another resource is free
    await jobs.start('usb-export', 'Export C', {}, async () => 'ok', { exclusive: 'usb:/media/other' }).done;
    release();
    await first.done;
    await jobs.start('usb-export', 'Export B', {}, async () => 'ok', { exclusive: 'usb:/media/stick' }).done;
  });

  it('marks jobs of a process that died as interrupted on the next start', async () => {
    const file = join(inv.dir, 'inventory.db');
    const raw = new Database(file);
    // a pid that cannot be alive (above the kernel's pid_max)
    raw
      .prepare("INSERT INTO jobs (kind, title, state, actor, pid, started_at) VALUES ('hub-sync', 'Sync fleet-hub', 'running', 'ana', 99999999, '2026-12-01T10:00:00.000Z')")
      .run();
    const id = Number((raw.prepare('SELECT max(id) AS id FROM jobs').get() as { id: number }).id);
    raw.close();
    const jobs = new Jobs({ history: new JobHistory(inv.db), actor: 'ana' });
    expect(jobs.get(id)).toMatchObject({ state: 'interrupted', error: expect.stringMatching(/^Lighter stopped while this job ran/) });
  });

  it('lists running jobs first, then the history, newest first', async () => {
    const jobs = new Jobs({ history: new JobHistory(inv.db), actor: 'ana' });
    const running = jobs.start('upload', 'Upload', {}, (ctx) => new Promise((_, fail) => ctx.signal.addEventListener('abort', () => fail(ctx.signal.reason as Error))));
    const list = jobs.list(5);
    expect(list[0]).toMatchObject({ id: running.id, state: 'running' });
    expect(list.slice(1).map((j) => j.id)).toEqual([...list.slice(1).map((j) => j.id)].sort((a, b) => b - a));
    expect(jobs.list(100, 'usb-export').every((j) => j.kind === 'usb-export')).toBe(true);
    await jobs.stopAll();
    expect(jobs.get(running.id).state).toBe('cancelled');
  });

  it('works without an inventory (file-only CLI commands)', async () => {
    const jobs = new Jobs({ actor: 'ana' });
    const job = jobs.start('bundle-verify', 'Verify', {}, async (ctx) => {
      ctx.progress(5, 5);
      return 1;
    });
    expect(await job.done).toBe(1);
    expect(jobs.get(job.id)).toMatchObject({ state: 'succeeded', done: 5 });
  });
});
