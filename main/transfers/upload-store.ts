// The inventory's side of uploads: the queue as the business rules see it, pause flags, the staged
// blocks of each blob (io/blob's BlockLedger), and what each device's index blob lists. State moves
// go through Inventory.setTransferState, so every one is checked and recorded.
import type { QueueItem } from '../../core/transfers/queue-order.js';
import type { BlockLedger } from '../../io/blob/block-upload.js';
import type { Db } from '../inventory/open.js';
import type { TransferState } from '../inventory/states.js';
import { UnknownEntityError, type Inventory } from '../inventory/store.js';

export interface UploadItem extends QueueItem {
  state: TransferState;
  bundleId: string;
  sha256: string;
  bundleVersion: number;
  deployment: string | null;
  pausedAt: string | null;
  bytesDone: number;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface DeviceIndexEntry {
  bundleId: string;
  sha256: string;
  size: number;
  version: number;
  deployment: string | null;
  uploadedAt: string;
}

const ITEM_SQL = `
SELECT t.id, t.device_id AS deviceId, t.deployment_id AS deploymentId, t.state, t.bundle_id AS bundleId,
  b.sha256, b.size, b.version AS bundleVersion, d.name AS deployment, COALESCE(d.priority, 0) AS priority, d.due_at AS dueAt,
  (SELECT MIN(db.position) FROM deployment_bundles db WHERE db.deployment_id = t.deployment_id AND db.device_id = t.device_id AND db.bundle_id = t.bundle_id) AS position,
  t.paused_at AS pausedAt, t.bytes_done AS bytesDone, t.attempts, t.last_error AS lastError, t.created_at AS createdAt, t.finished_at AS finishedAt
FROM transfers t JOIN bundles b ON b.id = t.bundle_id LEFT JOIN deployments d ON d.id = t.deployment_id
WHERE t.channel = 'upload'`;

const now = () => new Date().toISOString();

export class UploadStore {
  constructor(
    private readonly db: Db,
    private readonly inventory: Inventory,
  ) {}

  item(id: number): UploadItem {
    const row = this.db.prepare(`${ITEM_SQL} AND t.id = ?`).get(id) as UploadItem | undefined;
    if (!row) throw new UnknownEntityError(`unknown upload transfer ${id} (see \`lighter upload list\`)`);
    return row;
  }

  /** Upload transfers, newest first; `states` narrows them. */
  list(states?: readonly TransferState[], limit = 1000): UploadItem[] {
    const where = states?.length ? ` AND t.state IN (${states.map(() => '?').join(', ')})` : '';
    return this.db.prepare(`${ITEM_SQL}${where} ORDER BY t.id DESC LIMIT ?`).all(...(states ?? []), limit) as UploadItem[];
  }

  /** Not finished: what may still go, or holds back what comes after it. */
  pending(): UploadItem[] {
    return this.db.prepare(`${ITEM_SQL} AND t.state IN ('queued', 'running', 'failed') ORDER BY t.id`).all() as UploadItem[];
  }

  /**
   * Creates an upload transfer for every (device, bundle) the deployment's build recorded that has
   * none queued, running or done yet. Returns the new transfer ids.
   */
  queueDeployment(deploymentId: number): number[] {
    return this.db.transaction(() => {
      const dep = this.db.prepare('SELECT id, name, state FROM deployments WHERE id = ?').get(deploymentId) as { id: number; name: string; state: string } | undefined;
      if (!dep) throw new UnknownEntityError(`unknown deployment ${deploymentId}`);
      if (dep.state === 'cancelled' || dep.state === 'pushed') throw new Error(`deployment ${dep.name} is ${dep.state}; nothing to upload`);
      const rows = this.db
        .prepare(
          `SELECT db.device_id, db.bundle_id, b.size, b.state FROM deployment_bundles db JOIN bundles b ON b.id = db.bundle_id
           WHERE db.deployment_id = ? ORDER BY db.device_id, db.position`,
        )
        .all(deploymentId) as Array<{ device_id: string; bundle_id: string; size: number; state: string }>;
      if (rows.length === 0) throw new Error(`deployment ${dep.name} has no bundles yet; build it first (\`lighter deployment build ${deploymentId} --key KEY\`)`);
      // Only a bundle verified by rebuilding leaves the shore.
      const unverified = rows.find((r) => r.state !== 'verified');
      if (unverified) throw new Error(`bundle ${unverified.bundle_id} of deployment ${dep.name} is ${unverified.state}, not verified; nothing was queued`);
      const existing = this.db.prepare(
        "SELECT 1 FROM transfers WHERE channel = 'upload' AND bundle_id = ? AND device_id = ? AND state IN ('queued', 'running', 'succeeded', 'failed')",
      );
      const ids: number[] = [];
      for (const r of rows) {
        if (existing.get(r.bundle_id, r.device_id)) continue;
        ids.push(this.inventory.createTransfer(r.bundle_id, r.device_id, 'upload', r.size, deploymentId));
      }
      return ids;
    })();
  }

