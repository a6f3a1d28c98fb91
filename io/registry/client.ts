// A Registry HTTP API v2 client for one repository: anonymous, basic and bearer-token auth (the
// WWW-Authenticate challenge → token endpoint dance Azure Container Registry uses), manifests,
// blobs, cross-repository mounts and chunked uploads that resume where an interrupted one stopped.
import type { Readable } from 'node:stream';
import { readBody, send, isLoopback, type Response } from './http.js';

export interface RegistryOptions {
  insecure?: boolean;
  credentials?: { username: string; password: string };
  /** bytes per PATCH (default 16 MiB) */
  chunkSize?: number;
  /** attempts per chunk after an interruption (default 5) */
  retries?: number;
}

/** A blob the upload can re-read from any offset (a spooled temp file). */
export interface UploadSource {
  digest: string;
  size: number;
  open(start: number, end: number): Readable;
}

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Parses `Bearer realm="…",service="…",scope="…"` into its scheme and parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? '').matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? '';
  return { scheme: (m?.[1] ?? '').toLowerCase(), params };
}

export class RegistryClient {
  private base: URL;
  private authHeader: string | undefined;
  private authChecked = false;
  /** how many uploads were resumed after an interruption, and how many had to start over */
  readonly stats = { resumed: 0, restarted: 0 };

  constructor(
    readonly host: string,
    readonly repository: string,
    private readonly opts: RegistryOptions = {},
    /** repositories we also need pull access to (cross-repo mounts) */
    private readonly extraPull: string[] = [],
  ) {
    // plain HTTP only on loopback; elsewhere HTTPS (verified unless --insecure, which may fall back)
    this.base = new URL(`${isLoopback(host) ? 'http' : 'https'}://${host}`);
  }

  private get label(): string {
    return `${this.host}/${this.repository}`;
  }

