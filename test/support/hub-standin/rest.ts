// The HTTPS REST side of the stand-in, for the `azure-iothub` service SDK: device and module
// identities, twins with ETag/If-Match, paged queries (x-ms-max-item-count / x-ms-continuation)
// and applyConfigurationContent. Every request carries a service SAS token checked against the
// hub's shared access policies and the rights the route needs.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hub, HubError, type Right } from './hub.js';
import { parseQuery } from './query.js';
import { identityJson, twinJson, type DeviceDefinition, type JsonObject } from './registry.js';
import { checkSas, parseSas } from './sas.js';

const MAX_PAGE = 100;

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}), 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The error body IoT Hub sends, which the SDK's Http.parseErrorBody reads (`ErrorCode:X;message`). */
export function sendError(res: ServerResponse, e: HubError, headers: Record<string, string> = {}): void {
  send(res, e.status, { Message: `ErrorCode:${e.code};${e.message}`, ExceptionMessage: `Tracking ID:standin-${Date.now()} ${e.message}` }, headers);
}

async function readBody(req: IncomingMessage): Promise<JsonObject | undefined> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  if (chunks.length === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as JsonObject;
  } catch {
    throw new HubError(400, 'ArgumentInvalid', 'request body is not a JSON object');
  }
}

function authorize(hub: Hub, req: IncomingMessage, need: Right): void {
  const token = parseSas(req.headers.authorization);
  const policy = token?.skn ? hub.policies.get(token.skn) : undefined;
  const why = !token ? 'missing or malformed SharedAccessSignature'
    : !policy ? `no shared access policy named ${token.skn ?? '(none)'}`
    : checkSas(token, hub.host, [policy.primaryKey]);
  if (why) throw new HubError(401, 'IotHubUnauthorizedAccess', `Unauthorized: ${why}`);
  if (!policy!.rights.includes(need)) throw new HubError(401, 'IotHubUnauthorizedAccess', `Unauthorized: policy ${policy!.name} lacks ${need}`);
}

interface Cursor {
  q: string;
  offset: number;
}

function query(hub: Hub, req: IncomingMessage, body: JsonObject | undefined, res: ServerResponse): void {
  const sql = body?.query;
  if (typeof sql !== 'string') throw new HubError(400, 'ArgumentInvalid', 'query is required');
  let parsed;
  try {
    parsed = parseQuery(sql);
  } catch (e) {
    throw new HubError(400, 'BadRequest', (e as Error).message);
  }
  const pageSize = Math.min(MAX_PAGE, Math.max(1, Number(req.headers['x-ms-max-item-count'] ?? MAX_PAGE) || MAX_PAGE));
  let offset = 0;
  const token = req.headers['x-ms-continuation'];
  if (typeof token === 'string' && token) {
    let cursor: Cursor;
    try {
      cursor = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as Cursor;
    } catch {
      throw new HubError(400, 'ArgumentInvalid', 'bad continuation token');
    }
    if (cursor.q !== sql || !Number.isInteger(cursor.offset)) throw new HubError(400, 'ArgumentInvalid', 'continuation token is for another query');
    offset = cursor.offset;
  }
  const source = parsed.from === 'devices' ? hub.registry.devices() : hub.registry.allModules();
  const all = source.map(twinJson).filter(parsed.where);
  const page = all.slice(offset, offset + pageSize);
  const next = offset + pageSize < all.length ? Buffer.from(JSON.stringify({ q: sql, offset: offset + pageSize })).toString('base64') : undefined;
  send(res, 200, page, { 'x-ms-item-type': 'twin', ...(next ? { 'x-ms-continuation': next } : {}) });
}

