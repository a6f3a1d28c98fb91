// The renderer's fetch-state store: parameters merge, errors surface as messages, and a slow answer
// to an older request never replaces the answer to a newer one.
import { describe, expect, it } from 'vitest';
import { resourceStore } from './resource.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

describe('resourceStore', () => {
  it('merges parameters and keeps the newest answer', async () => {
    const pending = new Map<string, ReturnType<typeof deferred<string>>>();
    const store = resourceStore<string, { group: string; search: string }>({ group: '', search: '' }, (p) => {
      const d = deferred<string>();
      pending.set(`${p.group}/${p.search}`, d);
      return d.promise;
    });
    const first = store.getState().load({ group: 'tankers' });
    const second = store.getState().load({ search: 'aurora' });
    expect(store.getState().params).toEqual({ group: 'tankers', search: 'aurora' });
    expect(store.getState().loading).toBe(true);
    pending.get('tankers/aurora')!.resolve('new');
    await second;
    pending.get('tankers/')!.resolve('old');
    await first;
    expect(store.getState()).toMatchObject({ data: 'new', loading: false, error: null });
  });

  it('keeps the last data and shows the error when a load fails', async () => {
    let fail = false;
    const store = resourceStore<number, object>({}, async () => {
      if (fail) throw new Error('inventory.status: database is locked');
      return 7;
    });
    await store.getState().load();
    fail = true;
    await store.getState().load();
    expect(store.getState()).toMatchObject({ data: 7, loading: false, error: 'inventory.status: database is locked' });
  });

  it("joins a prefetch once with the view's first identical load; any other load asks again", async () => {
    let calls = 0;
    const d = deferred<number>();
    const store = resourceStore<number, { group: string }>({ group: '' }, () => (++calls === 1 ? d.promise : Promise.resolve(calls)));
    const first = store.getState().prefetch();
    const again = store.getState().load({ group: '' });
    expect(again).toBe(first);
    // a reload while that is unanswered (data changed since it began) is a new request
    const reload = store.getState().load();
    expect(reload).not.toBe(first);
    d.resolve(1);
    await Promise.all([first, reload]);
    expect([calls, store.getState().data]).toEqual([2, 2]);
    await store.getState().load();
    expect([calls, store.getState().data]).toEqual([3, 3]);
  });
});
