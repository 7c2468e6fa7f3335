/**
 * isola's execution engine (`src/runtime/engine.ts`) against running the same guests without it,
 * for issue 3. Its goals: a fresh instance per invocation at p50 ≤ 20 µs and p99 ≤ 200 µs; a
 * guest past its 100 ms deadline stopped within 100–120 ms, without pushing the p99 of the
 * invocations on the other workers past 2× their p99 without it; ≤ 50 KiB per idle loaded app.
 *
 * - `hello-*`, `touch-1mib-*`: a WASI command run to completion, a fresh instance each time.
 *   Baseline: `node:wasi` in the calling thread (a new `WASI` and a new `WebAssembly.Instance` of
 *   a precompiled module, stdout to /dev/null). `*-latency` times one invocation at a time, as one
 *   `await engine.run()`; `*-throughput` times batches of 64 invocations, which node:wasi can
 *   only run one after another (it is synchronous) and the engine runs on its worker threads
 *   (one per core by default, two here), all 64 submitted at once. The engine's runs are checked:
 *   exit code 0 and the exact stdout.
 * - `deadline`: an infinite loop invoked with `timeoutMs: 100`, timed from `invoke` until its
 *   `timeout` outcome arrives; the baseline is a bare 100 ms `setTimeout`, the floor any
 *   timer-based deadline sits on.
 * - `hello-beside-loop`: hello one at a time on a two-worker engine, with (contender) and without
 *   (baseline) an infinite loop on the other worker, restarted each time its deadline stops it.
 * - `idle-apps`: memory per loaded app (10,000 distinct hello modules), against V8 alone holding
 *   the same compiled modules; then again after each app ran once, and once more after the
 *   engine's memory pools had time to be released.
 */
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WASI } from 'node:wasi';
import { fixtureBytes, fixturePath } from '../../test/fixtures/paths.js';
import { HELLO_STDOUT } from '../../test/support/guests.js';
import { wat } from '../../test/support/wat.js';
import { importBuilt } from '../built.js';
import type {
  BenchCase,
  Contender,
  Measurement,
  Measurer,
  Metric,
  Prepared,
  Suite,
  ValueCase,
} from '../harness.js';

type EngineModule = typeof import('../../src/runtime/engine.js');
type Engine = InstanceType<EngineModule['Engine']>;
type EngineOptions = NonNullable<ConstructorParameters<EngineModule['Engine']>[0]>;
type LoadedModule = Awaited<ReturnType<Engine['load']>>;
type RunResult = Awaited<ReturnType<Engine['run']>>;

/** A fixture and the exact stdout of a successful run. */
interface Guest {
  fixture: string;
  stdout: string;
}

const HELLO: Guest = { fixture: 'hello-stdout', stdout: 'hello, world\n' };
/** Its 1 MiB buffer is a static array, in .bss (see the fixture). */
const TOUCH_1MIB: Guest = { fixture: 'touch-1mib', stdout: 'touched 256 pages\n' };

const BATCH = 64;
const DEADLINE_MS = 100;
const IDLE_APPS = 10_000;
const IDLE_APPS_QUICK = 1_000;
/** How long the idle-apps engine keeps an unused memory pool (the default is 10 s). */
const POOL_IDLE_MS = 1_000;

/**
 * node:wasi crashes V8 after a few thousand fresh instances unless fast API calls are off (see
 * the `hello` case of `wasi.ts`), which also makes it faster. Flags are per case, so the engine
 * runs with them too; it makes no fast API calls of its own.
 */
const NODE_WASI_FLAGS = ['--no-turbo-fast-api-calls'];

const encoder = new TextEncoder();

/** Throws unless the run exited 0 with exactly `stdout`. */
function check(fixture: string, result: RunResult, stdout: Uint8Array): void {
  if (result.outcome.kind !== 'exit' || result.outcome.code !== 0) {
    throw new Error(`${fixture} ended with ${JSON.stringify(result.outcome)}`);
  }
  if (Buffer.compare(result.stdout, stdout) !== 0) {
    throw new Error(`${fixture} wrote ${JSON.stringify(new TextDecoder().decode(result.stdout))}`);
  }
}

async function startEngine(options: EngineOptions = {}): Promise<Engine> {
  const { Engine } = await importBuilt<EngineModule>('runtime/engine.js');
  return new Engine(options);
}

