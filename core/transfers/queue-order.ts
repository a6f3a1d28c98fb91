// The business rules that decide which transfer goes next, in one place (docs/transfers.md says the
// same in prose). The order of the rules is configurable; whatever it is, two things always hold:
// a device's bundles of one deployment go in the order the device applies them (a bundle built on
// top of another is useless before it), and ties fall to the transfer queued first.

export const ORDER_RULES = {
  /** the deployment's priority, set by the engineer: higher first */
  priority: (a: QueueItem, b: QueueItem) => b.priority - a.priority,
  /** the deployment's due date: sooner first; no due date after every dated one */
  due: (a: QueueItem, b: QueueItem) => dueValue(a) - dueValue(b),
  /** the bundle's size: smaller first, so one large bundle does not hold up many small ones */
  size: (a: QueueItem, b: QueueItem) => a.size - b.size,
} as const;

export type OrderRule = keyof typeof ORDER_RULES;
export const DEFAULT_ORDER: readonly OrderRule[] = ['priority', 'due', 'size'];

export interface QueueItem {
  /** transfer id; lower = queued earlier */
  id: number;
  deviceId: string;
  deploymentId: number | null;
  /** where this bundle stands in the device's apply order for that deployment, if known */
  position: number | null;
  priority: number;
  /** ISO time, or null */
  dueAt: string | null;
  size: number;
}

function dueValue(i: QueueItem): number {
  const t = i.dueAt ? Date.parse(i.dueAt) : NaN;
  return Number.isNaN(t) ? Number.MAX_SAFE_INTEGER : t;
}

/** "priority,due,size" → the rules, refusing unknown or repeated names. */
export function parseOrder(text: string): OrderRule[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new Error(`the queue order names no rule; use some of ${Object.keys(ORDER_RULES).join(', ')}`);
  for (const n of names) {
    if (!(n in ORDER_RULES)) throw new Error(`unknown queue order rule ${JSON.stringify(n)}; the rules are ${Object.keys(ORDER_RULES).join(', ')}`);
  }
  if (new Set(names).size !== names.length) throw new Error(`the queue order names a rule twice: ${text}`);
  return names as OrderRule[];
}

export function compareItems(order: readonly OrderRule[]): (a: QueueItem, b: QueueItem) => number {
  return (a, b) => {
    for (const rule of order) {
      const c = ORDER_RULES[rule](a, b);
      if (c !== 0) return c;
    }
    return a.id - b.id;
  };
}

/**
 * The items that may start now, best first. `pending` are all transfers not finished yet (queued,
 * running, failed, paused): an item waits while one of them is an earlier bundle for the same
 * device in the same deployment.
 */
export function orderQueue<T extends QueueItem>(candidates: readonly T[], pending: readonly QueueItem[], order: readonly OrderRule[] = DEFAULT_ORDER): T[] {
  const blocked = (c: T) =>
    c.position !== null &&
    pending.some((p) => p.id !== c.id && p.deviceId === c.deviceId && p.deploymentId === c.deploymentId && p.position !== null && p.position < c.position!);
  return candidates.filter((c) => !blocked(c)).sort(compareItems(order));
}
