// The part of IoT Hub's query language the shore uses: `SELECT * FROM devices` or
// `FROM devices.modules`, with an optional WHERE of comparisons (=, !=, <>, <, <=, >, >=, IN [...],
// IS_DEFINED(path)) joined by AND / OR (AND binds tighter), over twin paths such as
// `tags.vessel`, `capabilities.iotEdge`, `moduleId`, `properties.reported.lighter.lastVersion`.
// Anything else is a 400, so a query the stand-in would misread fails loudly.
import type { Json, JsonObject } from './registry.js';

export interface ParsedQuery {
  from: 'devices' | 'devices.modules';
  where: (twin: JsonObject) => boolean;
}

type Tok = { t: 'id' | 'str' | 'num' | 'op' | 'punct'; v: string };

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  const re = /\s*(?:(\d+(?:\.\d+)?)|'((?:[^']|'')*)'|"([^"]*)"|([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)|(<=|>=|<>|!=|=|<|>)|([()[\],*]))/y;
  let pos = 0;
  while (pos < s.length) {
    if (/^\s*$/.test(s.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) throw new Error(`query syntax error near '${s.slice(pos, pos + 20)}'`);
    pos = re.lastIndex;
    if (m[1] !== undefined) out.push({ t: 'num', v: m[1] });
    else if (m[2] !== undefined) out.push({ t: 'str', v: m[2].replace(/''/g, "'") });
    else if (m[3] !== undefined) out.push({ t: 'str', v: m[3] });
    else if (m[4] !== undefined) out.push({ t: 'id', v: m[4] });
    else if (m[5] !== undefined) out.push({ t: 'op', v: m[5] });
    else if (m[6] !== undefined) out.push({ t: 'punct', v: m[6] });
  }
  return out;
}

const get = (o: JsonObject, path: string): Json | undefined => {
  let cur: Json | undefined = o;
  for (const p of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
};

export function parseQuery(sql: string): ParsedQuery {
  const toks = tokenize(sql);
  let i = 0;
  const peek = () => toks[i];
  const kw = (w: string) => peek()?.t === 'id' && peek()!.v.toUpperCase() === w;
  const expect = (w: string) => {
    if (!kw(w) && peek()?.v !== w) throw new Error(`query: expected ${w}`);
    i++;
  };
  expect('SELECT');
  expect('*');
  expect('FROM');
  const src = toks[i++];
  if (!src || src.t !== 'id' || !['devices', 'devices.modules'].includes(src.v)) throw new Error('query: FROM devices or devices.modules');
  const literal = (): Json => {
    const t = toks[i++];
    if (!t) throw new Error('query: value expected');
    if (t.t === 'str') return t.v;
    if (t.t === 'num') return Number(t.v);
    if (t.t === 'id' && /^(true|false|null)$/i.test(t.v)) return t.v.toLowerCase() === 'null' ? null : t.v.toLowerCase() === 'true';
    throw new Error(`query: value expected, got ${t.v}`);
  };
  type Pred = (o: JsonObject) => boolean;
  const comparison = (): Pred => {
    if (peek()?.v === '(') {
      i++;
      const p = or();
      expect(')');
      return p;
    }
    if (kw('NOT')) {
      i++;
      const p = comparison();
      return (o) => !p(o);
    }
    if (kw('IS_DEFINED')) {
      i++;
      expect('(');
      const path = toks[i++]?.v ?? '';
      expect(')');
      return (o) => get(o, path) !== undefined;
    }
    const pathTok = toks[i++];
    if (!pathTok || pathTok.t !== 'id') throw new Error('query: property path expected');
    const path = pathTok.v;
    if (kw('IN')) {
      i++;
      expect('[');
      const values: Json[] = [];
      while (peek()?.v !== ']') {
        values.push(literal());
        if (peek()?.v === ',') i++;
      }
      i++;
      return (o) => values.some((v) => v === get(o, path));
    }
    const op = toks[i++];
    if (!op || op.t !== 'op') throw new Error('query: comparison expected');
    const v = literal();
    return (o) => {
      const x = get(o, path);
      switch (op.v) {
        case '=': return x === v;
        case '!=': case '<>': return x !== v;
        default: {
          if (typeof x !== typeof v || (typeof x !== 'number' && typeof x !== 'string')) return false;
          const a = x as number | string;
          const b = v as number | string;
          return op.v === '<' ? a < b : op.v === '<=' ? a <= b : op.v === '>' ? a > b : a >= b;
        }
      }
    };
  };
  const and = (): Pred => {
    const ps = [comparison()];
    while (kw('AND')) {
      i++;
      ps.push(comparison());
    }
    return (o) => ps.every((p) => p(o));
  };
  const or = (): Pred => {
    const ps = [and()];
    while (kw('OR')) {
      i++;
      ps.push(and());
    }
    return (o) => ps.some((p) => p(o));
  };
  let where: Pred = () => true;
  if (kw('WHERE')) {
    i++;
    where = or();
  }
  if (i < toks.length) throw new Error(`query: unexpected '${toks[i]!.v}'`);
  return { from: src.v as ParsedQuery['from'], where };
}
