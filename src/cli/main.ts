/**
 * The `isola` command line: argv in, exit code out. `main` never calls `process.exit` (the
 * launcher in bin/ sets the exit code), so it can be called from tests and embedders; a fresh
 * commander program is built per call, so nothing is shared between calls.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { defineBuildCommand } from './build.js';
import { defineComponentizeCommand } from './componentize.js';
import { defineRunCommand, RUN_EXIT_CODES, type RunOutput, usageErrorWriter } from './run.js';
import { defineUpCommand } from './up.js';

/** Runs the `isola` command line with `argv` (the arguments after `isola`); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const output: RunOutput = { error: (line) => process.stderr.write(`${line}\n`) };
  let exitCode = 0;
  const program = new Command('isola')
    .description(
      'isola: a serverless WebAssembly platform; runs untrusted Wasm with explicit grants and limits',
    )
    .version(packageVersion(), '-V, --version')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: usageErrorWriter('isola --help') });
  const done = (code: number) => {
    exitCode = code;
  };
  defineRunCommand(program, output, done);
  defineUpCommand(program, output, done);
  defineBuildCommand(program, output, done);
  defineComponentizeCommand(program, output, done);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : RUN_EXIT_CODES.USAGE;
    throw error;
  }
  return exitCode;
}

/** The version in package.json, two folders up from both src/cli and dist/cli. */
function packageVersion(): string {
  const path = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}
