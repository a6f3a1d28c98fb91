// The supervisor's dashboards: every figure is one query over the inventory, so what a chart shows
// is what the tables hold (and what `lighter db` reports).
import type { Dashboard, ReportsApi } from '../../contract/reports.js';
import type { InventoryViews } from './views.js';
import type { Inventory } from './store.js';

export class ReportsService implements ReportsApi {
  constructor(
    private readonly inventory: Inventory,
    private readonly views: InventoryViews,
  ) {}

  async dashboard(req: { days?: number } = {}): Promise<Dashboard> {
    const db = this.inventory.db;
    const deployments = db
      .prepare(
        `SELECT d.id, d.name, d.state, d.ordered_by_name AS orderedBy, d.updated_at AS updatedAt,
           COUNT(dd.device_id) AS devices, COUNT(dd.pushed_at) AS devicesPushed
         FROM deployments d LEFT JOIN deployment_devices dd ON dd.deployment_id = d.id
         GROUP BY d.id ORDER BY d.updated_at DESC, d.id DESC`,
      )
      .all() as Array<Omit<Dashboard['deployments'][number], 'devicesReady'>>;
    const withGate = deployments.map((d) => ({ ...d, devicesReady: this.inventory.deploymentGate(d.id).devices.filter((g) => g.missing.length === 0).length }));
    const imagesPerDevice = db
      .prepare(
        `SELECT d.id AS deviceId, d.display_name AS displayName, d.device_group AS "group",
           COALESCE(SUM(di.state IN ('present', 'applied')), 0) AS onBoard,
           COALESCE(SUM(di.state = 'in_transit'), 0) AS inTransit,
           COALESCE(SUM(di.state = 'failed'), 0) AS failed
         FROM devices d LEFT JOIN device_images di ON di.device_id = d.id
         GROUP BY d.id ORDER BY d.id`,
      )
      .all() as Dashboard['imagesPerDevice'];
    const devicesPerImage = db
      .prepare(
        `SELECT i.repository || CASE WHEN i.tag = '' THEN '' ELSE ':' || i.tag END AS image, i.config_digest AS configDigest,
           SUM(di.state IN ('present', 'applied')) AS onBoard, SUM(di.state = 'in_transit') AS inTransit, SUM(di.state = 'failed') AS failed
         FROM images i JOIN device_images di ON di.image_id = i.id
         GROUP BY i.id ORDER BY onBoard DESC, image`,
      )
      .all() as Dashboard['devicesPerImage'];
    const savings = db
      .prepare(
        `SELECT i.repository || CASE WHEN i.tag = '' THEN '' ELSE ':' || i.tag END AS image,
           COUNT(*) AS transfers, SUM(b.size) AS bytesSent, SUM(COALESCE(i.size, 0)) AS fullImageBytes
         FROM transfers t
         JOIN bundles b ON b.id = t.bundle_id
         JOIN bundle_entries e ON e.bundle_id = b.id AND e.position = 0
         JOIN images i ON i.id = e.target_image_id
         WHERE t.state = 'succeeded'
         GROUP BY i.id ORDER BY image`,
      )
      .all() as Dashboard['savings'];
    const byOrderer = this.inventory.deploymentsByOrderer().map((o) => ({ name: o.ordered_by_name, email: o.ordered_by_email, total: o.total, pushed: o.pushed, open: o.open }));
    return {
      deployments: withGate,
      imagesPerDevice,
      devicesPerImage,
      transfersPerDay: await this.views.transfersPerDay({ days: req.days ?? 30 }),
      byOrderer,
      savings,
      syncHistory: await this.views.syncHistory({ limit: 200 }),
    };
  }
}
