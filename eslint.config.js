import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';
import layers from './eslint/layers.js';
import cycles from './eslint/no-cycle.js';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'renderer/dist/', '.cache/'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,tsx}'],
    plugins: { lighter: { rules: { ...layers.rules, ...cycles.rules } } },
    rules: {
      'lighter/layers': 'error',
      'lighter/no-cycle': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // the renderer's components follow the Rules of Hooks (and the React Compiler's checks)
  {
    files: ['renderer/**/*.{ts,tsx}'],
    ...reactHooks.configs.flat['recommended-latest'],
    rules: { ...reactHooks.configs.flat['recommended-latest'].rules, 'react-hooks/exhaustive-deps': 'error' },
  },
);