/** node:wasi, `runs` fresh instances one after another per iteration. */
function nodeWasi(guest: Guest, runs: number): Contender {
  return {
    name: 'node:wasi',
    prepare(): Prepared {
      const module = new WebAssembly.Module(readFileSync(fixturePath(guest.fixture)));
      const devNull = openSync('/dev/null', 'w');
      const args = [guest.fixture];
      return {
        run() {
          for (let i = 0; i < runs; i++) {
            const wasi = new WASI({
              version: 'preview1',
              args,
              env: {},
              stdout: devNull,
              returnOnExit: true,
            });
            const instance = new WebAssembly.Instance(module, wasi.getImportObject() as WebAssembly.Imports);
            const code = wasi.start(instance);
            if (code !== 0) throw new Error(`${guest.fixture} exited with ${code} under node:wasi`);
          }
        },
        teardown: () => closeSync(devNull),
      };
    },
  };
}

/** The engine, `batch` invocations submitted at once per iteration (one: a plain `await run`). */
function isolaEngine(guest: Guest, batch: number, name: string, options: EngineOptions = {}): Contender {
  return {
    name,
    async prepare(): Promise<Prepared> {
      const engine = await startEngine(options);
      const app = await engine.load(fixtureBytes(guest.fixture));
      const stdout = encoder.encode(guest.stdout);
      const args = [guest.fixture];
      const run =
        batch === 1
          ? async () => check(guest.fixture, await engine.run(app, { args }), stdout)
          : async () => {
              const runs = Array.from({ length: batch }, () => engine.run(app, { args }));
              for (const result of await Promise.all(runs)) check(guest.fixture, result, stdout);
            };
      return { run, teardown: () => engine.close() };
    },
  };
}

/** A latency case (one invocation per iteration) and a throughput case (batches of 64). */
function freshInstanceCases(name: string, guest: Guest, what: string): BenchCase[] {
  return [
    {
      name: `${name}-latency`,
      iteration: `one invocation of ${what}, a fresh instance`,
      full: { iterations: 20_000, warmup: 500, maxSeconds: 4 },
      quick: { iterations: 2_000, warmup: 200, maxSeconds: 0.6 },
      execArgv: NODE_WASI_FLAGS,
      baseline: nodeWasi(guest, 1),
      contenders: [isolaEngine(guest, 1, 'isola Engine, one at a time')],
    },
    {
      name: `${name}-throughput`,
      iteration: `${BATCH} invocations of ${what}, a fresh instance each; the engine takes all ${BATCH} at once`,
      opsPerIteration: BATCH,
      full: { iterations: 400, warmup: 20, maxSeconds: 4 },
      quick: { iterations: 40, warmup: 5, maxSeconds: 0.6 },
      execArgv: NODE_WASI_FLAGS,
      baseline: nodeWasi(guest, BATCH),
      contenders: [isolaEngine(guest, BATCH, `isola Engine, ${BATCH} at once`)],
    },
  ];
}

/** The floor under any timer-based deadline: a bare timer of the same length. */
const timerAlone: Contender = {
  name: `setTimeout(${DEADLINE_MS}) alone`,
  prepare: () => ({ run: () => sleep(DEADLINE_MS) }),
};

const DEADLINE_ENGINE: EngineOptions = { workers: 2 };

/** One infinite loop per iteration, invoked with a 100 ms deadline and awaited. */
const engineDeadline: Contender = {
  name: 'isola Engine, infinite loop',
  async prepare(): Promise<Prepared> {
    const engine = await startEngine(DEADLINE_ENGINE);
    const loop = await engine.load(fixtureBytes('infinite-loop'));
    return {
      async run() {
        const { outcome } = await engine.invoke(loop, { limits: { timeoutMs: DEADLINE_MS } }).result;
        if (outcome.kind !== 'timeout') throw new Error(`the loop ended with ${JSON.stringify(outcome)}`);
      },
      teardown: () => engine.destroy(),
    };
  },
};

/**
 * Hello one at a time on a two-worker engine while an infinite loop keeps the other worker busy:
 * each time the deadline stops the loop, it is invoked again. A hello never waits behind the loop
 * (the pool sends work to an idle worker first), so what it feels is the shared CPU and the
 * replacement of the stopped worker.
 */
const helloBesideLoop: Contender = {
  name: 'isola Engine, infinite loop on the other worker',
  async prepare(): Promise<Prepared> {
    const engine = await startEngine(DEADLINE_ENGINE);
    const hello = await engine.load(fixtureBytes(HELLO.fixture));
    const loop = await engine.load(fixtureBytes('infinite-loop'));
    const stdout = encoder.encode(HELLO.stdout);
    const args = [HELLO.fixture];
    let looping = true;
    let failure: Error | undefined;
    const spin = (): void => {
      void engine.invoke(loop, { limits: { timeoutMs: DEADLINE_MS } }).result.then(({ outcome }) => {
        if (!looping) return;
        if (outcome.kind === 'timeout') spin();
        else failure = new Error(`the loop ended with ${JSON.stringify(outcome)}`);
      });
    };
    spin();
    return {
      async run() {
        if (failure !== undefined) throw failure;
        check(HELLO.fixture, await engine.run(hello, { args }), stdout);
      },
      async teardown() {
        looping = false;
        await engine.destroy();
      },
    };
  },
};

