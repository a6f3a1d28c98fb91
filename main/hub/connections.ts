// Hub connections: a hub is a name for a service connection string. The inventory keeps the name,
// host and policy; the connection string itself lives in the secret store, or, for a pipeline, in
// LIGHTER_HUB_CONNECTION_STRING (then nothing is stored and every sync reads the environment).
import type { Registry } from 'azure-iothub';
import type { HubSummary } from '../../contract/index.js';
import type { Db } from '../inventory/open.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { hubAddress, openRegistry, type HubAddress } from './registry-client.js';

export const HUB_ENV = 'LIGHTER_HUB_CONNECTION_STRING';

interface HubRow {
  name: string;
  host_name: string;
  policy: string;
  added_by: string;
  added_at: string;
  last_sync_at: string | null;
  last_sync_ok: number | null;
}

const secretName = (hub: string) => `hub.${hub}`;

export function checkHubName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new Error(`invalid hub name ${JSON.stringify(name)}: use up to 64 letters, digits, '.', '_' or '-'`);
  return name;
}

export class HubConnections {
  constructor(
    private readonly db: Db,
    private readonly secrets: SecretStore,
    private readonly options: { actor: string; env?: NodeJS.ProcessEnv; /** extra CA to trust for hubs (tests) */ ca?: string } = { actor: 'lighter' },
  ) {}

  private get env(): NodeJS.ProcessEnv {
    return this.options.env ?? process.env;
  }

  /** The environment's connection string when it is for this host. */
  private fromEnv(hostName: string): string | undefined {
    const cs = this.env[HUB_ENV];
    if (!cs) return undefined;
    try {
      return hubAddress(cs).hostName.toLowerCase() === hostName.toLowerCase() ? cs : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Adds (or replaces) a hub. With `fromEnvironment` the connection string stays in the
   * environment; otherwise it goes to the secret store. Returns the hub, never the secret.
   */
  async add(name: string, connectionString: string, fromEnvironment = false): Promise<HubSummary> {
    checkHubName(name);
    const address = hubAddress(connectionString);
    if (!fromEnvironment) await this.secrets.set(secretName(name), connectionString.trim());
    else await this.secrets.delete(secretName(name));
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO hubs (name, host_name, policy, added_by, added_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET host_name = excluded.host_name, policy = excluded.policy, added_by = excluded.added_by, added_at = excluded.added_at`,
        )
        .run(name, address.hostName, address.policy, this.options.actor, new Date().toISOString());
      this.db.prepare('INSERT INTO audit_log (at, actor, action, target, details_json) VALUES (?, ?, ?, ?, ?)').run(
        new Date().toISOString(), this.options.actor, 'hub-added', name, JSON.stringify({ hostName: address.hostName, policy: address.policy, secret: fromEnvironment ? 'environment' : 'stored' }),
      );
    })();
    return this.get(name);
  }

  private row(name: string): HubRow {
    const row = this.db.prepare('SELECT * FROM hubs WHERE name = ?').get(name) as HubRow | undefined;
    if (!row) {
      const known = this.names();
      throw new Error(`unknown hub ${JSON.stringify(name)}${known.length ? ` (known: ${known.join(', ')})` : ''}; add it with \`lighter hub add ${name}\``);
    }
    return row;
  }

  names(): string[] {
    return (this.db.prepare('SELECT name FROM hubs ORDER BY name').all() as Array<{ name: string }>).map((r) => r.name);
  }

  async get(name: string): Promise<HubSummary> {
    const r = this.row(name);
    const stored = (await this.secrets.get(secretName(name))) !== undefined;
    return {
      name: r.name,
      hostName: r.host_name,
      policy: r.policy,
      secret: stored ? 'stored' : this.fromEnv(r.host_name) ? 'environment' : 'missing',
      addedBy: r.added_by,
      addedAt: r.added_at,
      lastSyncAt: r.last_sync_at,
      lastSyncOk: r.last_sync_ok === null ? null : r.last_sync_ok === 1,
    };
  }

  async list(): Promise<HubSummary[]> {
    return Promise.all(this.names().map((n) => this.get(n)));
  }

  async remove(name: string): Promise<void> {
    this.row(name);
    await this.secrets.delete(secretName(name));
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM hubs WHERE name = ?').run(name);
      this.db.prepare('INSERT INTO audit_log (at, actor, action, target, details_json) VALUES (?, ?, ?, ?, ?)').run(new Date().toISOString(), this.options.actor, 'hub-removed', name, '{}');
    })();
  }

  /** The SDK registry for a hub, and its address (for error messages). */
  async open(name: string): Promise<{ registry: Registry; address: HubAddress }> {
    const r = this.row(name);
    const cs = (await this.secrets.get(secretName(name))) ?? this.fromEnv(r.host_name);
    if (!cs) throw new Error(`hub ${name} has no connection string: add it again with \`lighter hub add ${name}\` (from standard input), or set ${HUB_ENV} for ${r.host_name}`);
    return { registry: openRegistry(cs, this.options.ca ? { ca: this.options.ca } : {}), address: { hostName: r.host_name, policy: r.policy } };
  }

  markSynced(name: string, ok: boolean): void {
    this.db.prepare('UPDATE hubs SET last_sync_at = ?, last_sync_ok = ? WHERE name = ?').run(new Date().toISOString(), ok ? 1 : 0, name);
  }
}
