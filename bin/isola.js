#!/usr/bin/env node
// The `isola` command. dist/ is built by `npm ci` (the `prepare` script) or `npm run build`.
import { main } from '../dist/cli/main.js';

// `isola --help | head`: a reader that goes away is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`isola: internal error: ${error?.stack ?? error}`);
    process.exitCode = 70;
  },
);
