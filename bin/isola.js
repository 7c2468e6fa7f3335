#!/usr/bin/env node
// The `isola` command. dist/ is built by `npm ci` (the `prepare` script) or `npm run build`.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`isola: internal error: ${error?.stack ?? error}`);
    process.exitCode = 70;
  },
);
