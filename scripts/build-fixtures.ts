/**
 * Builds the guest fixtures: every `test/fixtures/c/*.c` is compiled with Debian's clang to
 * `wasm32-wasi`, every `test/fixtures/wat/*.wat` is assembled with wabt (npm); both land in
 * `build/fixtures/<name>.wasm`. Incremental: an output newer than its source (and than the shared
 * C headers) is kept. C files compile in parallel, one clang per core.
 *
 * Run with `npx tsx scripts/build-fixtures.ts` (or `npm run fixtures`); `--force` rebuilds all.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import wabt from 'wabt';
import { CLANG_ENV } from './clang-env.js';

const run = promisify(execFile);

const root = resolve(import.meta.dirname, '..');
const cDir = join(root, 'test/fixtures/c');
const watDir = join(root, 'test/fixtures/wat');
const outDir = join(root, 'build/fixtures');

/** Flags for every C fixture: optimised, debug info stripped so fixtures stay small. */
const CFLAGS = [
  '--target=wasm32-wasi',
  '-O2',
  '-Wall',
  '-Werror',
  '-Wno-unused-result',
  '-Wl,--strip-all',
  `-I${cDir}`,
];

/**
 * Flags a fixture needs on top of CFLAGS, by fixture name, each with its reason.
 *
 * - preinit-table defines `_start` itself (calling __wasm_call_ctors) so that a wizer snapshot
 *   runs its constructors exactly once; crt1-command.o would define `_start` a second time.
 */
const EXTRA_CFLAGS: Readonly<Record<string, readonly string[]>> = {
  'preinit-table': ['-nostartfiles'],
};

interface Job {
  source: string;
  output: string;
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

function listSources(dir: string, extension: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith(extension))
      .sort()
      .map((name) => join(dir, name));
  } catch {
    return [];
  }
}

function jobsFor(dir: string, extension: string, dependencies: string[], force: boolean): Job[] {
  const newestDependency = Math.max(-1, ...dependencies.map(mtime));
  return listSources(dir, extension)
    .map((source) => ({ source, output: join(outDir, `${basename(source, extension)}.wasm`) }))
    .filter(({ source, output }) => {
      if (force) return true;
      const built = mtime(output);
      return built < mtime(source) || built < newestDependency;
    });
}

async function compileC(job: Job): Promise<void> {
  try {
    const extra = EXTRA_CFLAGS[basename(job.source, '.c')] ?? [];
    await run('clang', [...CFLAGS, ...extra, job.source, '-o', job.output], {
      maxBuffer: 16 * 1024 * 1024,
      env: CLANG_ENV,
    });
  } catch (error) {
    const { stderr, code } = error as { stderr?: string; code?: string | number };
    if (code === 'ENOENT') {
      throw new Error('clang not found: run `bash scripts/setup-toolchain.sh` first');
    }
    throw new Error(`${job.source}: clang failed\n${stderr ?? String(error)}`);
  }
}

async function assembleWat(jobs: Job[]): Promise<void> {
  if (jobs.length === 0) return;
  const assembler = await wabt();
  for (const job of jobs) {
    let module: ReturnType<typeof assembler.parseWat> | undefined;
    try {
      module = assembler.parseWat(basename(job.source), readFileSync(job.source, 'utf8'));
      module.resolveNames();
      module.validate();
      writeFileSync(job.output, module.toBinary({}).buffer);
    } catch (error) {
      throw new Error(`${job.source}: wat2wasm failed\n${(error as Error).message}`);
    } finally {
      module?.destroy();
    }
  }
}

/** Runs `work` over `items` with at most `limit` in flight; collects every failure. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<Error[]> {
  const failures: Error[] = [];
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failures.push(error as Error);
      }
    }
  });
  await Promise.all(workers);
  return failures;
}

async function main(): Promise<void> {
  const force = process.argv.includes('--force');
  mkdirSync(outDir, { recursive: true });
  const headers = listSources(cDir, '.h');
  const cJobs = jobsFor(cDir, '.c', headers, force);
  const watJobs = jobsFor(watDir, '.wat', [], force);

  const failures = await inParallel(cJobs, Math.max(1, availableParallelism()), compileC);
  try {
    await assembleWat(watJobs);
  } catch (error) {
    failures.push(error as Error);
  }
  if (failures.length > 0) {
    for (const failure of failures) console.error(failure.message);
    console.error(`build-fixtures: ${failures.length} fixture(s) failed to build`);
    process.exit(1);
  }
  const built = cJobs.length + watJobs.length;
  if (built > 0) console.log(`build-fixtures: built ${built} fixture(s) into build/fixtures/`);
}

await main();
