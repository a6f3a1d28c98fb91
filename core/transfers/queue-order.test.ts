import { describe, expect, it } from 'vitest';
import { orderQueue, parseOrder, type QueueItem } from './queue-order.js';

const item = (id: number, o: Partial<QueueItem> = {}): QueueItem => ({ id, deviceId: `d${id}`, deploymentId: null, position: null, priority: 0, dueAt: null, size: 100, ...o });

describe('queue order', () => {
  it('goes by priority, then due date (undated last), then smallest, then first queued', () => {
    const items = [
      item(1, { priority: 0, size: 10 }),
      item(2, { priority: 5, dueAt: '2026-12-20T00:00:00Z', size: 500 }),
      item(3, { priority: 5, dueAt: '2026-12-10T00:00:00Z', size: 900 }),
      item(4, { priority: 5, size: 1 }),
      item(5, { priority: 0, size: 10 }),
      item(6, { priority: 0, size: 5 }),
      item(7, { priority: 5, dueAt: '2026-12-10T00:00:00Z', size: 800 }),
    ];
    expect(orderQueue(items, items).map((i) => i.id)).toEqual([7, 3, 2, 4, 6, 1, 5]);
    expect(orderQueue(items, items, parseOrder('size')).map((i) => i.id)).toEqual([4, 6, 1, 5, 2, 7, 3]);
  });

  it('holds a bundle back while an earlier one for the same device and deployment is not done', () => {
    const first = item(1, { deviceId: 'ship', deploymentId: 9, position: 0, size: 900 });
    const second = item(2, { deviceId: 'ship', deploymentId: 9, position: 1, size: 1 });
    const other = item(3, { deviceId: 'truck', deploymentId: 9, position: 1, size: 2 });
    expect(orderQueue([first, second, other], [first, second, other]).map((i) => i.id)).toEqual([3, 1]);
    expect(orderQueue([second], [second]).map((i) => i.id)).toEqual([2]);
  });

  it('refuses unknown and repeated rules', () => {
    expect(() => parseOrder('priority,cost')).toThrow(/unknown queue order rule "cost"/);
    expect(() => parseOrder('size,size')).toThrow(/twice/);
    expect(() => parseOrder(' ')).toThrow(/no rule/);
  });
});
