#!/usr/bin/env node
// The `gatelog` CLI: ensures the toolchain (see scripts/bootstrap.mjs), then runs src/cli.ts
// under Node 24. `npx gatelog start`, `npx gatelog keys create …`.
import { main } from '../scripts/bootstrap.mjs';

process.argv.splice(2, 0, 'cli');
main();
