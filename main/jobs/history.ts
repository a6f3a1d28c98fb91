// The jobs table: one row per job, written when it starts and when it ends (progress stays in
// memory while it runs). Rows another process left 'running' become 'interrupted' once that
// process is gone, so a crash or kill -9 never leaves a job that looks alive forever.
import type { JobInfo, JobState } from '../../contract/jobs.js';
import type { Db } from '../inventory/open.js';

interface JobDbRow {
  id: number;
  kind: string;
  title: string;
  params_json: string;
  state: JobState;
  stage: string | null;
  done: number;
  total: number;
  unit: 'bytes' | 'items';
  resource: string | null;
  result_json: string | null;
  error: string | null;
  actor: string;
  pid: number | null;
  started_at: string;
  finished_at: string | null;
}

function parse(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function toInfo(r: JobDbRow): JobInfo {
  return {
    id: r.id,
    kind: r.kind,
    title: r.title,
    params: parse(r.params_json),
    state: r.state,
    stage: r.stage,
    done: r.done,
    total: r.total,
    unit: r.unit,
    rate: null,
    etaSeconds: null,
    resource: r.resource,
    actor: r.actor,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    result: parse(r.result_json),
    error: r.error,
    cancelling: false,
  };
}

export class JobHistory {
  constructor(
    private readonly db: Db,
    private readonly pid: number = process.pid,
  ) {}

  /** Inserts a running job and returns its id. */
  begin(j: Pick<JobInfo, 'kind' | 'title' | 'params' | 'unit' | 'resource' | 'actor' | 'startedAt'>): number {
    const r = this.db
      .prepare(
        `INSERT INTO jobs (kind, title, params_json, state, unit, resource, actor, pid, started_at)
         VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)`,
      )
      .run(j.kind, j.title, JSON.stringify(j.params ?? {}), j.unit, j.resource, j.actor, this.pid, j.startedAt);
    return Number(r.lastInsertRowid);
  }

  finish(j: JobInfo): void {
    this.db
      .prepare(`UPDATE jobs SET state = ?, stage = ?, done = ?, total = ?, result_json = ?, error = ?, finished_at = ? WHERE id = ?`)
      .run(j.state, j.stage, j.done, j.total, j.result === undefined || j.result === null ? null : JSON.stringify(j.result), j.error, j.finishedAt, j.id);
  }

  get(id: number): JobInfo | undefined {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobDbRow | undefined;
    return r && toInfo(r);
  }

  list(limit: number, kind?: string): JobInfo[] {
    const rows = kind
      ? (this.db.prepare('SELECT * FROM jobs WHERE kind = ? ORDER BY id DESC LIMIT ?').all(kind, limit) as JobDbRow[])
      : (this.db.prepare('SELECT * FROM jobs ORDER BY id DESC LIMIT ?').all(limit) as JobDbRow[]);
    return rows.map(toInfo);
  }

  /** Marks jobs whose process is gone as interrupted; returns how many. */
  sweep(isAlive: (pid: number) => boolean, at: string): number {
    const running = this.db.prepare("SELECT id, pid FROM jobs WHERE state = 'running'").all() as Array<{ id: number; pid: number | null }>;
    // called before this process starts any job, so a row with our own pid is from an earlier run
    const dead = running.filter((r) => r.pid === null || r.pid === this.pid || !isAlive(r.pid));
    const mark = this.db.prepare("UPDATE jobs SET state = 'interrupted', error = ?, finished_at = ? WHERE id = ? AND state = 'running'");
    for (const r of dead) mark.run('Lighter stopped while this job ran (crash, kill or power loss); start it again', at, r.id);
    return dead.length;
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
