// One upload runner per data directory (the CLI's `upload run` or the app's job): two runners would
// stage the same blocks twice and fight over the same transfers. The lock is a file naming the
// runner's pid and start time (io/scratch.ts: a pid alone is soon another process after a reboot or
// a crash); a lock whose process is gone (killed, power loss) is taken over, and then every
// transfer still marked running is that dead runner's and is picked up where it stopped.
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tempPathFor } from '../../io/atomic-file.js';
import { processIdentity, processRunning, type ProcessIdentity } from '../../io/scratch.js';

export class RunnerBusyError extends Error {
  override name = 'RunnerBusyError';
}

/** The runner a lock file names, or null for one that names none (removed meanwhile, or unreadable). */
function holder(file: string): ProcessIdentity | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const m = /^(\d+) (\d+|x)\n$/.exec(text);
  return m ? { pid: Number(m[1]), start: m[2]! } : null;
}

export class RunnerLock {
  private constructor(private readonly file: string) {}

  static take(file: string): RunnerLock {
    for (let tries = 0; tries < 3; tries++) {
      // Written whole under a temp name, then linked into place: the lock never exists half-written.
      const tmp = tempPathFor(file);
      const me = processIdentity();
      writeFileSync(tmp, `${me.pid} ${me.start}\n`, { mode: 0o600 });
      try {
        linkSync(tmp, file);
        return new RunnerLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        rmSync(tmp, { force: true });
      }
      const other = holder(file);
      if (other && other.pid !== process.pid && processRunning(other)) {
        throw new RunnerBusyError(`another upload runner (pid ${other.pid}) is working the queue already; stop it first, or pause and resume transfers while it runs`);
      }
      rmSync(file, { force: true });
    }
    throw new RunnerBusyError(`could not take the upload runner lock ${file}`);
  }

  release(): void {
    rmSync(this.file, { force: true });
  }
}
