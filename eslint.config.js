import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'data/', 'node_modules/', 'bench/results/', '.tmp/'] },
  js.configs.recommended,
  // The type-checked set without the strict one's style rules: with noUncheckedIndexedAccess, `!` after a checked
  // index is routine here, and no-non-null-assertion alone would flag it some hundred times.
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error'] }],
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test collects the promises of test() and describe() itself; awaiting them would serialise nothing.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // An AbortSignal's reason is typed any: rejecting with it is the abort idiom (signal.throwIfAborted does so).
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true }],
    },
  },
  // Plain JavaScript (this file, scripts/build-if-stale.mjs, the memory probes) is outside tsconfig: no type info.
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['scripts/**', 'bench/**', 'test/**'], rules: { 'no-console': 'off' } },
);
