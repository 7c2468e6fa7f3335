/**
 * Scripts served by isola's runtimes (issue 6): a hello endpoint per runtime, an app of scripts
 * (bench/apps/NAME) served as `isola up DIR` serves it, a fresh instance per request, driven by
 * autocannon one request at a time (the latency of a request) and at 10 connections (req/s; the
 * latency then includes waiting for one of the two workers), next to a bare `node:http` server
 * returning the same bytes. Goals: p50 ≤ 20 ms for Python, ≤ 30 ms for Ruby, ≤ 10 ms for
 * JavaScript.
 *
 * `python-snapshot` shows what pre-initialization buys: the same script, one request at a time,
 * from the prepared snapshot against plain python.wasm (CPython's whole start-up per request).
 *
 * Runtimes are prepared (snapshotted) in `setup`, into the case's data directory, so a
 * measurement serves an app whose runtime is already prepared, as a redeploy of it would.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { importBuilt } from '../built.js';
import type { Measurer, Suite, ValueCase } from '../harness.js';
import {
  bareServer,
  LOAD_METRICS,
  LOAD_SECONDS,
  LOAD_SECONDS_QUICK,
  loadMeasurement,
  loadTest,
} from '../load.js';

type AppModule = typeof import('../../src/app/index.js');
type DeployModule = typeof import('../../src/http/deploy.js');
type ServerModule = typeof import('../../src/http/server.js');
type RuntimeModule = typeof import('../../src/runtime/index.js');
type RegistryModule = typeof import('../../src/runtimes/registry.js');

const ROOT = resolve(import.meta.dirname, '../..');
const APPS = join(ROOT, 'bench/apps');

interface Runtime {
  name: string;
  script: string;
  query: string;
  /** What the script answers for `query`; the bare server sends the same. */
  body: string;
}

const RUNTIMES: readonly Runtime[] = [
  { name: 'python', script: 'hello.py', query: 'bench', body: 'Hello from Python, bench!\n' },
  { name: 'ruby', script: 'hello.rb', query: 'bench', body: 'Hello from Ruby, bench!\n' },
  { name: 'javascript', script: 'hello.js', query: 'bench', body: 'Hello from JavaScript, bench!\n' },
];

/** Serves `manifestPath` (an isola.toml, or `DIR/(scripts)`) with isola's server in this process. */
async function serveApp(
  manifestPath: string,
  cacheDir: string,
): Promise<{ origin: string; close(): Promise<void> }> {
  const { lockManifest, scriptsManifest, SCRIPTS_MANIFEST } = await importBuilt<AppModule>('app/index.js');
  const { lockApp } = await importBuilt<AppModule>('app/index.js');
  const { deployApp } = await importBuilt<DeployModule>('http/deploy.js');
  const { IsolaServer } = await importBuilt<ServerModule>('http/server.js');
  const { Engine } = await importBuilt<RuntimeModule>('runtime/index.js');
  let locked: Awaited<ReturnType<typeof lockApp>>;
  if (manifestPath.endsWith(SCRIPTS_MANIFEST)) {
    const manifest = await scriptsManifest(resolve(manifestPath, '..'));
    if (manifest === undefined) throw new Error(`${manifestPath} holds no scripts`);
    locked = await lockManifest(manifest, manifestPath);
  } else {
    locked = await lockApp(manifestPath);
  }
  const engine = new Engine();
  const server = new IsolaServer({ engine, log: { access: () => {}, app: () => {} } });
  server.setApp((await deployApp(engine, locked, { cacheDir })).http);
  const { port } = await server.listen(0);
  return {
    origin: `http://127.0.0.1:${port}`,
    close: async () => {
      await server.close();
      await engine.destroy();
    },
  };
}

