// The table every report uses: a filter box that matches any column, sortable headers, and
// "Export CSV" that writes exactly the rows and columns shown (after filtering and sorting).
import { useMemo, useState, type ReactNode } from 'react';
import { download, toCsv } from './csv.js';

export interface Column<T> {
  key: string;
  label: string;
  /** the value shown, filtered on, sorted by and exported */
  value(row: T): string | number | null;
  /** how to show it, when not as the plain value */
  render?(row: T): ReactNode;
  numeric?: boolean;
}

/** rows drawn at most; the filter narrows, and Export CSV always writes every matching row */
const DRAWN = 300;

export function DataTable<T>({ name, rows, columns, rowKey, empty, caption }: { name: string; rows: T[]; columns: Array<Column<T>>; rowKey(row: T): string; empty?: ReactNode; caption?: string }) {
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<{ key: string; dir: 1 | -1 } | null>(null);
  const shown = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const matched = needle ? rows.filter((r) => columns.some((c) => String(c.value(r) ?? '').toLowerCase().includes(needle))) : rows;
    if (!sort) return matched;
    const col = columns.find((c) => c.key === sort.key)!;
    return [...matched].sort((a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      if (x === y) return 0;
      if (x === null) return 1;
      if (y === null) return -1;
      return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))) * sort.dir;
    });
  }, [rows, columns, filter, sort]);

  const exportCsv = () =>
    download(
      `${name}.csv`,
      toCsv(
        columns.map((c) => c.label),
        shown.map((r) => columns.map((c) => c.value(r))),
      ),
    );

  return (
    <div className="data-table" data-table={name}>
      <div className="table-tools">
        <input type="search" aria-label={`Filter ${caption ?? name}`} placeholder="Filter…" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <span className="muted" aria-live="polite">
          {shown.length === rows.length ? `${rows.length} rows` : `${shown.length} of ${rows.length} rows`}
        </span>
        <button className="button button-small" onClick={exportCsv} disabled={shown.length === 0}>
          Export CSV
        </button>
      </div>
      {shown.length === 0 ? (
        <div className="empty-inline muted">{rows.length === 0 ? (empty ?? 'Nothing yet.') : 'No row matches the filter.'}</div>
      ) : (
        <table className="grid">
          {caption && <caption className="sr-only">{caption}</caption>}
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c.key} className={c.numeric ? 'num' : undefined} aria-sort={sort?.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : undefined}>
                  <button className="th-button" onClick={() => setSort(sort?.key === c.key ? { key: c.key, dir: sort.dir === 1 ? -1 : 1 } : { key: c.key, dir: 1 })}>
                    {c.label}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.slice(0, DRAWN).map((r) => (
              <tr key={rowKey(r)}>
                {columns.map((c) => (
                  <td key={c.key} className={c.numeric ? 'num' : undefined}>
                    {c.render ? c.render(r) : (c.value(r) ?? '—')}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {shown.length > DRAWN && (
        <div className="empty-inline muted">
          Showing the first {DRAWN} of {shown.length} rows: filter to narrow them. Export CSV writes all {shown.length}.
        </div>
      )}
    </div>
  );
}
