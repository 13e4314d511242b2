/** Jest in ESM mode with ts-jest (see README: `npm test`). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 60000,
  maxWorkers: 2,
  // Agenda 6 leaves one timer per executed job after stop() (see ../shared/STACK-NOTES.md); every
  // suite closes its app, pool and servers in afterAll, so exiting at the end loses nothing.
  forceExit: true,
};
