// A store for one thing fetched through the contract: its parameters, data, loading flag and
// error. A slower answer to an older request never overwrites a newer one.
import { create } from 'zustand';

export interface Resource<T, P> {
  params: P;
  data: T | null;
  loading: boolean;
  error: string | null;
  load(params?: Partial<P>): Promise<void>;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function resourceStore<T, P extends object>(initial: P, fetch: (params: P) => Promise<T>) {
  let latest = 0;
  // The newest request while it is unanswered: the same load asked for again (a route's prefetch,
  // then the view's own effect) waits for it instead of asking main twice.
  let inflight: { key: string; done: Promise<void> } | null = null;
  return create<Resource<T, P>>((set, get) => ({
    params: initial,
    data: null,
    loading: false,
    error: null,
    load(params) {
      const p = { ...get().params, ...params };
      const key = JSON.stringify(p);
      if (inflight?.key === key) return inflight.done;
      const seq = ++latest;
      set({ params: p, loading: true });
      const done = (async () => {
        try {
          const data = await fetch(p);
          if (seq === latest) set({ data, loading: false, error: null });
        } catch (err) {
          if (seq === latest) set({ loading: false, error: errorMessage(err) });
        }
      })();
      const mine: { key: string; done: Promise<void> } = {
        key,
        done: done.finally(() => {
          if (inflight === mine) inflight = null;
        }),
      };
      inflight = mine;
      return mine.done;
    },
  }));
}