/**
 * The process's memory after full garbage collections of the main thread (worker threads collect
 * on their own schedule: their garbage counts as resident until they do).
 */
interface MemorySnapshot {
  rss: number;
  /** Resident executable anonymous memory: JIT code, JavaScript's and Wasm's. */
  code: number;
  heap: number;
}

/** Resident bytes of executable mappings that no file backs (V8's code spaces), from smaps. */
function residentCodeBytes(): number {
  let total = 0;
  let counting = false;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S{4}) \S+ \S+ (\d+)/.exec(line);
    if (header !== null) counting = header[1]!.includes('x') && header[2] === '0';
    else if (counting && line.startsWith('Rss:')) total += Number(line.split(/\s+/)[1]) * 1024;
  }
  return total;
}

async function snapshot(): Promise<MemorySnapshot> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('idle-apps needs gc(): run node with --expose-gc');
  // Several passes, with turns of the event loop between, so that finalizers run and what they
  // free is collected too.
  for (let pass = 0; pass < 3; pass++) {
    gc();
    await sleep(20);
  }
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, code: residentCodeBytes(), heap: heapUsed };
}

/** The metrics of one state (loaded, ran once, idle), per app, from snapshots before and after. */
function perApp(state: string, before: MemorySnapshot, after: MemorySnapshot, apps: number): Measurement {
  return {
    [`RSS, ${state}`]: (after.rss - before.rss) / apps,
    [`RSS beyond JIT code, ${state}`]: (after.rss - after.code - (before.rss - before.code)) / apps,
    [`main-thread V8 heap, ${state}`]: (after.heap - before.heap) / apps,
  };
}

const LOADED = 'loaded';
const RAN = 'after one run each';
const IDLE = 'idle again (pools released)';

const idleMetrics: readonly Metric[] = [
  { name: 'load time per app', unit: 'ns' },
  { name: `JIT code, ${LOADED}`, unit: 'bytes' },
  ...[LOADED, RAN, IDLE].flatMap((state) => [
    { name: `RSS, ${state}`, unit: 'bytes' } as const,
    { name: `RSS beyond JIT code, ${state}`, unit: 'bytes' } as const,
    { name: `main-thread V8 heap, ${state}`, unit: 'bytes' } as const,
  ]),
];

/** Template apps: hello with "world" replaced by the app's number, so each has its own digest. */
const APP_TEMPLATE = 'hello.wasm';
const APP_MARK = 'world';

function appBytes(template: Uint8Array, markAt: number, index: number): Uint8Array {
  const bytes = template.slice();
  bytes.set(encoder.encode(String(index).padStart(APP_MARK.length, '0')), markAt);
  return bytes;
}

function appStdout(index: number): Uint8Array {
  return encoder.encode(`hello, ${String(index).padStart(APP_MARK.length, '0')}\n`);
}

