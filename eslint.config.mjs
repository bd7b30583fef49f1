// @ts-check
import eslint from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** SDKs and node: modules stay out of shared/: its engines are pure (time and inputs come in as arguments). */
const sharedBoundary = {
  patterns: [
    { group: ['node:*'], message: 'shared/ is pure: no node: modules (pass what you need in).' },
    {
      group: ['@google-cloud/*', '@kubernetes/*', 'firebase-admin'],
      message: 'shared/ imports no SDK; write an adapter behind a port.',
    },
    { group: ['pino', 'prom-client', 'express'], message: 'shared/ does no I/O; log and measure in the adapters.' },
    { group: ['@fleetforge/*'], message: 'shared/ is the bottom of the package graph.' },
  ],
};

/** The HTTP API reads and writes through store/ and triggers use-cases in usecases/; it never reaches into the message handlers. */
const apiBoundary = {
  patterns: [
    {
      group: ['**/handlers', '**/handlers/*'],
      message:
        'api/ does not import handlers/: read and write through ../store/*, trigger shared use-cases through ../usecases/*.',
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      'node_modules/**',
      'coverage/**',
      '.fleetforge/**',
      'bench-results/**',
      'jest.config.js',
      'scripts/bin/**',
      'scripts/jest-summary-reporter.js',
      'scripts/jest-symbol-dispose.js',
      'scripts/jest-check-snapshots.js',
      '.scratch/**',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
    },
  },
  {
    files: ['shared/src/**/*.ts'],
    ignores: ['shared/src/**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', sharedBoundary] },
  },
  {
    files: ['functions/src/api/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', apiBoundary] },
  },
  {
    files: ['**/*.test.ts', '**/testing/**/*.ts', 'scripts/src/e2e/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  // The dashboard page: plain browser JavaScript, served as is (no build step).
  {
    files: ['scripts/static/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'module',
      globals: globals.browser,
    },
  },
);