function served(name: string, manifestPath: string, path: string, connections: number): Measurer {
  return {
    name,
    async measure({ quick, dataDir }) {
      const app = await serveApp(manifestPath, join(dataDir, 'cache'));
      try {
        // Warm-up: every worker compiles the interpreter's code lazily on its first request.
        await loadTest(`${app.origin}${path}`, connections, 2);
        return loadMeasurement(
          await loadTest(`${app.origin}${path}`, connections, quick ? LOAD_SECONDS_QUICK : LOAD_SECONDS),
        );
      } finally {
        await app.close();
      }
    },
  };
}

function scriptsPath(runtime: Runtime): string {
  return join(APPS, runtime.name, '(scripts)');
}

/** Prepares the runtime for the app into the case's cache, so measurements start from it. */
function prepare(runtime: Runtime): (dataDir: string) => Promise<void> {
  return async (dataDir) => {
    const app = await serveApp(scriptsPath(runtime), join(dataDir, 'cache'));
    await app.close();
  };
}

function helloCase(runtime: Runtime, connections: number): ValueCase {
  const path = `/${runtime.script.replace(/\.[a-z]+$/, '')}?${runtime.query}`;
  return {
    kind: 'values',
    name: `${runtime.name}-hello-c${connections}`,
    measurement: `autocannon, ${connections} connection${connections === 1 ? '' : 's'}, ${LOAD_SECONDS} s (${LOAD_SECONDS_QUICK} s quick) after 2 s of warm-up, GET ${path}`,
    metrics: LOAD_METRICS,
    maxSeconds: 120,
    setup: prepare(runtime),
    baseline: bareServer(runtime.body, connections),
    contenders: [
      served(
        `isola, runtime = "${runtime.name}" (prepared at deploy, fresh instance per request)`,
        scriptsPath(runtime),
        path,
        connections,
      ),
    ],
  };
}

/** An isola.toml serving hello.py with plain python.wasm: CPython's whole start-up per request. */
async function plainPythonManifest(dataDir: string): Promise<string> {
  const { scriptRuntime } = await importBuilt<RegistryModule>('runtimes/registry.js');
  const dir = join(dataDir, 'plain-python');
  mkdirSync(dir, { recursive: true });
  const manifest = join(dir, 'isola.toml');
  writeFileSync(
    manifest,
    [
      'manifest_version = 1',
      '[application]',
      'name = "plain-python"',
      '[[trigger.http]]',
      'route = "/..."',
      'component = "python"',
      'executor = { type = "wagi", argv = "python /app/hello.py" }',
      '[component.python]',
      `source = ${JSON.stringify(scriptRuntime('python').modulePath())}`,
      `files = [{ source = ${JSON.stringify(join(APPS, 'python'))}, destination = "/app" }]`,
      '[component.python.limits]',
      'timeout_ms = 10000',
      'memory_limit_mb = 256',
      '',
    ].join('\n'),
  );
  return manifest;
}

const pythonSnapshot: ValueCase = {
  kind: 'values',
  name: 'python-snapshot',
  measurement: `autocannon, 1 connection, ${LOAD_SECONDS} s (${LOAD_SECONDS_QUICK} s quick) after 2 s of warm-up, GET /hello?bench`,
  metrics: LOAD_METRICS,
  maxSeconds: 60,
  setup: async (dataDir) => {
    await prepare(RUNTIMES[0] as Runtime)(dataDir);
    await plainPythonManifest(dataDir);
  },
  baseline: {
    name: 'plain python.wasm per request (no pre-initialization)',
    async measure(context) {
      const manifest = join(context.dataDir, 'plain-python', 'isola.toml');
      return served('plain', manifest, '/hello?bench', 1).measure(context);
    },
  },
  contenders: [
    served('isola, runtime = "python" (snapshot)', scriptsPath(RUNTIMES[0] as Runtime), '/hello?bench', 1),
  ],
};

export const suite: Suite = {
  name: 'runtimes',
  title: 'scripts served by isola runtimes, a fresh instance per request',
  cases: [...RUNTIMES.flatMap((runtime) => [helloCase(runtime, 1), helloCase(runtime, 10)]), pythonSnapshot],
};
