// ESLint flat config: typescript-eslint's recommended rules for src/, test/ and scripts/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['nodes/**', 'node_modules/**', '.node-red-data/**', '.test-tmp/**', 'bench-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The broker is a standalone library: it must never depend on Node-RED or on the nodes.
    files: ['src/broker/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node-red', 'node-red/*', '@node-red/*', 'node-red-*'], message: 'src/broker must not import Node-RED' },
          { group: ['../nodes/*', '../../nodes/*', '../thingsboard/*'], message: 'src/broker is standalone' },
        ],
      }],
    },
  },
  {
    files: ['src/nodes/*/editor.js'],
    languageOptions: { sourceType: 'script', globals: { RED: 'readonly', $: 'readonly', jQuery: 'readonly', window: 'readonly', document: 'readonly' } },
    rules: { '@typescript-eslint/no-unused-vars': 'off', 'no-unused-vars': 'off' },
  },
  {
    files: ['scripts/**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