  private async fail(res: Response, what: string): Promise<never> {
    const text = (await readBody(res, 64 << 10, 'registry error').catch(() => Buffer.alloc(0))).toString();
    let detail = '';
    let code: string | undefined;
    try {
      const e = (JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> }).errors?.[0];
      code = e?.code;
      detail = [e?.code, e?.message].filter(Boolean).join(': ');
    } catch {
      detail = text.trim().split('\n')[0]?.slice(0, 200) ?? '';
    }
    const hint = res.status === 401 ? ' (authentication required or credentials rejected)' : res.status === 403 ? ' (access denied)' : '';
    throw new RegistryError(`registry ${this.host} answered ${res.status} for ${what}${hint}${detail ? `: ${detail}` : ''}`, res.status, code);
  }

  /** Answers the registry's challenge once per client: basic credentials or a bearer token. */
  private async authenticate(push: boolean): Promise<void> {
    if (this.authChecked) return;
    const ping = () =>
      this.raw('GET', '/v2/', {}).catch((err: Error) => {
        throw new Error(`cannot reach registry ${this.host} over ${this.base.protocol.slice(0, -1).toUpperCase()}: ${err.message}`);
      });
    let res: Response;
    try {
      res = await ping();
    } catch (err) {
      // --insecure: like skopeo, HTTPS without verification first, then plain HTTP
      if (!this.opts.insecure || this.base.protocol !== 'https:') throw err;
      this.base = new URL(`http://${this.host}`);
      res = await ping();
    }
    res.body.resume();
    this.authChecked = true;
    if (res.status === 200) return;
    if (res.status !== 401) return this.fail(res, 'the API check /v2/');
    const header = res.headers['www-authenticate'];
    const { scheme, params } = parseChallenge(Array.isArray(header) ? header[0]! : (header ?? ''));
    const creds = this.opts.credentials;
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    if (scheme === 'basic') {
      if (!basic) throw new RegistryError(`registry ${this.host} answered 401: it requires credentials (basic auth, realm ${params.realm ?? '?'})`, 401);
      this.authHeader = basic;
      return;
    }
    if (scheme !== 'bearer' || !params.realm) throw new RegistryError(`registry ${this.host} answered 401 with an unsupported challenge ${JSON.stringify(header)}`, 401);
    const realm = new URL(params.realm);
    if (realm.protocol !== 'https:' && !isLoopback(realm.host) && !this.opts.insecure) throw new Error(`token endpoint ${realm} is plain HTTP; refusing without --insecure`);
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.append('scope', `repository:${this.repository}:${push ? 'pull,push' : 'pull'}`);
    for (const r of this.extraPull) realm.searchParams.append('scope', `repository:${r}:pull`);
    const tokenRes = await send(realm, { method: 'GET', headers: basic ? { authorization: basic } : {}, insecure: this.opts.insecure });
    if (tokenRes.status !== 200) {
      tokenRes.body.resume();
      throw new RegistryError(`token endpoint ${realm.host} answered ${tokenRes.status}${tokenRes.status === 401 ? ' (credentials rejected)' : ''}`, tokenRes.status);
    }
    const tok = JSON.parse((await readBody(tokenRes, 1 << 20, 'token response')).toString()) as { token?: string; access_token?: string };
    const token = tok.token ?? tok.access_token;
    if (!token) throw new Error(`token endpoint ${realm.host} returned no token`);
    this.authHeader = `Bearer ${token}`;
  }

  private raw(method: string, path: string | URL, init: { headers?: Record<string, string>; body?: Buffer | Readable }): Promise<Response> {
    const url = typeof path === 'string' ? new URL(path, this.base) : path;
    const headers: Record<string, string> = { ...init.headers, 'user-agent': 'lighter' };
    if (this.authHeader && url.host === this.base.host) headers.authorization = this.authHeader;
    return send(url, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}), insecure: this.opts.insecure });
  }

  /** A request after authentication; 5xx and network errors on idempotent requests are retried. */
  private async request(method: string, path: string | URL, init: { headers?: Record<string, string>; body?: Buffer | Readable; push?: boolean } = {}): Promise<Response> {
    await this.authenticate(init.push ?? false);
    const idempotent = method === 'GET' || method === 'HEAD';
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.raw(method, path, init);
      } catch (err) {
        if (!idempotent || attempt >= 2) throw new Error(`registry ${this.host}: ${method} failed: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
        continue;
      }
      if (res.status >= 500 && idempotent && attempt < 2) {
        res.body.resume();
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
        continue;
      }
      return res;
    }
  }

  async getManifest(reference: string): Promise<{ bytes: Buffer; contentType: string }> {
    const res = await this.request('GET', `/v2/${this.repository}/manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT } });
    if (res.status !== 200) return this.fail(res, `manifest ${this.label}:${reference}`);
    const bytes = await readBody(res, 4 << 20, `manifest ${this.label}:${reference}`);
    return { bytes, contentType: String(res.headers['content-type'] ?? '').split(';')[0]!.trim() };
  }

  async putManifest(reference: string, bytes: Uint8Array, mediaType: string): Promise<void> {
    const res = await this.request('PUT', `/v2/${this.repository}/manifests/${reference}`, { headers: { 'content-type': mediaType }, body: Buffer.from(bytes), push: true });
    if (res.status !== 201 && res.status !== 200) return this.fail(res, `manifest upload ${this.label}:${reference}`);
    res.body.resume();
  }

  /** The blob's bytes as the registry sends them; the caller verifies them. */
  async getBlob(digest: string): Promise<Readable> {
    const res = await this.request('GET', `/v2/${this.repository}/blobs/${digest}`);
    if (res.status !== 200) return this.fail(res, `blob ${digest} in ${this.label}`);
    return res.body;
  }

  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${this.repository}/blobs/${digest}`, { push: true });
    res.body.resume();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    return this.fail(res, `blob check ${digest} in ${this.label}`);
  }

  /** Asks the registry to link a blob from another repository; false when it would not. */
  async mountBlob(digest: string, from: string): Promise<boolean> {
    const res = await this.request('POST', `/v2/${this.repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, { push: true });
    res.body.resume();
    if (res.status === 201) return true;
    if (res.status === 202 && res.headers.location) {
      // the registry started an ordinary upload instead; drop it
      (await this.raw('DELETE', new URL(res.headers.location, this.base), {})).body.resume();
      return false;
    }
    return this.fail(res, `mount of ${digest} from ${from}`);
  }

  /**
   * Uploads a blob in chunks. After a dropped connection it asks the registry how much arrived
   * (GET on the upload URL → Range) and continues from there; only if the registry has lost the
   * upload does it start over.
   */
  async uploadBlob(src: UploadSource): Promise<void> {
    const chunk = this.opts.chunkSize ?? 16 << 20;
    const retries = this.opts.retries ?? 5;
    let restarts = 0;
    for (;;) {
      let location = await this.startUpload();
      let offset = 0;
      let failures = 0;
      let lost = false;
      while (offset < src.size && !lost) {
        const end = Math.min(src.size, offset + chunk) - 1;
        try {
          const res = await this.raw('PATCH', location, {
            headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${end}`, 'content-length': String(end - offset + 1) },
            body: src.open(offset, end),
          });
          if (res.status !== 202) return this.fail(res, `upload of ${src.digest} to ${this.label} (bytes ${offset}-${end})`);
          res.body.resume();
          location = this.location(res, location);
          offset = end + 1;
          failures = 0;
        } catch (err) {
          if (err instanceof RegistryError || ++failures > retries) throw err instanceof RegistryError ? err : new Error(`upload of ${src.digest} to ${this.label} failed after ${retries} retries: ${(err as Error).message}`);
          await new Promise((r) => setTimeout(r, 100 * 2 ** failures));
          // docker-registry 2.8 discards an upload whose stored size no longer matches its state
          // (a chunk that arrived in part): then there is nothing to resume and we start over
          const status = await this.uploadStatus(location).catch(() => undefined);
          if (!status) {
            lost = true;
            break;
          }
          location = status.location;
          offset = status.next;
          this.stats.resumed++;
        }
      }
      if (lost) {
        if (++restarts > retries) throw new Error(`upload of ${src.digest} to ${this.label}: the registry lost the upload ${restarts} times`);
        this.stats.restarted++;
        continue;
      }
      const url = new URL(location);
      url.searchParams.set('digest', src.digest);
      const res = await this.raw('PUT', url, { headers: { 'content-length': '0' }, body: Buffer.alloc(0) });
      if (res.status !== 201) return this.fail(res, `completing upload of ${src.digest} to ${this.label}`);
      res.body.resume();
      return;
    }
  }

  private location(res: Response, prev: string): string {
    const loc = res.headers.location;
    return loc ? new URL(loc, this.base).toString() : prev;
  }

  private async startUpload(): Promise<string> {
    const res = await this.request('POST', `/v2/${this.repository}/blobs/uploads/`, { push: true, headers: { 'content-length': '0' } });
    if (res.status !== 202 || !res.headers.location) return this.fail(res, `starting an upload to ${this.label}`);
    res.body.resume();
    return this.location(res, '');
  }

  /** Where an interrupted upload stands: the next byte the registry expects. */
  private async uploadStatus(location: string): Promise<{ location: string; next: number }> {
    const res = await this.raw('GET', new URL(location), {});
    res.body.resume();
    if (res.status !== 204) throw new RegistryError(`upload status answered ${res.status}`, res.status);
    const range = /^(?:bytes=)?0-(\d+)$/.exec(String(res.headers.range ?? ''));
    return { location: this.location(res, location), next: range ? Number(range[1]) + 1 : 0 };
  }
}
