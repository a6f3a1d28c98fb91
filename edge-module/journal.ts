// What the module has reported, kept so that nothing is lost or said twice across crashes and hub
// outages: `<state>/outbox/<seq>.json` holds each D2C message until IoT Hub acknowledged it, and
// `<state>/reports.json` the last results (for the twin) and the last seq used. A result is written
// to the outbox first, then folded into reports.json; opening the journal folds in any message a
// killed process wrote to the outbox but not to reports.json, so both always agree.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { d2cMessageSchema, MAX_RESULTS, resultSchema, type D2cMessage, type Result } from '../core/edge/report.js';
import type { Receipt } from '../core/edge/receipt.js';
import { sweepPartials, writeFileAtomic } from '../io/atomic-file.js';

const REPORTS_FILE = 'reports.json';
const OUTBOX_DIR = 'outbox';
const ENTRY = /^(\d{12})\.json$/;

const recordSchema = z.object({ seq: z.number().int().positive(), fileSha: z.string(), result: resultSchema }).strict();
const reportsSchema = z.object({ seq: z.number().int().nonnegative(), recent: z.array(recordSchema) }).strict();
type Reports = z.infer<typeof reportsSchema>;

export class Journal {
  private constructor(
    private readonly dir: string,
    private reports: Reports,
  ) {}

  private static outbox(dir: string): string {
    return join(dir, OUTBOX_DIR);
  }

  static async open(stateDir: string): Promise<Journal> {
    const outbox = Journal.outbox(stateDir);
    await fs.mkdir(outbox, { recursive: true });
    await sweepPartials(outbox);
    await sweepPartials(stateDir);
    const text = await fs.readFile(join(stateDir, REPORTS_FILE), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    let reports: Reports = { seq: 0, recent: [] };
    if (text !== null) {
      const parsed = reportsSchema.safeParse(JSON.parse(text));
      if (!parsed.success) throw new Error(`${join(stateDir, REPORTS_FILE)} is damaged; remove it to start the report history afresh`);
      reports = parsed.data;
    }
    const journal = new Journal(stateDir, reports);
    for (const m of await journal.pending()) if (m.seq > journal.reports.seq) await journal.fold(m);
    return journal;
  }

  /** The last results, newest first, for the twin. */
  get results(): Result[] {
    return this.reports.recent.map((r) => r.result);
  }

  /** The result already recorded for this file content and outcome, if a killed run got that far. */
  recorded(fileSha: string, result: Result['result'], version: number | null): Result | undefined {
    return this.reports.recent.find((r) => r.fileSha === fileSha && r.result.result === result && r.result.version === version)?.result;
  }

  /** Records a result: its D2C message in the outbox (returned), then the twin's history. */
  async record(result: Result, receipt: Receipt, ids: { deviceId: string; moduleId: string }): Promise<D2cMessage> {
    const message = d2cMessageSchema.parse({ type: 'lighter.result', schema: 1, ...ids, seq: this.reports.seq + 1, result, receipt });
    await writeFileAtomic(join(Journal.outbox(this.dir), `${String(message.seq).padStart(12, '0')}.json`), JSON.stringify(message));
    await this.fold(message);
    return message;
  }

  private async fold(m: D2cMessage): Promise<void> {
    const recent = [{ seq: m.seq, fileSha: m.receipt.file.sha256, result: m.result }, ...this.reports.recent].slice(0, MAX_RESULTS);
    this.reports = { seq: Math.max(this.reports.seq, m.seq), recent };
    await writeFileAtomic(join(this.dir, REPORTS_FILE), `${JSON.stringify(this.reports)}\n`);
  }

  /** Messages not yet acknowledged by the hub, in seq order. */
  async pending(): Promise<D2cMessage[]> {
    const dir = Journal.outbox(this.dir);
    const names = (await fs.readdir(dir)).filter((n) => ENTRY.test(n)).sort();
    const out: D2cMessage[] = [];
    for (const name of names) {
      const parsed = d2cMessageSchema.safeParse(JSON.parse(await fs.readFile(join(dir, name), 'utf8')));
      // Written atomically by us, so a bad entry is disk damage: keep it for a person, skip it here.
      if (parsed.success) out.push(parsed.data);
    }
    return out;
  }

  /** The hub acknowledged the message: it leaves the outbox. */
  async sent(seq: number): Promise<void> {
    await fs.rm(join(Journal.outbox(this.dir), `${String(seq).padStart(12, '0')}.json`), { force: true });
  }
}
