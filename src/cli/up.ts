/**
 * `isola up [DIR|MANIFEST] [--listen ADDR:PORT] [--watch]`: builds the app (its components'
 * `build` commands), locks it, deploys it on a fresh engine and serves it until SIGINT or SIGTERM,
 * which stop accepting, let in-flight requests finish within a bound, and exit 0. A directory
 * without a manifest is served as an app of scripts (src/app/scripts.ts) if it holds any.
 *
 * With `--watch`, a change under the app's directory rebuilds (when the change is one of a
 * component's `build.watch` inputs, or any non-output file when it names none), locks and deploys
 * again, and swaps the new version in: in-flight requests finish on the old one, and a version
 * that fails to build, lock or load is reported while the old one keeps serving.
 *
 * The access log goes to stdout, one JSON object per line, or a short line per request when
 * stdout is a terminal; apps' stderr goes to stderr, each line tagged with its request id.
 */
import { type FSWatcher, watch } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { LockedApp } from '../app/index.js';
import { IsolaError, isIsolaError } from '../errors.js';
import { type DeployedApp, deployApp, undeployApp } from '../http/deploy.js';
import { type AccessLogEntry, IsolaServer, type ServerLog } from '../http/server.js';
import { createStore, type KeyValueConfig, type KeyValueStore } from '../kv/index.js';
import { Engine } from '../runtime/index.js';
import { parseVariableAssignment, readVariablesFile, type VariableSources } from '../variables/index.js';
import { buildAndLock, findApp } from './build-app.js';
import { RUN_EXIT_CODES, type RunOutput, usageErrorWriter } from './run.js';

export const DEFAULT_LISTEN = '127.0.0.1:3000';
/** Changes closer together than this are one reload. */
const WATCH_DEBOUNCE_MS = 150;

interface UpOptions {
  listen: string;
  watch?: boolean;
  variable: string[];
  variablesFile?: string;
  keyValue?: string;
}

