/**
 * Five projects, one command. `unit` needs nothing running; `int` starts the real
 * Firestore and Pub/Sub emulators once (globalSetup) and runs the production
 * adapters against them; `e2e` brings the whole stack up and drives it with ffctl;
 * `kube` runs against a real API server; `chaos` breaks a running stack on purpose.
 */
const ts = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.base.json', diagnostics: false }],
  // @kubernetes/client-node 2.x and a few of its dependencies ship only ES modules; Node 22
  // require()s them, Jest 29's module system cannot, so they are transpiled to CommonJS here.
  // esModuleInterop: they default-import node: built-ins (`import child_process from 'node:child_process'`).
  '^.+\\.js$': [
    'ts-jest',
    { tsconfig: { allowJs: true, module: 'commonjs', target: 'es2022', esModuleInterop: true }, diagnostics: false },
  ],
};
const ESM_ONLY = [
  '@kubernetes/client-node',
  'openid-client',
  'oauth4webapi',
  'jose',
  'jsonpath-plus',
  'rfc4648',
  'socks-proxy-agent',
  'agent-base',
  'jsep',
  '@jsep-plugin',
  // @google-cloud/storage's HTTP clients (teeny-request; gaxios, also nested under it) are
  // CommonJS that import() the ESM-only node-fetch 3, which Jest cannot do without
  // --experimental-vm-modules; transpiled, import() becomes require().
  'teeny-request',
  'gaxios',
  'node-fetch',
  'fetch-blob',
  'formdata-polyfill',
  'data-uri-to-buffer',
];
// Ignored: files whose innermost node_modules package is not listed (so nested copies of listed ones are transpiled too).
const transformIgnorePatterns = [`/node_modules/(?!(?:${ESM_ONLY.join('|')})/)(?!.*/node_modules/)`];
const moduleNameMapper = {
  '^@fleetforge/functions/adapters$': '<rootDir>/functions/src/adapters/index.ts',
  '^@fleetforge/functions/testing$': '<rootDir>/functions/src/testing/index.ts',
  '^@fleetforge/shared/testing$': '<rootDir>/shared/src/testing/index.ts',
  '^@fleetforge/(shared|functions|agent|emulators|scripts)$': '<rootDir>/$1/src/index.ts',
};
const roots = [
  '<rootDir>/shared/src',
  '<rootDir>/functions/src',
  '<rootDir>/agent/src',
  '<rootDir>/emulators/src',
  '<rootDir>/scripts/src',
];
const base = {
  transform: ts,
  transformIgnorePatterns,
  moduleNameMapper,
  roots,
  testEnvironment: 'node',
  setupFiles: ['<rootDir>/scripts/jest-symbol-dispose.js'],
};

module.exports = {
  // Tests that spawn processes, talk HTTP or call an emulator take seconds apiece on a loaded
  // 2-core machine; Jest's 5 s default turned load into failures. Timings are benchmarks, not tests.
  testTimeout: 30_000,
  reporters: ['default', '<rootDir>/scripts/jest-summary-reporter.js'],
  projects: [
    {
      ...base,
      displayName: 'unit',
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: [
        '\\.int\\.test\\.ts$',
        '\\.e2e\\.test\\.ts$',
        '\\.kube\\.test\\.ts$',
        '\\.chaos\\.test\\.ts$',
      ],
    },
    {
      ...base,
      displayName: 'int',
      testMatch: ['**/*.int.test.ts'],
      globalSetup: '<rootDir>/scripts/src/test/emulators.global-setup.ts',
      globalTeardown: '<rootDir>/scripts/src/test/emulators.global-teardown.ts',
    },
    {
      // Against a real kube-apiserver, scheduler and controller manager (scripts/kube/build.sh builds them).
      ...base,
      displayName: 'kube',
      testMatch: ['**/*.kube.test.ts'],
      globalSetup: '<rootDir>/scripts/src/test/kube.global-setup.ts',
      globalTeardown: '<rootDir>/scripts/src/test/kube.global-teardown.ts',
    },
    {
      ...base,
      displayName: 'e2e',
      testMatch: ['**/*.e2e.test.ts'],
      setupFiles: [...base.setupFiles, '<rootDir>/scripts/jest-check-snapshots.js'],
    },
    {
      // Faults on a running stack (npm run chaos): pauses, kills, duplicated and late messages.
      ...base,
      displayName: 'chaos',
      testMatch: ['**/*.chaos.test.ts'],
      setupFiles: [...base.setupFiles, '<rootDir>/scripts/jest-check-snapshots.js'],
    },
  ],
};