  /** Holds a queued transfer back, or asks the runner to stop a running one (it moves it to queued). */
  pause(id: number): UploadItem {
    const t = this.item(id);
    if (t.state !== 'queued' && t.state !== 'running') throw new Error(`transfer ${id} is ${t.state}; only a queued or running transfer can be paused`);
    if (t.pausedAt) return t;
    this.db.transaction(() => {
      this.db.prepare('UPDATE transfers SET paused_at = ?, updated_at = ? WHERE id = ?').run(now(), now(), id);
      this.audit('transfer-paused', id);
    })();
    return this.item(id);
  }

  /** Lets a paused transfer go again, or puts a failed one back in the queue. */
  resume(id: number): UploadItem {
    const t = this.item(id);
    this.db.transaction(() => {
      if (t.state === 'failed') this.inventory.setTransferState(id, 'queued');
      else if (!t.pausedAt) throw new Error(`transfer ${id} is ${t.state} and not paused; nothing to resume`);
      this.db.prepare('UPDATE transfers SET paused_at = NULL, updated_at = ? WHERE id = ?').run(now(), id);
      this.audit('transfer-resumed', id);
    })();
    return this.item(id);
  }

  cancel(id: number): UploadItem {
    this.item(id);
    this.db.transaction(() => {
      this.inventory.setTransferState(id, 'cancelled');
      this.db.prepare('UPDATE transfers SET paused_at = NULL WHERE id = ?').run(id);
    })();
    return this.item(id);
  }

  /** A running transfer the runner stopped because it was paused goes back to the queue, still paused. */
  parkPaused(id: number): void {
    this.inventory.setTransferState(id, 'queued');
  }

  /** What a device's index blob lists: its uploaded bundles (and `including`, about to be), in the order it applies them. */
  deviceIndex(deviceId: string, including: number[] = []): DeviceIndexEntry[] {
    return this.db
      .prepare(
        `SELECT t.bundle_id AS bundleId, b.sha256, b.size, b.version, d.name AS deployment, COALESCE(MIN(t.finished_at), ?) AS uploadedAt
         FROM transfers t JOIN bundles b ON b.id = t.bundle_id LEFT JOIN deployments d ON d.id = t.deployment_id
         WHERE t.channel = 'upload' AND (t.state = 'succeeded' OR t.id IN (SELECT value FROM json_each(?))) AND t.device_id = ?
         GROUP BY t.bundle_id
         ORDER BY COALESCE(MIN(t.deployment_id), 0), COALESCE((SELECT MIN(db.position) FROM deployment_bundles db WHERE db.device_id = t.device_id AND db.bundle_id = t.bundle_id), 0), MIN(t.finished_at), MIN(t.id)`,
      )
      .all(now(), JSON.stringify(including), deviceId) as DeviceIndexEntry[];
  }

  /** The images a bundle brings (its targets), to mark them in transit to a device. */
  targetsOf(bundleId: string): Array<{ name: string; configDigest: string }> {
    return (
      this.db
        .prepare('SELECT i.repository, i.tag, i.config_digest FROM bundle_entries e JOIN images i ON i.id = e.target_image_id WHERE e.bundle_id = ? ORDER BY e.position')
        .all(bundleId) as Array<{ repository: string; tag: string; config_digest: string }>
    ).map((r) => ({ name: r.tag ? `${r.repository}:${r.tag}` : r.repository, configDigest: r.config_digest }));
  }

  private audit(action: string, id: number): void {
    this.db.prepare('INSERT INTO audit_log (at, actor, action, target, details_json) VALUES (?, ?, ?, ?, ?)').run(now(), this.inventory.actor, action, String(id), '{}');
  }

  readonly ledger: BlockLedger = {
    staged: (blob) => {
      const rows = this.db.prepare('SELECT block_size, block_index FROM upload_blocks WHERE blob = ? ORDER BY block_index').all(blob) as Array<{ block_size: number; block_index: number }>;
      if (rows.length === 0) return undefined;
      // One layout per blob: rows of another block size (never written together) would be stale.
      const blockSize = rows[0]!.block_size;
      return { blockSize, blocks: rows.filter((r) => r.block_size === blockSize).map((r) => r.block_index) };
    },
    recordStaged: (blob, blockSize, index, length) => {
      this.db.prepare('INSERT OR REPLACE INTO upload_blocks (blob, block_size, block_index, length, staged_at) VALUES (?, ?, ?, ?, ?)').run(blob, blockSize, index, length, now());
    },
    forget: (blob) => {
      this.db.prepare('DELETE FROM upload_blocks WHERE blob = ?').run(blob);
    },
  };
}
