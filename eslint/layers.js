// Enforces the layer table of docs/architecture.md (from DESIGN.md): which top-level folder may
// import which, and which packages each may use. One rule so the table lives in one place.
import { builtinModules } from 'node:module';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

// layer -> { layers it may import, package test }
// every Node built-in, with or without node: (Node's own list, so a new one cannot slip past)
const NODE = (s) => s.startsWith('node:') || builtinModules.includes(s) || builtinModules.includes(s.split('/')[0]);
const PURE_PACKAGES = new Set(['zod']);
export const LAYERS = {
  core: { layers: ['core'], pkg: (s) => PURE_PACKAGES.has(s) },
  contract: { layers: ['contract', 'core'], pkg: (s) => PURE_PACKAGES.has(s) },
  io: { layers: ['io', 'core'], pkg: (s) => NODE(s) || ['dockerode', 'tar-stream', '@azure/storage-blob'].includes(s) || PURE_PACKAGES.has(s) },
  main: { layers: ['main', 'io', 'core', 'contract'], pkg: (s) => NODE(s) || s !== 'react' },
  preload: { layers: ['preload', 'contract'], pkg: (s) => s === 'electron' },
  renderer: { layers: ['renderer', 'contract', 'core'], pkg: (s) => !NODE(s) && !['electron', 'better-sqlite3', 'dockerode'].includes(s) },
  'edge-module': { layers: ['edge-module', 'io', 'core'], pkg: (s) => NODE(s) || ['dockerode', 'azure-iot-device', 'azure-iot-device-mqtt', 'azure-iot-common', 'tar-stream'].includes(s) || PURE_PACKAGES.has(s) },
  bench: { layers: ['bench', 'io', 'core', 'main'], pkg: () => true },
  test: { layers: [], pkg: () => true },
};

function layerOf(file) {
  const rel = path.relative(ROOT, file);
  const top = rel.split(path.sep)[0];
  return top in LAYERS ? top : null;
}

export default {
  rules: {
    layers: {
      meta: { type: 'problem', schema: [], messages: { layer: '{{from}}/ may not import {{what}} (layer table in docs/architecture.md)' } },
      create(context) {
        const file = context.filename;
        const from = layerOf(file);
        // Tests and build configs (vite.config.ts bundles a layer, it is not part of it) are exempt.
        if (!from || from === 'test' || /\.test\.tsx?$/.test(file) || /(^|[\\/])vite\.config\.ts$/.test(file)) return {};
        const rule = LAYERS[from];
        const check = (node, spec) => {
          if (typeof spec !== 'string') return;
          if (spec.startsWith('.')) {
            const to = layerOf(path.resolve(path.dirname(file), spec));
            if (to && !rule.layers.includes(to)) context.report({ node, messageId: 'layer', data: { from, what: `${to}/` } });
            // Electron's main-process APIs stay inside main/shell so services run in plain Node.
            return;
          }
          const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
          const shell = from === 'main' && file.includes(`${path.sep}main${path.sep}shell${path.sep}`);
          const ok = pkg === 'electron' ? (from === 'preload' || shell) : rule.pkg(pkg);
          if (!ok) context.report({ node, messageId: 'layer', data: { from, what: `'${spec}'` } });
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
