// A Registry HTTP API v2 client for one repository: anonymous, basic and bearer-token auth (the
// WWW-Authenticate challenge → token endpoint dance Azure Container Registry uses), manifests,
// blobs, cross-repository mounts and chunked uploads that resume where an interrupted one stopped.
import type { Readable } from 'node:stream';
import { retry, retryAfterMs } from '../retry.js';
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

/** A status that says "not now" rather than "no": the request was not acted on. */
const TRY_LATER = new Set([429, 503]);

/** Renew a token this long before the expiry its endpoint announced. */
const RENEW_EARLY_MS = 10_000;

/** How one exchange with the registry is retried (see io/retry.ts). */
const RETRY = { attempts: 4, baseMs: 200, capMs: 10_000, deadlineMs: 300_000 };

/** An answer worth another attempt, carried through io/retry.ts. */
class RetryableAnswer extends Error {
  constructor(
    readonly res: Response,
    readonly afterMs: number | undefined,
  ) {
    super(`answered ${res.status}`);
  }
}

/** The request never got an answer (connection refused, reset, timed out). */
class LinkError extends Error {}

/** The registry no longer knows an upload: it has to start over. */
const UPLOAD_LOST = new Error('upload lost');

type Body = Buffer | (() => Readable);

/** A bearer token and when to renew it (ms epoch; undefined: when the registry rejects it). */
interface Token {
  header: string;
  renewAt: number | undefined;
}

/**
 * Whether scope `sc` ("type:name:actions") is within those in `have`: the same resource with every
 * action it names. Registries list a scope's actions in any order (docker-registry builds them from
 * a Go map: "push,pull" one time, "pull,push" the next), so scopes are never compared as text.
 */
export function scopeCovered(sc: string, have: string[]): boolean {
  const want = splitScope(sc);
  const granted = new Set(have.map(splitScope).filter((h) => h.resource === want.resource).flatMap((h) => h.actions));
  return want.actions.every((a) => granted.has(a));
}

function splitScope(sc: string): { resource: string; actions: string[] } {
  const at = sc.lastIndexOf(':');
  return { resource: sc.slice(0, at), actions: sc.slice(at + 1).split(',') };
}

/** Scopes as users read them: actions sorted ("pull,push"), whatever order the registry listed. */
export function scopesText(scopes: string): string {
  return scopes
    .split(' ')
    .filter(Boolean)
    .map(splitScope)
    .map((sc) => `${sc.resource}:${sc.actions.sort().join(',')}`)
    .join(' ');
}

/** The WWW-Authenticate challenge of an answer. */
function challengeOf(res: Response): { scheme: string; params: Record<string, string> } {
  const header = res.headers['www-authenticate'];
  return parseChallenge(Array.isArray(header) ? header[0]! : (header ?? ''));
}