export function defineUpCommand(program: Command, output: RunOutput, done: (code: number) => void): void {
  program
    .command('up')
    .description('build, lock and serve an app (isola.toml or spin.toml) over HTTP')
    .argument('[app]', 'the app directory or its manifest file', '.')
    .option('--listen <ADDR:PORT>', 'where to listen', DEFAULT_LISTEN)
    .option('--watch', 'rebuild and swap the app in when its files change, without a restart')
    .option(
      '--variable <NAME=VALUE>',
      "an app variable's value (repeatable); before --variables-file and ISOLA_VARIABLE_NAME",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--variables-file <FILE>', 'app variable values, a TOML table of name = "value"')
    .option(
      '--key-value <STORE>',
      "where the app's key-value stores live: a SQLite file, or redis://HOST:PORT (default: APP_DIR/.isola/kv.sqlite)",
    )
    .configureOutput({ outputError: usageErrorWriter('isola up --help') })
    .action(async (app: string, options: UpOptions) => {
      done(await up(app, options, output));
    });
}

async function up(appPath: string, options: UpOptions, output: RunOutput): Promise<number> {
  const listen = parseListen(options.listen);
  if (listen === undefined) {
    output.error(
      `isola: --listen ${options.listen} is not ADDR:PORT: use e.g. 127.0.0.1:3000 or 0.0.0.0:8080`,
    );
    return RUN_EXIT_CODES.USAGE;
  }
  let variables: VariableSources;
  try {
    variables = {
      values: Object.fromEntries(options.variable.map(parseVariableAssignment)),
      ...(options.variablesFile === undefined
        ? {}
        : { file: await readVariablesFile(options.variablesFile) }),
      env: process.env,
    };
  } catch (error) {
    output.error(`isola: ${messageOf(error)}`);
    return RUN_EXIT_CODES.USAGE;
  }
  const logLines = new LineBatch(process.stdout);
  const appLines = new LineBatch(process.stderr);
  let engine: Engine | undefined;
  let server: IsolaServer | undefined;
  let store: KeyValueStore | undefined;
  let current: DeployedApp | undefined;
  try {
    const manifestPath = await findApp(appPath);
    const built = await buildAndLock(manifestPath, undefined);
    // The store is opened only for an app granted one, so other apps' directories stay clean.
    if (built.locked.components.some((component) => component.keyValueStores.length > 0)) {
      store = await createStore(keyValueConfig(options.keyValue, dirname(resolve(manifestPath))));
    }
    const live = new Engine(store === undefined ? {} : { keyValue: await store.workerConnector() });
    engine = live;
    const liveServer = new IsolaServer({ engine: live, log: consoleLog(logLines, appLines) });
    server = liveServer;
    announceRuntimes(built.locked);
    current = await deployApp(live, built.locked, { variables });
    liveServer.setApp(current.http);
    const address = await liveServer
      .listen(listen.port, listen.host)
      .catch((error: NodeJS.ErrnoException) => {
        throw listenError(error, listen);
      });
    printRoutes(built.locked, `http://${address.address}:${address.port}`);
    const watcher = options.watch
      ? watchApp(manifestPath, async (changed) => {
          try {
            const next = await buildAndLock(manifestPath, changed);
            if (current !== undefined && sameApp(next.locked, current)) return;
            const deployed = await deployApp(live, next.locked, { variables });
            liveServer.setApp(deployed.http);
            const previous = current;
            current = deployed;
            if (previous !== undefined) undeployApp(live, previous);
            process.stdout.write(`isola: reloaded ${next.locked.application.name}\n`);
          } catch (error) {
            output.error(`isola: reload failed, still serving the previous version: ${messageOf(error)}`);
          }
        })
      : undefined;
    await untilSignal();
    watcher?.close();
    await server.close();
    await engine.close();
    await store?.close();
    logLines.flush();
    appLines.flush();
    return 0;
  } catch (error) {
    output.error(`isola: ${messageOf(error)}`);
    await server?.close();
    await engine?.destroy();
    await store?.close().catch(() => undefined);
    logLines.flush();
    appLines.flush();
    return isIsolaError(error, 'E_INTERNAL') || !isIsolaError(error)
      ? RUN_EXIT_CODES.INTERNAL
      : RUN_EXIT_CODES.FAILURE;
  }
}

function sameApp(locked: LockedApp, deployed: DeployedApp): boolean {
  return deployed.lockedJson === JSON.stringify(locked);
}

/** Watches the app's directory; calls `reload` with the changed files, debounced, one reload at a time. */
function watchApp(manifestPath: string, reload: (changed: ReadonlySet<string>) => Promise<void>): FSWatcher {
  const root = dirname(resolve(manifestPath));
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const watcher = watch(root, { recursive: true }, (_event, file) => {
    if (file === null || /(^|\/)(node_modules|\.git)(\/|$)/.test(file)) return;
    pending.add(resolve(root, file));
    clearTimeout(timer);
    timer = setTimeout(() => {
      const changed = pending;
      pending = new Set();
      running = running.then(() => reload(changed));
    }, WATCH_DEBOUNCE_MS);
  });
  return watcher;
}

function untilSignal(): Promise<void> {
  return new Promise((resolvePromise) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolvePromise();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** Preparing a runtime for an app takes seconds the first time (later ones are cached): say so. */
function announceRuntimes(locked: LockedApp): void {
  const names = [...new Set(locked.components.flatMap((component) => component.runtime?.name ?? []))];
  if (names.length === 0) return;
  process.stdout.write(
    `isola: preparing ${names.join(', ')} for ${locked.application.name} (the first time takes up to a minute; then it is cached)\n`,
  );
}

function printRoutes(locked: LockedApp, origin: string): void {
  const lines = [`isola: serving ${locked.application.name} on ${origin}`];
  for (const route of locked.routes) lines.push(`  ${origin}${route.route}  →  ${route.component}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function consoleLog(stdout: LineBatch, stderr: LineBatch): ServerLog {
  const pretty = process.stdout.isTTY === true;
  return {
    access: (entry: AccessLogEntry) => {
      if (!pretty) {
        stdout.write(`${JSON.stringify(entry)}\n`);
        return;
      }
      const reason = entry.reason ? `  (${entry.reason})` : '';
      stdout.write(
        `${entry.method} ${entry.path} ${entry.status} ${entry.ms.toFixed(1)}ms ${entry.requestId}${reason}\n`,
      );
    },
    app: (app, component, requestId, line) => stderr.write(`[${app}/${component} ${requestId}] ${line}\n`),
  };
}

/**
 * Log lines written once per turn of the event loop: a write to a pipe or file is a system call
 * (synchronous on Linux), and one per request cost more than serving a small request. `flush()`
 * writes what is pending at once (before exiting).
 */
class LineBatch {
  readonly #stream: NodeJS.WriteStream;
  #pending: string[] = [];
  #scheduled = false;

  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream;
  }

  write(line: string): void {
    this.#pending.push(line);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const text = this.#pending.join('');
    this.#pending = [];
    this.#stream.write(text);
  }
}

function parseListen(listen: string): { host: string; port: number } | undefined {
  const match = /^(.+):(\d+)$/.exec(listen);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port > 65_535) return undefined;
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}

function listenError(error: NodeJS.ErrnoException, listen: { host: string; port: number }): IsolaError {
  const where = `${listen.host}:${listen.port}`;
  const why =
    error.code === 'EADDRINUSE'
      ? `port ${listen.port} is in use: stop what uses it or choose another with --listen ${listen.host}:PORT`
      : error.code === 'EACCES'
        ? `permission denied: choose a port above 1023 with --listen ${listen.host}:PORT`
        : `${error.message}: check the address`;
  return new IsolaError('E_LISTEN_FAILED', `cannot listen on ${where}: ${why}`, { code: error.code });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `--key-value`: a Redis URL, or a SQLite file; by default `.isola/kv.sqlite` in the app's directory. */
function keyValueConfig(option: string | undefined, appDir: string): KeyValueConfig {
  if (option !== undefined && /^rediss?:\/\//.test(option)) return { backend: 'redis', url: option };
  return { backend: 'sqlite', path: resolve(option ?? join(appDir, '.isola', 'kv.sqlite')) };
}
