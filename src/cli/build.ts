/**
 * `isola build [DIR|MANIFEST]`: runs each component's `build` commands (in the component's
 * `workdir`, with an `isola` first on PATH: src/cli/build-app.ts), then locks the app to check
 * that it would deploy (every source and file there, routes and grants valid), and prints what it
 * built. Nothing is served and nothing is written but what the build commands write.
 */
import { relative } from 'node:path';
import type { Command } from 'commander';
import { isIsolaError } from '../errors.js';
import { buildAndLock, findApp } from './build-app.js';
import { RUN_EXIT_CODES, type RunOutput, usageErrorWriter } from './run.js';

const HELP_AFTER = `
A component's build is a table in the manifest; \`isola\` in a command is this isola:

  [component.api.build]
  command = "isola componentize src/index.js -o api.wasm"   # or a list of commands
  workdir = "."                                             # relative to the manifest
  watch = ["src/**/*.js"]                                   # what \`isola up --watch\` rebuilds on

Exit status:
  0     every build ran and the app locks
  1     a build command failed, or the manifest or the app is invalid
  2     bad command line
  70    internal error in isola`;

export function defineBuildCommand(program: Command, output: RunOutput, done: (code: number) => void): void {
  program
    .command('build')
    .description("run an app's build commands (isola.toml or spin.toml) and check that it locks")
    .argument('[app]', 'the app directory or its manifest file', '.')
    .configureOutput({ outputError: usageErrorWriter('isola build --help') })
    .addHelpText('after', HELP_AFTER)
    .action(async (app: string) => {
      done(await build(app, output));
    });
}

async function build(appPath: string, output: RunOutput): Promise<number> {
  try {
    const { locked, built } = await buildAndLock(await findApp(appPath), undefined);
    const lines: string[] = [];
    for (const name of built) {
      const component = locked.components.find((candidate) => candidate.name === name);
      if (component === undefined) continue;
      const path = relative(process.cwd(), component.source.path) || component.source.path;
      lines.push(`isola: built ${name}: ${path} (${formatBytes(component.source.byteLength)})`);
    }
    const { name } = locked.application;
    const counts = `${plural(locked.components.length, 'component')}, ${plural(locked.routes.length, 'route')}`;
    lines.push(
      built.length === 0
        ? `isola: ${name} has no build commands; it locks (${counts})`
        : `isola: ${name} is built and locks (${counts})`,
    );
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (error) {
    if (!isIsolaError(error)) {
      output.error(
        `isola: internal error: ${error instanceof Error ? (error.stack ?? error.message) : error}`,
      );
      return RUN_EXIT_CODES.INTERNAL;
    }
    output.error(`isola: ${error.message}`);
    return error.code === 'E_INTERNAL' ? RUN_EXIT_CODES.INTERNAL : RUN_EXIT_CODES.FAILURE;
  }
}

/** `12798297` → `12.8 MB`, `40960` → `41.0 kB` (decimal units, as `ls -h --si` prints them). */
export function formatBytes(bytes: number): string {
  if (bytes < 1_000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${(bytes / 1_000).toFixed(1)} kB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