export class RegistryClient {
  private base: URL;
  private authChecked = false;
  /** where bearer tokens come from (service set, no scope yet), once the registry asked for one */
  private tokenUrl: URL | undefined;
  private basic: string | undefined;
  /**
   * Bearer tokens by the scope set a request needs (pull, or pull and push, plus mount sources),
   * so a token asked for one kind of request is never sent with another it does not cover.
   */
  private readonly tokens = new Map<string, Token>();
  /** scopes a challenge named beyond what a scope set asked for (e.g. registry:catalog:*), by set */
  private readonly widened = new Map<string, string[]>();
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
    const { params } = challengeOf(res);
    const hint =
      res.status === 401 && params.error === 'insufficient_scope'
        ? ` (insufficient_scope: the token endpoint did not grant ${params.scope ? scopesText(params.scope) : 'the access this needs'}; the credentials may lack that permission)`
        : res.status === 401
          ? ' (authentication required or credentials rejected)'
          : res.status === 403
            ? ' (access denied)'
            : '';
    throw new RegistryError(`registry ${this.host} answered ${res.status} for ${what}${hint}${detail ? `: ${detail}` : ''}`, res.status, code ?? (params.error === 'insufficient_scope' ? 'insufficient_scope' : undefined));
  }

  /** The scopes a request needs: this repository (pull, or pull and push) and the mount sources. */
  private scopesFor(push: boolean): string[] {
    return [...(this.repository ? [`repository:${this.repository}:${push ? 'pull,push' : 'pull'}`] : []), ...this.extraPull.map((r) => `repository:${r}:pull`)];
  }

  /**
   * The Authorization header for a request needing SCOPES: basic credentials, or a bearer token for
   * exactly that scope set (and what challenges added to it), fetched when there is none or it is
   * about to expire. The registry's challenge is answered once per client.
   */
  private async authorization(scopes: string[]): Promise<string | undefined> {
    if (!this.authChecked) await this.challenge();
    if (!this.tokenUrl) return this.basic;
    const key = scopes.join(' ');
    const have = this.tokens.get(key);
    if (have && (have.renewAt === undefined || Date.now() < have.renewAt)) return have.header;
    const token = await this.fetchToken([...scopes, ...(this.widened.get(key) ?? [])]);
    this.tokens.set(key, token);
    return token.header;
  }

  private async challenge(): Promise<void> {
    const ping = () =>
      this.raw('GET', '/v2/', {}, undefined).catch((err: Error) => {
        // Off loopback without --insecure only HTTPS is tried: say how to reach a plain-HTTP one.
        const hint = this.base.protocol === 'https:' && !this.opts.insecure ? ' (a plain-HTTP registry that is not on loopback needs --insecure)' : '';
        throw new Error(`cannot reach registry ${this.host} over ${this.base.protocol.slice(0, -1).toUpperCase()}: ${err.message}${hint}`);
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
    const { scheme, params } = challengeOf(res);
    const creds = this.opts.credentials;
    this.basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    if (scheme === 'basic') {
      if (!this.basic) throw new RegistryError(`registry ${this.host} answered 401: it requires credentials (basic auth, realm ${params.realm ?? '?'})`, 401);
      return;
    }
    if (scheme !== 'bearer' || !params.realm) throw new RegistryError(`registry ${this.host} answered 401 with an unsupported challenge ${JSON.stringify(header)}`, 401);
    const realm = new URL(params.realm);
    if (realm.protocol !== 'https:' && !isLoopback(realm.host) && !this.opts.insecure) throw new Error(`token endpoint ${realm.host} is plain HTTP; refusing without --insecure`);
    if (params.service) realm.searchParams.set('service', params.service);
    this.tokenUrl = realm;
  }

  private async fetchToken(scopes: string[]): Promise<Token> {
    const realm = new URL(this.tokenUrl!);
    for (const sc of new Set(scopes)) realm.searchParams.append('scope', sc);
    const asked = Date.now();
    const tokenRes = await send(realm, { method: 'GET', headers: this.basic ? { authorization: this.basic } : {}, insecure: this.opts.insecure });
    if (tokenRes.status !== 200) {
      tokenRes.body.resume();
      throw new RegistryError(`token endpoint ${realm.host} answered ${tokenRes.status}${tokenRes.status === 401 ? ' (credentials rejected)' : ''}`, tokenRes.status);
    }
    const tok = JSON.parse((await readBody(tokenRes, 1 << 20, 'token response')).toString()) as { token?: string; access_token?: string; expires_in?: number };
    const token = tok.token ?? tok.access_token;
    if (!token) throw new Error(`token endpoint ${realm.host} returned no token`);
    // an endpoint that does not say how long the token lives is taken at its word on 401 instead
    const renewAt = typeof tok.expires_in === 'number' && tok.expires_in > 0 ? asked + Math.max(tok.expires_in * 1000 - RENEW_EARLY_MS, tok.expires_in * 500) : undefined;
    return { header: `Bearer ${token}`, renewAt };
  }

  /**
   * What a bearer 401 calls for: 'renew' when our token expired or was revoked; 'widen' when the
   * challenge names a scope the token lacks that we have not asked for yet (remembered for the
   * scope set, so later requests ask for it at once); undefined when a new token cannot help.
   */
  private bearerRefusal(res: Response, key: string): 'renew' | 'widen' | undefined {
    if (res.status !== 401 || !this.tokenUrl) return undefined;
    const { scheme, params } = challengeOf(res);
    if (scheme !== 'bearer') return undefined;
    if (params.error !== 'insufficient_scope') return 'renew';
    const have = [...key.split(' '), ...(this.widened.get(key) ?? [])];
    const more = (params.scope ?? '').split(' ').filter((sc) => sc && !scopeCovered(sc, have));
    if (!more.length) return undefined;
    this.widened.set(key, [...(this.widened.get(key) ?? []), ...more]);
    return 'widen';
  }

  private raw(method: string, path: string | URL, init: { headers?: Record<string, string>; body?: Body }, authorization: string | undefined): Promise<Response> {
    const url = typeof path === 'string' ? new URL(path, this.base) : path;
    const headers: Record<string, string> = { ...init.headers, 'user-agent': 'lighter' };
    if (authorization && url.host === this.base.host) headers.authorization = authorization;
    const body = typeof init.body === 'function' ? init.body() : init.body;
    return send(url, { method, headers, ...(body !== undefined ? { body } : {}), insecure: this.opts.insecure });
  }

  /**
   * One authenticated exchange. A rejected token is renewed and the request sent again, and so is
   * one refused for a scope the registry's challenge names (asked for once, merged with ours); 429/503
   * wait for the registry's Retry-After (or back off) and try again; 5xx answers and network errors
   * are retried only for GET/HEAD, which cannot have done anything half-way. When the attempts are
   * used up the last answer is returned for the caller to report.
   */
  private async request(method: string, path: string | URL, init: { headers?: Record<string, string>; body?: Body; push?: boolean } = {}): Promise<Response> {
    const idempotent = method === 'GET' || method === 'HEAD';
    const scopes = this.scopesFor(init.push ?? false);
    const key = scopes.join(' ');
    let renewed = false;
    let widened = false;
    let refused: Response | undefined;
    try {
      return await retry(
        async () => {
          // the answer we are retrying is not needed any more; the one we give up on is reported
          refused?.body.resume();
          const authorization = await this.authorization(scopes);
          let res: Response;
          try {
            res = await this.raw(method, path, init, authorization);
          } catch (err) {
            throw new LinkError(`registry ${this.host}: ${method} failed: ${(err as Error).message}`);
          }
          // a rejected token is renewed once, and a missing scope asked for once; then the answer stands
          const refusal = this.bearerRefusal(res, key);
          if ((refusal === 'renew' && !renewed) || (refusal === 'widen' && !widened)) {
            if (refusal === 'renew') renewed = true;
            else widened = true;
            res.body.resume();
            this.tokens.delete(key);
            throw new RetryableAnswer(res, 0);
          }
          if (TRY_LATER.has(res.status) || (idempotent && res.status >= 500)) throw new RetryableAnswer((refused = res), retryAfterMs(res.headers['retry-after']));
          return res;
        },
        { ...RETRY, decide: (err) => (err instanceof RetryableAnswer ? (err.afterMs ?? true) : idempotent && err instanceof LinkError) },
      );
    } catch (err) {
      if (err instanceof RetryableAnswer) return err.res;
      throw err;
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
      (await this.request('DELETE', new URL(res.headers.location, this.base))).body.resume();
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
    for (let restarts = 0; ; restarts++) {
      let at = { location: await this.startUpload(), next: 0 };
      try {
        while (at.next < src.size) at = await this.sendChunk(src, at, chunk, retries);
      } catch (err) {
        if (err !== UPLOAD_LOST) throw err;
        if (restarts + 1 > retries) throw new Error(`upload of ${src.digest} to ${this.label}: the registry lost the upload ${restarts + 1} times`);
        this.stats.restarted++;
        continue;
      }
      const url = new URL(at.location);
      url.searchParams.set('digest', src.digest);
      const res = await this.request('PUT', url, { headers: { 'content-length': '0' }, body: Buffer.alloc(0) });
      if (res.status !== 201) return this.fail(res, `completing upload of ${src.digest} to ${this.label}`);
      res.body.resume();
      return;
    }
  }

  /**
   * Sends the chunk at AT. After a dropped connection it asks the registry how much arrived and
   * goes on from there; UPLOAD_LOST when the registry no longer knows the upload.
   */
  private async sendChunk(src: UploadSource, at: { location: string; next: number }, chunk: number, retries: number): Promise<{ location: string; next: number }> {
    let cur = at;
    try {
      return await retry(
        async (attempt) => {
          if (attempt > 0) {
            // docker-registry 2.8 discards an upload whose stored size no longer matches its state
            // (a chunk that arrived in part): then there is nothing to resume and we start over
            const status = await this.uploadStatus(cur.location).catch(() => undefined);
            if (!status) throw UPLOAD_LOST;
            this.stats.resumed++;
            cur = status;
            if (cur.next >= src.size) return cur;
          }
          const { location, next: offset } = cur;
          const end = Math.min(src.size, offset + chunk) - 1;
          const res = await this.request('PATCH', location, {
            headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${end}`, 'content-length': String(end - offset + 1) },
            body: () => src.open(offset, end),
          });
          if (res.status !== 202) return this.fail(res, `upload of ${src.digest} to ${this.label} (bytes ${offset}-${end})`);
          res.body.resume();
          return { location: this.location(res, location), next: end + 1 };
        },
        { attempts: retries + 1, baseMs: RETRY.baseMs, capMs: RETRY.capMs, decide: (err) => err instanceof LinkError },
      );
    } catch (err) {
      if (err instanceof LinkError) throw new Error(`upload of ${src.digest} to ${this.label} failed after ${retries} retries: ${err.message}`);
      throw err;
    }
  }

  /** Every repository the registry lists (GET /v2/_catalog, following its Link pages). */
  async listRepositories(): Promise<string[]> {
    return this.listPaged('/v2/_catalog?n=1000', 'repositories', 'the catalog');
  }

  /** The repository's tags; none when the repository does not exist. */
  async listTags(): Promise<string[]> {
    return this.listPaged(`/v2/${this.repository}/tags/list?n=1000`, 'tags', `tags of ${this.label}`, true);
  }

  private async listPaged(first: string, key: 'repositories' | 'tags', what: string, missingIsEmpty = false): Promise<string[]> {
    const out: string[] = [];
    for (let next: string | undefined = first, pages = 0; next; pages++) {
      if (pages > 10_000) throw new Error(`registry ${this.host}: ${what} does not end`);
      const res = await this.request('GET', next);
      if (res.status === 404 && missingIsEmpty) {
        res.body.resume();
        return out;
      }
      if (res.status !== 200) return this.fail(res, what);
      const doc = JSON.parse((await readBody(res, 16 << 20, what)).toString()) as Record<string, unknown>;
      const page = doc[key];
      if (page !== null && page !== undefined && (!Array.isArray(page) || page.some((x) => typeof x !== 'string'))) throw new Error(`registry ${this.host}: ${what} is not a list of names`);
      out.push(...((page as string[] | null) ?? []));
      // Link: </v2/_catalog?last=x&n=1000>; rel="next"
      next = /<([^>]+)>;\s*rel="?next"?/.exec(String(res.headers.link ?? ''))?.[1];
    }
    return out;
  }

  /** Removes a manifest (and so every tag pointing at it); the registry's garbage collection frees its blobs. */
  async deleteManifest(digest: string): Promise<void> {
    const res = await this.request('DELETE', `/v2/${this.repository}/manifests/${digest}`, { push: true });
    if (res.status !== 202 && res.status !== 200) return this.fail(res, `deleting manifest ${this.label}@${digest}`);
    res.body.resume();
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
    const res = await this.request('GET', new URL(location));
    res.body.resume();
    if (res.status !== 204) throw new RegistryError(`upload status answered ${res.status}`, res.status);
    const range = /^(?:bytes=)?0-(\d+)$/.exec(String(res.headers.range ?? ''));
    return { location: this.location(res, location), next: range ? Number(range[1]) + 1 : 0 };
  }
}
