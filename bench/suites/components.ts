/**
 * WASI 0.2 components (issue 5): the componentize-js hello component
 * (test/fixtures/components/hello-http.js, ~12 MB) served with a fresh instance per request, by
 * isola (its own wasi:http host, on the engine's workers) against `jco serve --isolate-requests
 * instance` (jco from npm, which componentize-js brings), both driven by autocannon at 10
 * connections and at 1. Goal: at least 50× jco's req/s, p50 ≤ 10 ms.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { importBuilt } from '../built.js';
import type { Measurer, Suite } from '../harness.js';
import { LOAD_METRICS, LOAD_SECONDS, LOAD_SECONDS_QUICK, loadMeasurement, loadTest } from '../load.js';

type AppModule = typeof import('../../src/app/index.js');
type DeployModule = typeof import('../../src/http/deploy.js');
type ServerModule = typeof import('../../src/http/server.js');
type RuntimeModule = typeof import('../../src/runtime/index.js');
type FixtureModule = typeof import('../../test/fixtures/components/build.js');

const ROOT = resolve(import.meta.dirname, '../..');
/** The jco that has `serve --isolate-requests` (isola's own jco dependency is an older one, for transpiling). */
const JCO = join(
  ROOT,
  'node_modules/@bytecodealliance/componentize-js/node_modules/@bytecodealliance/jco/dist/jco.js',
);

function component(dataDir: string): string {
  return join(dataDir, 'app', 'hello.wasm');
}

/** Builds the fixture and an app around it; deploys once so the transpiled component is cached. */
async function setup(dataDir: string): Promise<void> {
  const { componentFixture } = (await import('../../test/fixtures/components/build.js')) as FixtureModule;
  mkdirSync(join(dataDir, 'app'), { recursive: true });
  copyFileSync(await componentFixture('hello-http'), component(dataDir));
  writeFileSync(
    join(dataDir, 'app', 'isola.toml'),
    'manifest_version = 1\n[application]\nname = "hello-component"\n[[trigger.http]]\nroute = "/..."\ncomponent = "hello"\n' +
      '[component.hello]\nsource = "hello.wasm"\n',
  );
  const served = await serveIsola(dataDir);
  await served.close();
}

async function serveIsola(dataDir: string): Promise<{ origin: string; close(): Promise<void> }> {
  const { lockApp } = await importBuilt<AppModule>('app/index.js');
  const { deployApp } = await importBuilt<DeployModule>('http/deploy.js');
  const { IsolaServer } = await importBuilt<ServerModule>('http/server.js');
  const { Engine } = await importBuilt<RuntimeModule>('runtime/index.js');
  const engine = new Engine();
  const server = new IsolaServer({ engine, log: { access: () => {}, app: () => {} } });
  const locked = await lockApp(join(dataDir, 'app'));
  server.setApp((await deployApp(engine, locked, { cacheDir: join(dataDir, 'cache') })).http);
  const { port } = await server.listen(0);
  return {
    origin: `http://127.0.0.1:${port}`,
    close: async () => {
      await server.close();
      await engine.destroy();
    },
  };
}

/** isola serving the component, driven by autocannon at `connections`. */
function isolaAt(connections: number): Measurer {
  return {
    name: 'isola (fresh instance per request)',
    async measure({ quick, dataDir }) {
      const served = await serveIsola(dataDir);
      try {
        await loadTest(`${served.origin}/`, connections, 2);
        return loadMeasurement(
          await loadTest(`${served.origin}/`, connections, quick ? LOAD_SECONDS_QUICK : LOAD_SECONDS),
        );
      } finally {
        await served.close();
      }
    },
  };
}

/** `jco serve --isolate-requests instance` serving the component, driven by autocannon at `connections`. */
function jcoServeAt(connections: number): Measurer {
  return {
    name: 'jco serve --isolate-requests instance',
    async measure({ quick, dataDir }) {
      const port = await freePort();
      const child = spawn(
        process.execPath,
        [
          JCO,
          'serve',
          '--isolate-requests',
          'instance',
          '--port',
          String(port),
          '--host',
          '127.0.0.1',
          component(dataDir),
        ],
        { stdio: 'ignore' },
      );
      try {
        await untilServing(`http://127.0.0.1:${port}/`, child);
        const url = `http://127.0.0.1:${port}/`;
        await loadTest(url, connections, 2);
        return loadMeasurement(await loadTest(url, connections, quick ? LOAD_SECONDS_QUICK : LOAD_SECONDS));
      } finally {
        child.kill();
      }
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** Waits until `url` answers 200 (jco transpiles at start), or the child exits. */
async function untilServing(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`jco serve exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new Error('jco serve did not start within 120 s');
}

export const suite: Suite = {
  name: 'components',
  title: 'a componentize-js wasi:http component, a fresh instance per request',
  cases: [10, 1].map((connections) => ({
    kind: 'values' as const,
    name: `hello-c${connections}`,
    measurement: `autocannon, ${connections} connection${connections === 1 ? '' : 's'}, ${LOAD_SECONDS} s (${LOAD_SECONDS_QUICK} s quick) after 2 s of warm-up, GET /`,
    metrics: LOAD_METRICS,
    maxSeconds: 180,
    setup,
    baseline: jcoServeAt(connections),
    contenders: [isolaAt(connections)],
  })),
};
