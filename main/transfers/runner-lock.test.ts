// The upload runner lock names its runner by pid and start time: a lock whose pid is alive but is
// another process now (the pid reused after a reboot or a crash) is stale, and is taken over.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processIdentity } from '../../io/scratch.js';
import { RunnerBusyError, RunnerLock } from './runner-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-runner-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// a process that is surely running and is not this one: the one that started this test worker
const parent = processIdentity(process.ppid);

describe('RunnerLock', () => {
  it('records this runner by pid and start time, and releases', () => {
    const file = join(dir, 'mine.lock');
    const lock = RunnerLock.take(file);
    const me = processIdentity();
    expect(me.start).toMatch(/^\d+$/);
    expect(readFileSync(file, 'utf8')).toBe(`${me.pid} ${me.start}\n`);
    lock.release();
    RunnerLock.take(file).release();
  });

  it('refuses while the runner the lock names is running', () => {
    const file = join(dir, 'busy.lock');
    writeFileSync(file, `${parent.pid} ${parent.start}\n`);
    expect(() => RunnerLock.take(file)).toThrow(RunnerBusyError);
    expect(() => RunnerLock.take(file)).toThrow(`another upload runner (pid ${parent.pid})`);
  });

  it('takes over a lock whose pid is alive but belongs to a process started at another time', () => {
    const file = join(dir, 'reused.lock');
    writeFileSync(file, `${parent.pid} ${Number(parent.start) + 1}\n`);
    const lock = RunnerLock.take(file);
    expect(readFileSync(file, 'utf8')).toBe(`${process.pid} ${processIdentity().start}\n`);
    lock.release();
  });

  it('takes over a lock whose process is gone', () => {
    const file = join(dir, 'gone.lock');
    // pid_max is at most 2^22 on Linux: this pid cannot be running
    writeFileSync(file, `${2 ** 22 + 1} 1\n`);
    RunnerLock.take(file).release();
  });
});
