// One upload runner per data directory (the CLI's `upload run` or the app's job): two runners would
// stage the same blocks twice and fight over the same transfers. The lock is a file naming the
// runner's pid; a lock whose process is gone (killed, power loss) is taken over, and then every
// transfer still marked running is that dead runner's and is picked up where it stopped.
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tempPathFor } from '../../io/atomic-file.js';

export class RunnerBusyError extends Error {
  override name = 'RunnerBusyError';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class RunnerLock {
  private constructor(private readonly file: string) {}

  static take(file: string): RunnerLock {
    for (let tries = 0; tries < 3; tries++) {
      // Written whole under a temp name, then linked into place: the lock never exists half-written.
      const tmp = tempPathFor(file);
      writeFileSync(tmp, `${process.pid}\n`, { mode: 0o600 });
      try {
        linkSync(tmp, file);
        return new RunnerLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        rmSync(tmp, { force: true });
      }
      let pid = NaN;
      try {
        pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
      } catch {
        /* removed meanwhile: try again */
      }
      if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) {
        throw new RunnerBusyError(`another upload runner (pid ${pid}) is working the queue already; stop it first, or pause and resume transfers while it runs`);
      }
      rmSync(file, { force: true });
    }
    throw new RunnerBusyError(`could not take the upload runner lock ${file}`);
  }

  release(): void {
    rmSync(this.file, { force: true });
  }
}
