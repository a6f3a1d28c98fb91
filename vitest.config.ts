import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{core,contract,io,main,edge-module,bench,renderer,test}/**/*.test.{ts,tsx}', 'eslint/**/*.test.js'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
