import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The Unicorn engine and bpf() wrappers hold native handles: run files in forked processes.
    pool: 'forks',
  },
});
