// The one table of bridge handlers, shared by the loopback HTTP bridge and Electron's ipcMain: a
// channel "<namespace>.<method>" maps to a service method, and every request is parsed with the
// contract's schema before the service sees it. Failures come back as a BridgeFailure with a code
// the transports turn into an HTTP status.
import type { ZodError, ZodTypeAny } from 'zod';
import type { BridgeReply } from '../../contract/client.js';
import { METHODS, REQUESTS, type BridgeErrorCode, type LighterApi, type Namespace } from '../../contract/index.js';

export class BridgeError extends Error {
  override name = 'BridgeError';
  constructor(
    readonly code: BridgeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type Handler = (request: unknown) => Promise<unknown>;

/** "inventory.devices: group: Expected string, received number; search: must not be empty" */
export function describeZodError(channel: string, err: ZodError): string {
  const issues = err.issues.map((i) => {
    const where = i.path.length > 0 ? `${i.path.join('.')}: ` : '';
    return `${where}${i.message}`;
  });
  return `${channel}: ${issues.join('; ')}`;
}

export class Handlers {
  private readonly table = new Map<string, Handler>();

  /** Registers every method of one namespace; the contract's method list must be complete. */
  register<N extends Namespace>(namespace: N, impl: LighterApi[N]): this {
    for (const method of METHODS[namespace]) {
      const channel = `${namespace}.${method}`;
      const schema = (REQUESTS[namespace] as Record<string, ZodTypeAny>)[method]!;
      const fn = (impl as unknown as Record<string, (req: unknown) => Promise<unknown>>)[method];
      if (typeof fn !== 'function') throw new Error(`service for ${namespace} has no method ${method}`);
      this.table.set(channel, async (request) => {
        const parsed = schema.safeParse(request ?? {});
        if (!parsed.success) throw new BridgeError('invalid-request', describeZodError(channel, parsed.error));
        return fn.call(impl, parsed.data);
      });
    }
    return this;
  }

  channels(): string[] {
    return [...this.table.keys()];
  }

  /** Runs a channel; throws BridgeError for unknown channels, bad requests and failed services. */
  async invoke(channel: string, request: unknown): Promise<unknown> {
    const handler = this.table.get(channel);
    if (!handler) throw new BridgeError('unknown-method', `unknown method ${JSON.stringify(channel)}; known: ${this.channels().join(', ')}`);
    try {
      return await handler(request);
    } catch (err) {
      if (err instanceof BridgeError) throw err;
      // Services throw errors whose message is meant for the user; the first line is the reason.
      const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      throw new BridgeError('failed', `${channel}: ${message}`);
    }
  }

  /** invoke() as a reply envelope, for transports that cannot carry a status (Electron IPC). */
  async reply(channel: string, request: unknown): Promise<BridgeReply> {
    try {
      return { result: (await this.invoke(channel, request)) ?? null };
    } catch (err) {
      const e = err as BridgeError;
      return { error: { code: e.code, message: e.message } };
    }
  }
}
