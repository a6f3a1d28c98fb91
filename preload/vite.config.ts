// Bundles the preload into one CommonJS file (dist/preload/preload.cjs): a sandboxed preload may
// require only `electron` itself.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  build: {
    outDir: '../dist/preload',
    emptyOutDir: true,
    minify: false,
    lib: { entry: 'index.ts', formats: ['cjs'], fileName: () => 'preload.cjs' },
    rollupOptions: { external: ['electron'] },
  },
});
