/**
 * isola serving HTTP (issue 4) against a bare `node:http` server returning the same bytes, each
 * driven by autocannon (npm) from a separate process for a fixed time on 127.0.0.1.
 *
 * - `hello-c10`, `hello-c50`: examples/hello (C, CGI, a fresh instance per request, reading a
 *   bundled file) served by isola's server in the contender's process, with 10 and 50
 *   connections. Goal: at least 0.5x the bare server's req/s, p99 <= 10 ms at 50 connections.
 * - `hello-beside-loop`: the same hello at 10 connections while another app on the same server
 *   loops into its 100 ms deadline over and over (baseline: no looping app). Goal: p99 within 2x.
 *
 * Throughput is reported as time per request (1 / req/s), so that lower is better everywhere.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { INFINITE_LOOP } from '../../test/support/guests.js';
import { wat } from '../../test/support/wat.js';
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

const ROOT = resolve(import.meta.dirname, '../..');
const HELLO_DIR = join(ROOT, 'examples/hello');
const PATH = '/hello/world';
/** What examples/hello answers for PATH; the bare server sends the same bytes. */
const HELLO_BODY =
  'Hello from hello.wasm, running in a fresh WebAssembly sandbox for this request.\n' +
  'You asked for /world\n' +
  '/static/motd.txt: Only the files an app bundles (files = [...] in isola.toml) exist for it.\n' +
  '/etc/passwd is not visible: only granted files are\n';

interface Served {
  origin: string;
  close(): Promise<void>;
}

/** isola's server in this process, serving examples/hello (and, with `loop`, a looping app under /loop). */
async function serveHello(loop: boolean): Promise<Served> {
  const { lockApp } = await importBuilt<AppModule>('app/index.js');
  const { deployApp } = await importBuilt<DeployModule>('http/deploy.js');
  const { IsolaServer } = await importBuilt<ServerModule>('http/server.js');
  const { Engine } = await importBuilt<RuntimeModule>('runtime/index.js');
  const engine = new Engine();
  const server = new IsolaServer({ engine, log: { access: () => {}, app: () => {} } });
  const hello = await deployApp(engine, await lockApp(join(HELLO_DIR, 'isola.toml')));
  server.setApp(hello.http);
  if (loop) {
    const module = await engine.load(await wat(INFINITE_LOOP));
    server.setApp({
      name: 'loop',
      prefix: '/loop',
      routes: [{ pattern: '/...', component: 'loop' }],
      components: new Map([['loop', { module, env: [], dirs: [], limits: { timeoutMs: 100 } }]]),
    });
  }
  const { port } = await server.listen(0);
  return {
    origin: `http://127.0.0.1:${port}`,
    close: async () => {
      await server.close();
      await engine.destroy();
    },
  };
}

function isolaHello(
  connections: number,
  name = 'isola up (examples/hello, fresh instance per request)',
): Measurer {
  return {
    name,
    async measure({ quick }) {
      const served = await serveHello(false);
      try {
        await loadTest(`${served.origin}${PATH}`, connections, 1);
        return loadMeasurement(
          await loadTest(`${served.origin}${PATH}`, connections, quick ? LOAD_SECONDS_QUICK : LOAD_SECONDS),
        );
      } finally {
        await served.close();
      }
    },
  };
}

/** Hello under load while a second client keeps requesting the looping app (2 connections, each hitting its deadline). */
const helloBesideLoop: Measurer = {
  name: 'isola, an app looping into its deadline beside it',
  async measure({ quick }) {
    const served = await serveHello(true);
    const looper = spawn(
      process.execPath,
      [
        join(ROOT, 'node_modules/autocannon/autocannon.js'),
        '--connections',
        '2',
        '--duration',
        '60',
        `${served.origin}/loop/`,
      ],
      { stdio: 'ignore' },
    );
    try {
      await loadTest(`${served.origin}${PATH}`, 10, 1);
      return loadMeasurement(
        await loadTest(`${served.origin}${PATH}`, 10, quick ? LOAD_SECONDS_QUICK : LOAD_SECONDS),
      );
    } finally {
      looper.kill();
      await served.close();
    }
  },
};

function helloCase(connections: number): ValueCase {
  return {
    kind: 'values',
    name: `hello-c${connections}`,
    measurement: `autocannon, ${connections} connections, ${LOAD_SECONDS} s (${LOAD_SECONDS_QUICK} s quick) after 1 s of warm-up, GET ${PATH}`,
    metrics: LOAD_METRICS,
    maxSeconds: 30,
    setup: buildHello,
    baseline: bareServer(HELLO_BODY, connections, PATH),
    contenders: [isolaHello(connections)],
  };
}

/** Builds examples/hello/hello.wasm with the command its isola.toml names. */
async function buildHello(): Promise<void> {
  const manifest = readFileSync(join(HELLO_DIR, 'isola.toml'), 'utf8');
  const command = /command = "([^"]+)"/.exec(manifest)?.[1];
  if (command === undefined) throw new Error('examples/hello/isola.toml has no build command');
  await promisify(execFile)('sh', ['-c', command], { cwd: HELLO_DIR });
}

export const suite: Suite = {
  name: 'http',
  title: 'isola serving HTTP against a bare node:http server',
  cases: [
    helloCase(10),
    helloCase(50),
    {
      kind: 'values',
      name: 'hello-beside-loop',
      measurement: `hello at 10 connections for ${LOAD_SECONDS} s while another app on the same server loops into its 100 ms deadline`,
      metrics: LOAD_METRICS,
      maxSeconds: 30,
      setup: buildHello,
      baseline: isolaHello(10, 'isola, nothing else running'),
      contenders: [helloBesideLoop],
    },
  ],
};
