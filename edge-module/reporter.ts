// Sends what the journal holds whenever the hub can be reached: the outbox's D2C messages in seq
// order (each removed only once acknowledged), then the whole twin report. While the hub is down
// it tries again every `retryMs`; nothing is dropped, and a message is never sent while an earlier
// one is still waiting.
import { twinPatch, type Report } from '../core/edge/report.js';
import { connectHub, redact, type HubConfig, type HubLink } from './hub.js';
import type { Journal } from './journal.js';

export class Reporter {
  private link: HubLink | undefined;
  private running = false;
  private wake: (() => void) | undefined;
  private dirty = true;
  private kicked = false;
  private loop: Promise<void> | undefined;
  private lastError = '';
  /** messages acknowledged and twin reports accepted by the hub in this process */
  readonly stats = { sent: 0, reports: 0 };

  constructor(
    private readonly journal: Journal,
    private readonly config: HubConfig,
    private readonly makeReport: () => Promise<Report>,
    private readonly log: (line: string) => void,
    private readonly retryMs: number,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Something new to send: a message in the outbox, or a changed twin report. */
  kick(): void {
    this.dirty = true;
    this.kicked = true;
    this.wake?.();
  }

  /** Waits `ms`, or less when kicked; returns at once when a kick came in since the last drain. */
  private sleep(ms: number): Promise<void> {
    if (this.kicked || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (!this.link) {
          this.link = await connectHub(this.config);
          this.link.onDisconnect(() => {
            const old = this.link;
            this.link = undefined;
            void old?.close();
            this.wake?.();
          });
          this.log(`hub: connected as ${this.link.deviceId}${this.link.moduleId ? `/${this.link.moduleId}` : ''}`);
          this.dirty = true;
          this.lastError = '';
        }
        await this.drain(this.link);
        await this.sleep(this.retryMs * 10);
      } catch (err) {
        const msg = redact(err instanceof Error ? err.message : String(err));
        if (msg !== this.lastError) this.log(`hub: ${msg}; reports wait in the outbox`);
        this.lastError = msg;
        if (this.link) {
          const old = this.link;
          this.link = undefined;
          await old.close();
        }
        this.kicked = false; // a kick cannot bring the hub back; wait the retry interval
        await this.sleep(this.retryMs);
      }
    }
  }

  private async drain(link: HubLink): Promise<void> {
    this.kicked = false;
    for (const m of await this.journal.pending()) {
      if (!this.running) return;
      await link.sendEvent(m);
      await this.journal.sent(m.seq);
      this.stats.sent++;
    }
    if (this.dirty) {
      this.dirty = false;
      try {
        await link.report(twinPatch(await this.makeReport()));
        this.stats.reports++;
      } catch (err) {
        this.dirty = true;
        throw err;
      }
    }
  }

  /** Whether everything has gone out: the outbox is empty and the twin is current. */
  async settled(): Promise<boolean> {
    return !this.dirty && (await this.journal.pending()).length === 0;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.link?.close();
    this.link = undefined;
  }
}
