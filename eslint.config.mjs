// Lint rules for the whole repository. The override for workflows/ and domain/ is the determinism guard:
// that code is bundled into the Temporal workflow sandbox and replayed, so it may not reach the outside world.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.filter((name) => !name.startsWith('_'));

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', '.data/', 'coverage/', 'dist/', 'web/dist/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // bench/bare/workflows.ts is the bare baseline's workflow bundle: sandboxed and replayed like the engine's.
    files: ['workflows/**/*.ts', 'domain/**/*.ts', 'bench/bare/workflows.ts'],
    // lifecycle/ is client-side code kept beside the workflows it starts (the API imports it); no workflow imports
    // it, and Temporal's bundler rejects @temporalio/client in a workflow bundle anyway.
    ignores: ['workflows/lifecycle/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({
              name,
              message: 'Workflow and domain code runs in the Temporal sandbox.',
            })),
            ...['@temporalio/activity', '@temporalio/client', '@temporalio/worker'].map((name) => ({
              name,
              message: 'Only @temporalio/workflow (and types) belong in workflow and domain code.',
              allowTypeImports: true,
            })),
          ],
          patterns: [{ group: ['node:*'], message: 'Workflow and domain code runs in the Temporal sandbox.' }],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Not replay-safe; pass randomness in or use uuid4().' },
        { object: 'Date', property: 'now', message: 'Pass the time in (domain) or use the workflow clock.' },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'No environment in workflow or domain code.' },
        { name: 'console', message: "Use log from '@temporalio/workflow'." },
        { name: 'setTimeout', message: 'Use sleep() or condition() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use sleep() in a loop from @temporalio/workflow.' },
      ],
    },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@temporalio/*'], message: 'domain/ is pure: zod only.' },
            { group: ['node:*'], message: 'domain/ is pure: zod only.' },
          ],
          paths: nodeBuiltins.map((name) => ({ name, message: 'domain/ is pure: zod only.' })),
        },
      ],
    },
  },
  {
    // The web console runs in the browser, and reaches the API only through its types.
    files: ['web/src/**/*.ts'],
    languageOptions: { globals: globals.browser },
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../../api/*', '../../api/**'],
              message: 'web/ imports api/ types only.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
