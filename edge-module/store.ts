// The device's store of record: its local registry (outside /var/lib/docker, so a wiped engine can
// be restored from it with no network). The module finds what it has by asking the registry itself
// (catalog, tags, manifests, configs), never by trusting a bundle's word for it.
import { promises as fs } from 'node:fs';
import { parseConfig, parseManifestOrIndex } from '../core/image/manifest.js';
import { sha256 } from '../io/digest.js';
import { RegistryClient } from '../io/registry/client.js';

export interface StoredImage {
  /** repository path and tag in the store, without the registry host: "fleet/app:v2" */
  ref: string;
  repository: string;
  tag: string;
  /** image ID (config digest) */
  id: string;
  diffIDs: string[];
  manifestDigest: string;
  /** the blobs it references (config and layers) with their stored sizes */
  blobs: Array<{ digest: string; size: number }>;
}

export interface StoreUsage {
  usedBytes: number;
  freeBytes: number;
  quotaBytes?: number;
}

const MAX_CONFIG = 8 << 20;

export class Store {
  /** configs are content-addressed: once read, a digest's diffIDs never change */
  private readonly configs = new Map<string, string[]>();

  constructor(
    /** host:port of the local registry */
    readonly host: string,
    private readonly opts: { quotaBytes?: number; /** a directory on the disk the store writes to (its free space is reported) */ storeDir: string },
  ) {}

  client(repository: string): RegistryClient {
    return new RegistryClient(this.host, repository);
  }

  /** `docker://host/repo:tag` for a store ref */
  reference(ref: string): string {
    return `docker://${this.host}/${ref}`;
  }

  /** Every tagged image in the store, sorted by ref. Manifest lists and foreign media are skipped. */
  async images(): Promise<StoredImage[]> {
    const out: StoredImage[] = [];
    for (const repository of (await this.client('').listRepositories()).sort()) {
      const client = this.client(repository);
      for (const tag of (await client.listTags()).sort()) {
        const m = await client.getManifest(tag).catch(() => undefined);
        if (!m) continue; // a tag deleted between the listing and now
        let doc;
        try {
          doc = parseManifestOrIndex(m.bytes, m.contentType, `${repository}:${tag}`);
        } catch {
          continue;
        }
        if (doc.kind !== 'manifest') continue;
        const id = doc.config.digest;
        out.push({
          ref: `${repository}:${tag}`,
          repository,
          tag,
          id,
          diffIDs: await this.diffIDs(client, id),
          manifestDigest: sha256(m.bytes),
          blobs: [doc.config, ...doc.layers].map((d) => ({ digest: d.digest, size: d.size })),
        });
      }
    }
    return out;
  }

  private async diffIDs(client: RegistryClient, configDigest: string): Promise<string[]> {
    const known = this.configs.get(configDigest);
    if (known) return known;
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of await client.getBlob(configDigest)) {
      n += (c as Buffer).length;
      if (n > MAX_CONFIG) throw new Error(`config ${configDigest} in the store is over ${MAX_CONFIG} bytes`);
      chunks.push(c as Buffer);
    }
    const bytes = Buffer.concat(chunks);
    if (sha256(bytes) !== configDigest) throw new Error(`the store's config ${configDigest} does not match its digest`);
    const diffIDs = parseConfig(bytes).diffIDs;
    this.configs.set(configDigest, diffIDs);
    return diffIDs;
  }

  /** Bytes of distinct blobs the images reference, and what is left under the quota and on disk. */
  async usage(images?: StoredImage[]): Promise<StoreUsage> {
    const sizes = new Map<string, number>();
    for (const img of images ?? (await this.images())) for (const b of img.blobs) sizes.set(b.digest, b.size);
    const usedBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
    const limits: number[] = [];
    if (this.opts.quotaBytes !== undefined) limits.push(Math.max(0, this.opts.quotaBytes - usedBytes));
    const disk = await fs.statfs(this.opts.storeDir);
    limits.push(disk.bavail * disk.bsize);
    return {
      usedBytes,
      freeBytes: Math.min(...limits),
      ...(this.opts.quotaBytes !== undefined ? { quotaBytes: this.opts.quotaBytes } : {}),
    };
  }
}

/** "host:port/fleet/app:v2" or "fleet/app:v2" → the store ref "fleet/app:v2" (the host is the store's). */
export function storeRefOf(repoTag: string): string {
  const slash = repoTag.indexOf('/');
  const first = slash < 0 ? '' : repoTag.slice(0, slash);
  // Docker's rule: the first component is a host when it has a '.' or ':' or is "localhost".
  return first && (first.includes('.') || first.includes(':') || first === 'localhost') ? repoTag.slice(slash + 1) : repoTag;
}
