// Fails on import cycles among our own modules, type-only imports and dynamic import() included:
// a cycle of types is still two modules that cannot be understood (or moved) one without the
// other, and a dynamic import only hides a runtime cycle until the day it runs. Other files are
// read with TypeScript's preprocessor (imports only, no type-check), cached by mtime.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const cache = new Map(); // file -> { mtimeMs, deps: string[] }

/** The file a relative specifier names: `./x.js` is `./x.ts` (or .tsx) in NodeNext sources. */
export function resolveSpecifier(from, spec) {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  const stem = base.replace(/\.(js|jsx|mjs)$/, '');
  for (const f of [`${stem}.ts`, `${stem}.tsx`, base, `${base}/index.ts`]) {
    try {
      if (fs.statSync(f).isFile()) return f;
    } catch {
      /* try the next form */
    }
  }
  return undefined;
}

function depsOf(file) {
  let st;
  try {
    st = fs.statSync(file);
  } catch {
    return [];
  }
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.deps;
  const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  const deps = [...new Set(info.importedFiles.map((f) => resolveSpecifier(file, f.fileName)).filter(Boolean))];
  cache.set(file, { mtimeMs: st.mtimeMs, deps });
  return deps;
}

/** A path of imports from START back to GOAL, or undefined. */
function pathBack(start, goal) {
  const seen = new Set();
  const walk = (f, trail) => {
    if (f === goal) return trail;
    if (seen.has(f)) return undefined;
    seen.add(f);
    for (const d of depsOf(f)) {
      const found = walk(d, [...trail, d]);
      if (found) return found;
    }
    return undefined;
  };
  return walk(start, [start]);
}

export default {
  rules: {
    'no-cycle': {
      meta: { type: 'problem', schema: [], messages: { cycle: 'import cycle: {{chain}}' } },
      create(context) {
        const file = context.filename;
        const root = context.cwd;
        const check = (node, spec) => {
          if (typeof spec !== 'string') return;
          const target = resolveSpecifier(file, spec);
          if (!target) return;
          const back = pathBack(target, file);
          if (back) context.report({ node, messageId: 'cycle', data: { chain: [file, ...back].map((f) => path.relative(root, f)).join(' → ') } });
        };
        return {
          ImportDeclaration: (n) => check(n, n.source.value),
          ExportNamedDeclaration: (n) => n.source && check(n, n.source.value),
          ExportAllDeclaration: (n) => check(n, n.source.value),
          ImportExpression: (n) => n.source.type === 'Literal' && check(n, n.source.value),
        };
      },
    },
  },
};