/** Handles one REST request; HubErrors become IoT Hub error responses. */
export async function handleRest(hub: Hub, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://standin');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const method = req.method ?? 'GET';
  try {
    const body = await readBody(req);
    const [a, id, b, mid, c] = parts;
    // /devices/query
    if (a === 'devices' && id === 'query' && parts.length === 2 && method === 'POST') {
      authorize(hub, req, 'RegistryRead');
      return query(hub, req, body, res);
    }
    // /devices
    if (a === 'devices' && parts.length === 1 && method === 'GET') {
      authorize(hub, req, 'RegistryRead');
      const top = Number(url.searchParams.get('top') ?? 1000);
      return send(res, 200, hub.registry.devices().slice(0, top).map(identityJson));
    }
    // /devices/{id}
    if (a === 'devices' && id && parts.length === 2) {
      if (method === 'GET') {
        authorize(hub, req, 'RegistryRead');
        return send(res, 200, identityJson(hub.identity(id)));
      }
      if (method === 'PUT') {
        authorize(hub, req, 'RegistryWrite');
        const existing = hub.registry.get(id);
        if (existing && !req.headers['if-match']) throw new HubError(409, 'DeviceAlreadyExists', `Device ${id} already exists`);
        const def = { ...(body ?? {}), deviceId: id } as unknown as DeviceDefinition;
        if (existing) {
          existing.status = def.status ?? existing.status;
          existing.iotEdge = def.capabilities?.iotEdge ?? existing.iotEdge;
          existing.primaryKey = def.authentication?.symmetricKey?.primaryKey || existing.primaryKey;
          existing.secondaryKey = def.authentication?.symmetricKey?.secondaryKey || existing.secondaryKey;
          existing.etagVersion++;
          return send(res, 200, identityJson(existing));
        }
        return send(res, 200, identityJson(hub.registry.addDevice({ ...def, tags: null, properties: null, modules: [] })));
      }
      if (method === 'DELETE') {
        authorize(hub, req, 'RegistryWrite');
        hub.identity(id);
        hub.registry.remove(id);
        return send(res, 204);
      }
    }
    // /devices/{id}/applyConfigurationContent
    if (a === 'devices' && id && b === 'applyConfigurationContent' && parts.length === 3 && method === 'POST') {
      authorize(hub, req, 'RegistryWrite');
      if (!body) throw new HubError(400, 'ArgumentInvalid', 'configuration content is required');
      hub.applyConfiguration(id, body);
      return send(res, 204);
    }
    // /devices/{id}/modules[/{mid}]
    if (a === 'devices' && id && b === 'modules') {
      if (parts.length === 3 && method === 'GET') {
        authorize(hub, req, 'RegistryRead');
        hub.identity(id);
        return send(res, 200, hub.registry.modulesOf(id).map(identityJson));
      }
      if (mid && parts.length === 4) {
        if (method === 'GET') {
          authorize(hub, req, 'RegistryRead');
          return send(res, 200, identityJson(hub.identity(id, mid)));
        }
        if (method === 'PUT') {
          authorize(hub, req, 'RegistryWrite');
          const existing = hub.registry.get(id, mid);
          if (existing && !req.headers['if-match']) throw new HubError(409, 'ModuleAlreadyExistsOnDevice', `Module ${mid} already exists on ${id}`);
          const keys = (body?.authentication as DeviceDefinition['authentication'])?.symmetricKey ?? {};
          const m = existing ?? hub.registry.addModule(hub.identity(id).deviceId, mid, typeof body?.managedBy === 'string' ? body.managedBy : undefined, { primaryKey: keys.primaryKey ?? '', secondaryKey: keys.secondaryKey ?? '' });
          return send(res, 200, identityJson(m));
        }
        if (method === 'DELETE') {
          authorize(hub, req, 'RegistryWrite');
          hub.identity(id, mid);
          hub.registry.remove(id, mid);
          return send(res, 204);
        }
      }
    }
    // /twins/{id}[/modules/{mid}]
    if (a === 'twins' && id && (parts.length === 2 || (b === 'modules' && mid && parts.length === 4 && !c))) {
      const moduleId = parts.length === 4 ? mid : undefined;
      if (method === 'GET') {
        authorize(hub, req, 'RegistryRead');
        const twin = twinJson(hub.identity(id, moduleId));
        return send(res, 200, twin, { etag: `"${String(twin.etag)}"` });
      }
      if (method === 'PATCH' || method === 'PUT') {
        authorize(hub, req, 'ServiceConnect');
        const identity = hub.identity(id, moduleId);
        if (!body) throw new HubError(400, 'ArgumentInvalid', 'twin patch is required');
        hub.patchTwin(identity, body, req.headers['if-match'], method === 'PUT');
        const twin = twinJson(identity);
        return send(res, 200, twin, { etag: `"${String(twin.etag)}"` });
      }
    }
    throw new HubError(404, 'NotFound', `${method} ${url.pathname} is not an IoT Hub API the stand-in serves`);
  } catch (e) {
    if (e instanceof HubError) return sendError(res, e);
    return sendError(res, new HubError(500, 'ServerError', (e as Error).message));
  }
}
