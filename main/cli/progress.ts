// The CLI's face of the job service: a command's long work runs as a job, and the bar on stderr
// draws that job's progress events (with the service's rate and ETA), exactly what the app shows.
// On a TTY only; pipelines get clean logs. Ctrl-C cancels the job, which cleans up after itself.
import type { JobInfo } from '../../contract/jobs.js';
import type { JobRun, Jobs, StartOptions } from '../jobs/service.js';

function size(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}

function eta(s: number | null): string {
  if (s === null) return '';
  const m = Math.floor(s / 60);
  return m > 0 ? ` ${m}m${String(Math.round(s % 60)).padStart(2, '0')}s left` : ` ${Math.round(s)}s left`;
}

/** "build [#####.....]  50% 12.0 MiB/24.0 MiB 3.1 MiB/s 4s left  diffing" */
export function formatBar(label: string, job: JobInfo, width = 30): string {
  const frac = job.total > 0 ? Math.min(1, job.done / job.total) : 0;
  const fill = Math.round(frac * width);
  const amounts = job.unit === 'bytes' ? `${size(job.done)}/${size(job.total)}` : `${job.done}/${job.total}`;
  const rate = job.rate === null ? '' : job.unit === 'bytes' ? ` ${size(job.rate)}/s` : ` ${job.rate.toFixed(1)}/s`;
  return `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${amounts}${rate}${eta(job.etaSeconds)}${job.stage ? `  ${job.stage}` : ''}`;
}

export interface RunJobOptions extends StartOptions {
  kind: string;
  title: string;
  params?: unknown;
  /** the bar's label */
  label: string;
  stream?: NodeJS.WriteStream;
  /** no bar at all */
  quiet?: boolean;
}

/** Runs `run` as a job of `jobs`, drawing its progress, and returns its result (or throws its error). */
export async function runJob<R>(jobs: Jobs, opts: RunJobOptions, run: JobRun<R>): Promise<R> {
  const stream = opts.stream ?? process.stderr;
  const tty = !opts.quiet && stream.isTTY === true && process.env.CI !== 'true';
  let drawn = false;
  let id = -1;
  const unsubscribe = jobs.subscribe((job) => {
    if (job.id !== id || !tty || job.total <= 0) return;
    stream.write(`\r${formatBar(opts.label, job)}\x1b[K`);
    drawn = true;
  });
  const job = jobs.start(opts.kind, opts.title, opts.params ?? {}, run, opts);
  id = job.id;
  const interrupt = () => {
    stream.write(`\ncancelling ${opts.title}…\n`);
    jobs.cancel(job.id);
  };
  process.once('SIGINT', interrupt);
  try {
    return await job.done;
  } finally {
    process.off('SIGINT', interrupt);
    unsubscribe();
    if (drawn) stream.write('\n');
  }
}
