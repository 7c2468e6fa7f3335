/**
 * isola's WASI preview1 host against `node:wasi` (the baseline) on syscall-heavy C guests
 * (`test/fixtures/c/bench-*.c`, `hello-stdout.c`). Issue 2's goal: isola faster on all four.
 *
 * Apples to apples: both hosts run the same compiled module; every iteration builds a fresh WASI
 * context, instantiates and runs `_start` (isola from one configured `WasiBuilder`, as an app
 * does; node:wasi with `new WASI`, which has no such split); guest stdout goes to a descriptor
 * opened on /dev/null in both; files are read from the same host directory, preopened as `/data`.
 * Each guest checks its own work (bytes read, entries listed) and exits non-zero otherwise, so a
 * host that cut corners fails instead of looking fast.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { WASI } from 'node:wasi';
import { fixturePath } from '../../test/fixtures/paths.js';
import { importBuilt } from '../built.js';
import type { BenchCase, CaseContext, Contender, Prepared, Suite } from '../harness.js';

type IsolaWasi = typeof import('../../src/wasi/index.js');

const GUEST_DIR = '/data';
const WRITES = 100_000;
const WRITE_SIZE = 16;
const FILE_BYTES = 50 * 1024 * 1024;
const CHUNK = 4096;
const ENTRIES = 10_000;
const HELLO_RUNS = 10_000;

/** What a guest is run with, given the case's data directory. */
interface GuestSpec {
  fixture: string;
  args(context: CaseContext): string[];
  /** Preopen the case's data directory at `/data`. */
  needsData: boolean;
}

/** Runs one fresh instance of `module` to completion and returns its exit code. */
type RunOnce = () => number;

/** Prepares a host: compiles the guest once, opens /dev/null, returns the per-iteration run. */
function hostContender(
  name: string,
  spec: GuestSpec,
  makeRun: (
    module: WebAssembly.Module,
    args: string[],
    devNull: number,
    dataDir: string | undefined,
  ) => RunOnce | Promise<RunOnce>,
): Contender {
  return {
    name,
    async prepare(context): Promise<Prepared> {
      const module = new WebAssembly.Module(readFileSync(fixturePath(spec.fixture)));
      const devNull = openSync('/dev/null', 'w');
      const args = [spec.fixture, ...spec.args(context)];
      const runOnce = await makeRun(module, args, devNull, spec.needsData ? context.dataDir : undefined);
      return {
        run() {
          const code = runOnce();
          if (code !== 0) throw new Error(`${spec.fixture} exited with ${code} under ${name}`);
        },
        teardown: () => closeSync(devNull),
      };
    },
  };
}

function nodeWasi(spec: GuestSpec): Contender {
  return hostContender('node:wasi', spec, (module, args, devNull, dataDir) => () => {
    const wasi = new WASI({
      version: 'preview1',
      args,
      env: {},
      preopens: dataDir === undefined ? {} : { [GUEST_DIR]: dataDir },
      stdout: devNull,
      returnOnExit: true,
    });
    const instance = new WebAssembly.Instance(module, wasi.getImportObject() as WebAssembly.Imports);
    return wasi.start(instance);
  });
}

function isola(spec: GuestSpec): Contender {
  return hostContender('isola', spec, async (module, args, devNull, dataDir) => {
    const { fdSink, WasiBuilder } = await importBuilt<IsolaWasi>('wasi/index.js');
    const builder = new WasiBuilder().args(args).stdout(fdSink(devNull)).stderr(fdSink(2));
    if (dataDir !== undefined) builder.preopenDir(dataDir, GUEST_DIR, { readOnly: true });
    return () => {
      const wasi = builder.build();
      const instance = new WebAssembly.Instance(module, wasi.imports);
      return wasi.start(instance);
    };
  });
}

function wasiCase(fields: Omit<BenchCase, 'baseline' | 'contenders'>, spec: GuestSpec): BenchCase {
  return { ...fields, baseline: nodeWasi(spec), contenders: [isola(spec)] };
}

/** Writes `bytes` of pseudo-random content (one random MiB repeated) to `path`. */
function writeBigFile(path: string, bytes: number): void {
  const block = new Uint8Array(1024 * 1024).map(() => Math.floor(Math.random() * 256));
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; ) {
      written += writeSync(fd, block, 0, Math.min(block.length, bytes - written));
    }
  } finally {
    closeSync(fd);
  }
}

export const suite: Suite = {
  name: 'wasi',
  title: "isola's WASI preview1 host vs node:wasi",
  cases: [
    wasiCase(
      {
        name: 'fd_write',
        iteration: `one run of ${WRITES.toLocaleString('en')} × ${WRITE_SIZE} B fd_write to /dev/null`,
        opsPerIteration: WRITES,
        full: { iterations: 30, warmup: 3, maxSeconds: 20 },
        quick: { iterations: 3, warmup: 1, maxSeconds: 5 },
      },
      { fixture: 'bench-fd-write', args: () => [String(WRITES), String(WRITE_SIZE)], needsData: false },
    ),
    wasiCase(
      {
        name: 'read-file',
        iteration: `one run reading a ${FILE_BYTES / 1024 / 1024} MiB file in ${CHUNK / 1024} KiB fd_reads`,
        opsPerIteration: Math.ceil(FILE_BYTES / CHUNK),
        full: { iterations: 30, warmup: 3, maxSeconds: 20 },
        quick: { iterations: 3, warmup: 1, maxSeconds: 5 },
        setup: (dataDir) => writeBigFile(join(dataDir, 'big.bin'), FILE_BYTES),
      },
      {
        fixture: 'bench-read-file',
        args: () => [`${GUEST_DIR}/big.bin`, String(CHUNK), String(FILE_BYTES)],
        needsData: true,
      },
    ),
    wasiCase(
      {
        name: 'readdir',
        iteration: `one run listing ${ENTRIES.toLocaleString('en')} entries with opendir/readdir`,
        opsPerIteration: ENTRIES,
        full: { iterations: 30, warmup: 3, maxSeconds: 20 },
        quick: { iterations: 3, warmup: 1, maxSeconds: 5 },
        setup(dataDir) {
          mkdirSync(join(dataDir, 'entries'));
          for (let i = 0; i < ENTRIES; i++) {
            writeFileSync(join(dataDir, 'entries', `file-${String(i).padStart(5, '0')}.txt`), '');
          }
        },
      },
      { fixture: 'bench-readdir', args: () => [`${GUEST_DIR}/entries`, String(ENTRIES)], needsData: true },
    ),
    wasiCase(
      {
        name: 'hello',
        iteration: 'one fresh context + instance running hello (13 B to /dev/null)',
        full: { iterations: HELLO_RUNS, warmup: 500, maxSeconds: 30 },
        quick: { iterations: 1000, warmup: 100, maxSeconds: 5 },
        // With V8's fast API calls on (the default), node:wasi crashes Node 20.20 (V8 11.3) after a
        // few thousand fresh instances in a hot loop: SIGSEGV, or "Check failed:
        // fixed_size_above_fp ..." in the Deoptimizer. Off, it no longer crashes and also skips a
        // per-instantiation wrapper compile for each of its fast-API imports: node:wasi's hello
        // drops from ~520 µs to ~60 µs, the stronger baseline. isola makes no fast API calls.
        execArgv: ['--no-turbo-fast-api-calls'],
      },
      { fixture: 'hello-stdout', args: () => [], needsData: false },
    ),
  ],
};
