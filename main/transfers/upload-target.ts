// Where uploads go: the storage credential (a container SAS URL or a connection string) is a
// secret, so it is read from the secret store or, for pipelines, from the environment, handed to the
// SDK and never printed, logged or written anywhere else. Errors name where to set it, not its value.
import type { ContainerClient } from '@azure/storage-blob';
import { blobCall, containerClient, parseStorageCredential, type StorageCredential } from '../../io/blob/storage.js';
import type { UploadTargetInfo } from '../../contract/index.js';
import type { SecretStore } from '../secrets/secret-store.js';

/** The secret store entry: JSON `{ credential, container }` (the container name is not secret, but belongs with it). */
export const STORAGE_SECRET = 'upload.storage';
/** Environment variables a pipeline may set instead (Azure's own name for the connection string). */
export const STORAGE_ENV = ['LIGHTER_UPLOAD_SAS_URL', 'AZURE_STORAGE_CONNECTION_STRING'] as const;
export const DEFAULT_CONTAINER = 'lighter';

export class UploadTarget {
  private client: ContainerClient | undefined;

  constructor(
    private readonly source: { env: NodeJS.ProcessEnv; secrets: SecretStore; container?: string },
  ) {}

  /** Checks and keeps the credential an engineer gave (it is never echoed back). */
  async set(secret: string, container?: string): Promise<{ kind: 'sas-url' | 'connection-string'; container: string | null }> {
    const cred = parseStorageCredential(secret, container ?? DEFAULT_CONTAINER);
    const value = 'sasUrl' in cred ? { credential: cred.sasUrl, container: null } : { credential: cred.connectionString, container: cred.container };
    await this.source.secrets.set(STORAGE_SECRET, JSON.stringify(value));
    this.client = undefined;
    return { kind: 'sasUrl' in cred ? 'sas-url' : 'connection-string', container: value.container };
  }

  async clear(): Promise<boolean> {
    this.client = undefined;
    return this.source.secrets.delete(STORAGE_SECRET);
  }

  /** Where uploads go, without the secret: whether a credential is set, where from, its kind and container. */
  async describe(): Promise<UploadTargetInfo> {
    const source: UploadTargetInfo['source'] = STORAGE_ENV.some((n) => this.source.env[n]) ? 'environment' : (await this.source.secrets.get(STORAGE_SECRET)) ? 'secret-store' : 'none';
    if (source === 'none') return { source, kind: null, container: null };
    const cred = await this.credential();
    return 'sasUrl' in cred ? { source, kind: 'sas-url', container: new URL(cred.sasUrl).pathname.split('/').filter(Boolean)[0] ?? null } : { source, kind: 'connection-string', container: cred.container };
  }

  private async credential(): Promise<StorageCredential> {
    // An empty variable (a pipeline's unset secret) names no container.
    const container = this.source.container ?? (this.source.env.LIGHTER_UPLOAD_CONTAINER || undefined);
    for (const name of STORAGE_ENV) {
      const v = this.source.env[name];
      if (v) return parseStorageCredential(v, container ?? DEFAULT_CONTAINER);
    }
    const stored = await this.source.secrets.get(STORAGE_SECRET);
    if (stored) {
      const kept = JSON.parse(stored) as { credential: string; container: string | null };
      return parseStorageCredential(kept.credential, container ?? kept.container ?? DEFAULT_CONTAINER);
    }
    throw new Error(`no storage account to upload to: set it once in the Uploads view's Storage account or with \`lighter upload target\` (kept in the secret store), or set ${STORAGE_ENV.join(' or ')} for a pipeline`);
  }

  /** The container, created first when the credential may create it (a container SAS may not). */
  async container(signal?: AbortSignal): Promise<ContainerClient> {
    if (this.client) return this.client;
    const cred = await this.credential();
    const client = containerClient(cred);
    if ('connectionString' in cred) await blobCall(() => client.createIfNotExists({ abortSignal: signal }), { signal });
    this.client = client;
    return client;
  }
}
