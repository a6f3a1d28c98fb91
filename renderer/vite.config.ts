// Builds the renderer into renderer/dist with relative asset paths, so the same files load from
// the loopback bridge (http://127.0.0.1) and from Electron's file:// page. The CSP goes into
// index.html here, from the one definition in contract/csp.ts.
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';
import { CONTENT_SECURITY_POLICY } from '../contract/csp.js';

const csp: Plugin = {
  name: 'lighter-csp',
  transformIndexHtml: (html) => html.replace('<meta charset="utf-8" />', `<meta charset="utf-8" />\n    <meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}" />`),
};

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  plugins: [react(), csp],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // no inline scripts or data: modules: the CSP allows only files from 'self'
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1024,
  },
});