/** What a contender of `idle-apps` does with the apps. */
interface AppHost {
  /** Loads and runs the template app, so that the host is warm before the first snapshot. */
  warm(template: Uint8Array): Promise<void>;
  load(bytes: Uint8Array): Promise<void>;
  /** Runs every loaded app once, in load order; app `i` must write `appStdout(i)`. */
  runAll(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Loads the apps and snapshots memory before, once they are loaded, after each ran once, and
 * again once the engine's memory pools have been idle long enough to be released (a wait the
 * bare-V8 baseline does too, so that both are measured after the same idle time).
 */
function idleAppsMeasurer(name: string, start: () => Promise<AppHost>): Measurer {
  return {
    name,
    async measure({ dataDir, quick }): Promise<Measurement> {
      const apps = quick ? IDLE_APPS_QUICK : IDLE_APPS;
      const template = new Uint8Array(readFileSync(join(dataDir, APP_TEMPLATE)));
      const markAt = Buffer.from(template).indexOf(APP_MARK);
      const host = await start();
      try {
        await host.warm(template);
        const before = await snapshot();
        const loadStarted = performance.now();
        for (let i = 0; i < apps; i++) await host.load(appBytes(template, markAt, i));
        const loadNs = ((performance.now() - loadStarted) * 1e6) / apps;
        const loaded = await snapshot();
        await host.runAll();
        const ran = await snapshot();
        // A worker sweeps its pools every idleMs / 2 and releases those unused for idleMs.
        await sleep(POOL_IDLE_MS * 1.5 + 500);
        const idle = await snapshot();
        return {
          'load time per app': loadNs,
          [`JIT code, ${LOADED}`]: (loaded.code - before.code) / apps,
          ...perApp(LOADED, before, loaded, apps),
          ...perApp(RAN, before, ran, apps),
          ...perApp(IDLE, before, idle, apps),
        };
      } finally {
        await host.close();
      }
    },
  };
}

/**
 * The engine with its defaults but for the pools' idle time (shortened so that the measurement
 * need not wait ~15 s; what a released pool leaves behind does not depend on when it went);
 * apps run 64 at a time.
 */
async function engineHost(): Promise<AppHost> {
  const engine = await startEngine({ memoryPool: { idleMs: POOL_IDLE_MS } });
  const apps: LoadedModule[] = [];
  return {
    async warm(template) {
      // 64 at once, so that every worker runs it.
      const app = await engine.load(template);
      const runs = Array.from({ length: BATCH }, () => engine.run(app));
      const stdout = encoder.encode(HELLO.stdout);
      for (const result of await Promise.all(runs)) check('the template app', result, stdout);
    },
    async load(bytes) {
      apps.push(await engine.load(bytes));
    },
    async runAll() {
      for (let from = 0; from < apps.length; from += BATCH) {
        const results = await Promise.all(apps.slice(from, from + BATCH).map((app) => engine.run(app)));
        results.forEach((result, i) => {
          check(`app ${from + i}`, result, appStdout(from + i));
        });
      }
    },
    close: () => engine.destroy(),
  };
}

/**
 * V8 alone: each app compiled and kept as a `WebAssembly.Module`; a run is a new instance (with
 * its own memory, as the module declares it) whose `fd_write` does nothing, dropped afterwards.
 */
async function bareV8Host(): Promise<AppHost> {
  const modules: WebAssembly.Module[] = [];
  const imports = { wasi_snapshot_preview1: { fd_write: () => 0 } };
  const compile = (bytes: Uint8Array) => WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  const runOnce = (module: WebAssembly.Module) => {
    const instance = new WebAssembly.Instance(module, imports);
    (instance.exports._start as () => void)();
  };
  return {
    async warm(template) {
      const module = await compile(template);
      for (let i = 0; i < BATCH; i++) runOnce(module);
    },
    async load(bytes) {
      modules.push(await compile(bytes));
    },
    async runAll() {
      for (const module of modules) runOnce(module);
    },
    close: async () => {},
  };
}

const idleApps: ValueCase = {
  kind: 'values',
  name: 'idle-apps',
  measurement:
    `load ${IDLE_APPS.toLocaleString('en')} distinct hello apps (${IDLE_APPS_QUICK.toLocaleString('en')} ` +
    `in a quick run), run each once, wait ${(POOL_IDLE_MS * 1.5 + 500) / 1000} s for the memory pools (idleMs ` +
    `${POOL_IDLE_MS}); every value per app`,
  metrics: idleMetrics,
  maxSeconds: 60,
  async setup(dataDir) {
    writeFileSync(join(dataDir, APP_TEMPLATE), await wat(HELLO_STDOUT));
  },
  baseline: idleAppsMeasurer('V8 alone (WebAssembly.Module per app)', bareV8Host),
  contenders: [idleAppsMeasurer('isola Engine', engineHost)],
};

export const suite: Suite = {
  name: 'engine',
  title: "isola's execution engine: fresh instances, deadlines, idle apps",
  cases: [
    ...freshInstanceCases('hello', HELLO, 'hello (13 B to stdout)'),
    ...freshInstanceCases('touch-1mib', TOUCH_1MIB, 'touch-1mib (writes every 4 KiB page of 1 MiB)'),
    {
      name: 'deadline',
      iteration: `invoke an infinite loop with timeoutMs ${DEADLINE_MS} on a 2-worker engine and await its outcome`,
      full: { iterations: 20, warmup: 2, maxSeconds: 5 },
      quick: { iterations: 5, warmup: 1, maxSeconds: 2 },
      baseline: timerAlone,
      contenders: [engineDeadline],
    },
    {
      name: 'hello-beside-loop',
      iteration: 'one invocation of hello on a 2-worker engine',
      full: { iterations: 20_000, warmup: 500, maxSeconds: 4 },
      quick: { iterations: 2_000, warmup: 200, maxSeconds: 0.6 },
      baseline: isolaEngine(HELLO, 1, 'isola Engine, nothing else running', DEADLINE_ENGINE),
      contenders: [helloBesideLoop],
    },
    idleApps,
  ],
};
