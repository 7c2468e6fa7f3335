/**
 * `isola componentize SOURCE.js [-o OUT.wasm]`: builds a JavaScript handler into a WASI 0.2
 * component exporting `wasi:http/incoming-handler`, with componentize-js
 * (src/component/componentize.ts), ready for a manifest's `source` or `isola up`. Every failure
 * is `isola: <what is wrong>: <what to do>` (a syntax error adds the line it is on).
 */
import { relative } from 'node:path';
import type { Command } from 'commander';
import { componentizeJavaScript } from '../component/componentize.js';
import { isIsolaError } from '../errors.js';
import { formatBytes } from './build.js';
import { RUN_EXIT_CODES, type RunOutput, usageErrorWriter } from './run.js';

const HELP_AFTER = `
SOURCE is an ES module that answers HTTP requests with StarlingMonkey's fetch-event API:

  addEventListener('fetch', (event) => event.respondWith(new Response('hello')));

It may import modules by relative path and the wasi: interfaces isola provides, e.g.
  import { getDirectories } from 'wasi:filesystem/preopens@0.2.10';

Exit status:
  0     the component was written
  1     the source could not be built (a syntax error, an exception at start-up, an
        import isola does not provide, a missing file)
  2     bad command line
  70    internal error in isola

Examples:
  isola componentize src/index.js -o app.wasm
  isola componentize handler.js            # writes handler.wasm`;

interface ComponentizeCommandOptions {
  output?: string;
}

export function defineComponentizeCommand(
  program: Command,
  output: RunOutput,
  done: (code: number) => void,
): void {
  program
    .command('componentize')
    .description('build a JavaScript handler into a wasi:http component (componentize-js)')
    .argument('<source>', 'the JavaScript module that handles fetch events')
    .option('-o, --output <FILE>', 'where to write the component (default: SOURCE with .wasm)')
    .configureOutput({ outputError: usageErrorWriter('isola componentize --help') })
    .addHelpText('after', HELP_AFTER)
    .action(async (source: string, options: ComponentizeCommandOptions) => {
      done(await componentize(source, options, output));
    });
}

async function componentize(
  sourcePath: string,
  options: ComponentizeCommandOptions,
  output: RunOutput,
): Promise<number> {
  const started = performance.now();
  try {
    const result = await componentizeJavaScript({
      sourcePath,
      ...(options.output === undefined ? {} : { outPath: options.output }),
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const outPath = relative(process.cwd(), result.outPath) || result.outPath;
    process.stdout.write(
      `isola: ${sourcePath} → ${outPath} (${formatBytes(result.byteLength)} in ${seconds} s), ` +
        `exporting ${result.export}\n`,
    );
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
