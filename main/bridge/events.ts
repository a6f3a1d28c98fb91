// Fan-out of the events main pushes (contract/events.ts) to whoever listens: the loopback bridge's
// /events streams and Electron windows. Services publish; transports subscribe.
import type { BridgeEvent } from '../../contract/events.js';

export type EventListener = (event: BridgeEvent) => void;

export class EventHub {
  private readonly listeners = new Set<EventListener>();

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: BridgeEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // one closed page must not keep the event from the others
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}
