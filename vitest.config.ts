import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Crash and stream tests start child processes and move real bytes.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The AWS SDK's notice that its releases after the first week of January 2027
    // need Node 22 (README, Backends): a user of the S3 backend on Node 20 sees it
    // once per process, a test run would print it once per worker. This is the
    // SDK's own switch; it silences that notice and nothing else.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
