// Jest runs in its native ESM mode (npm test passes --experimental-vm-modules), so the
// ESM-only packages (listr2, @inquirer/prompts, zx) load as they do under tsx; swc only
// strips types and keeps `import`/`export` and `import.meta` as they are.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/cdktf.out/'],
  // End-to-end suites boot real machines; they own their cleanup and run one at a time.
  maxWorkers: 2,
  testTimeout: 60_000,
};
