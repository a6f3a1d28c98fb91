// A store for one thing fetched through the contract: its parameters, data, loading flag and
// error. A slower answer to an older request never overwrites a newer one.
import { create } from 'zustand';

export interface Resource<T, P> {
  params: P;
  data: T | null;
  loading: boolean;
  error: string | null;
  /** a new request: what comes back is newer than anything that happened before the call */
  load(params?: Partial<P>): Promise<void>;
  /** starts a load the next identical load() joins instead of asking again (a route's loader) */
  prefetch(params?: Partial<P>): Promise<void>;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function resourceStore<T, P extends object>(initial: P, fetch: (params: P) => Promise<T>) {
  let latest = 0;
  // A prefetch while it is unanswered: the view's own first load (the same parameters) waits for it
  // instead of asking main twice. Only a prefetch is joined, and only once: any other load must see
  // what changed before it was called (a reload after a push joining a read begun before the push
  // committed showed the deployment "ready" for good).
  let prefetched: { key: string; done: Promise<void> } | null = null;
  const request = (set: (s: Partial<Resource<T, P>>) => void, p: P): Promise<void> => {
    const seq = ++latest;
    set({ params: p, loading: true });
    return (async () => {
      try {
        const data = await fetch(p);
        if (seq === latest) set({ data, loading: false, error: null });
      } catch (err) {
        if (seq === latest) set({ loading: false, error: errorMessage(err) });
      }
    })();
  };
  return create<Resource<T, P>>((set, get) => ({
    params: initial,
    data: null,
    loading: false,
    error: null,
    load(params) {
      const p = { ...get().params, ...params };
      const joined = prefetched?.key === JSON.stringify(p) ? prefetched.done : null;
      prefetched = null;
      return joined ?? request(set, p);
    },
    prefetch(params) {
      const p = { ...get().params, ...params };
      const mine = { key: JSON.stringify(p), done: request(set, p) };
      prefetched = mine;
      void mine.done.finally(() => {
        if (prefetched === mine) prefetched = null;
      });
      return mine.done;
    },
  }));
}
