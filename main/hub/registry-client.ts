// Opens the `azure-iothub` Registry for a hub's service connection string. IoT Hub's HostName
// never carries a port, but a hub reached at host:port (the test stand-in, a gateway or proxy on
// another port) does, and Node's https cannot take a port inside the host name: for those, the
// SDK's own request builder is given the port through its per-request `port` option. `ca` adds
// a CA to trust for that hub; otherwise Node's trust store (plus NODE_EXTRA_CA_CERTS) applies.
import type { ClientRequest } from 'node:http';
import iothub from 'azure-iothub';
import type { Registry } from 'azure-iothub';
import httpBase from 'azure-iothub/dist/common-http/http.js';
import type { HttpCallback, HttpMethod, HttpRequestOptions } from 'azure-iothub/dist/common-http/http.js';
import restBase from 'azure-iothub/dist/common-http/rest_api_client.js';

export interface HubAddress {
  hostName: string;
  policy: string;
}

/** HostName and policy name of a service connection string (never the key), or a clear error. */
export function hubAddress(connectionString: string): HubAddress {
  const fields = new Map<string, string>();
  for (const part of connectionString.trim().split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const hostName = fields.get('HostName');
  const policy = fields.get('SharedAccessKeyName');
  if (!hostName || !policy || !fields.get('SharedAccessKey')) {
    throw new Error('not an IoT Hub service connection string: it needs HostName, SharedAccessKeyName and SharedAccessKey');
  }
  if (fields.has('DeviceId')) throw new Error('this is a device connection string; a hub needs a service connection string (a shared access policy)');
  return { hostName, policy };
}

class PortedHttp extends httpBase.Http {
  constructor(private readonly port: number | undefined, private readonly ca: string | undefined) {
    super();
  }

  override buildRequest(method: HttpMethod, path: string, headers: { [key: string]: string | string[] | number }, host: string | { socketPath: string },
    options: HttpRequestOptions | HttpCallback, done?: HttpCallback): ClientRequest {
    const callback = typeof options === 'function' ? options : done;
    const given = typeof options === 'function' ? {} : options;
    if (typeof host !== 'string' || this.port === undefined) return super.buildRequest(method, path, headers, host, { ...given, port: this.port ?? 443 }, callback);
    return super.buildRequest(method, path, headers, host.replace(/:\d+$/, ''), { ...given, port: this.port }, callback);
  }

  override setOptions(options: Record<string, unknown>): void {
    super.setOptions(this.ca ? { ...options, ca: this.ca } : options);
  }
}

export function openRegistry(connectionString: string, opts: { ca?: string } = {}): Registry {
  const { hostName } = hubAddress(connectionString);
  const port = /:(\d+)$/.exec(hostName)?.[1];
  if (!port && !opts.ca) return iothub.Registry.fromConnectionString(connectionString);
  const cs = iothub.ConnectionString.parse(connectionString);
  // As Registry.fromConnectionString builds it: the SDK re-signs the token for an hour on every call.
  const config = { host: hostName, sharedAccessSignature: iothub.SharedAccessSignature.create(hostName, cs.SharedAccessKeyName!, cs.SharedAccessKey!, Date.now()) };
  const http = new PortedHttp(port ? Number(port) : undefined, opts.ca);
  return new iothub.Registry(config, new restBase.RestApiClient(config, 'lighter/azure-iothub', http));
}
