/**
 * Builds the JavaScript runtime: `runtimes/javascript/*.c` (the `js` runner) and Debian's
 * amalgamated Duktape (`duktape-dev`, installed by scripts/setup-toolchain.sh), compiled with
 * Debian's clang to `wasm32-wasi` and linked into `build/runtimes/js.wasm`. Objects are kept in
 * `build/runtimes/javascript/` and rebuilt only when older than their sources; duktape.c alone
 * takes ~20 s, so it compiles beside the rest, one clang per core.
 *
 * Duktape throws with setjmp/longjmp, which bookworm's wasi-libc lacks: clang lowers them to Wasm
 * exception handling, with the runtime half in runtimes/javascript/sjlj.c (see its README).
 *
 * Run with `npx tsx scripts/build-javascript-runtime.ts` (scripts/test.sh does); `--force`
 * rebuilds all.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CLANG_ENV } from './clang-env.js';

const run = promisify(execFile);

const root = resolve(import.meta.dirname, '..');
const sourceDir = join(root, 'runtimes/javascript');
const workDir = join(root, 'build/runtimes/javascript');
const output = join(root, 'build/runtimes/js.wasm');
/** Where Debian's duktape-dev puts the amalgamated sources. */
const DUKTAPE_DIR = '/usr/share/duktape';

/**
 * Flags for every C file. `-mllvm -wasm-enable-sjlj` lowers setjmp/longjmp to Wasm exceptions
 * (and turns on the exception-handling feature); `-I` order makes runtimes/javascript's
 * duk_config.h and include/setjmp.h the ones Duktape sees.
 */
const CFLAGS = [
  '--target=wasm32-wasi',
  '-O2',
  '-mexception-handling',
  '-mllvm',
  '-wasm-enable-sjlj',
  `-I${join(sourceDir, 'include')}`,
  `-I${sourceDir}`,
  `-I${workDir}`,
];

/** Our own sources are held to warnings; Duktape's are Duktape's. */
const STRICT_CFLAGS = ['-Wall', '-Wextra', '-Werror'];

/**
 * Link flags. wasm-ld's default C stack is 64 KiB below the heap: Duktape's recursion limits (1,000
 * nested native calls, 2,500 nested expressions) need more, and an overflow there would silently
 * write over static data. So: 256 KiB (each limit reached with room to spare at 128 KiB), placed
 * first, so that an overflow runs below address 0 and traps.
 */
const LDFLAGS = [
  '--target=wasm32-wasi',
  '-O2',
  '-Wl,--strip-all',
  '-Wl,--stack-first',
  '-Wl,-z,stack-size=262144',
  '-lm',
];

interface Step {
  inputs: string[];
  output: string;
  args: string[];
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

function stale(step: Step, force: boolean): boolean {
  if (force) return true;
  const built = mtime(step.output);
  // This script too: its flags are an input of every step.
  return [import.meta.filename, ...step.inputs].some((input) => mtime(input) > built);
}

/** Copies Duktape next to the objects, its config under the name our duk_config.h includes. */
function stageDuktape(): void {
  for (const file of ['duktape.c', 'duktape.h', 'duk_config.h']) {
    if (!existsSync(join(DUKTAPE_DIR, file))) {
      throw new Error(`${join(DUKTAPE_DIR, file)} is missing: run \`bash scripts/setup-toolchain.sh\` first`);
    }
  }
  mkdirSync(workDir, { recursive: true });
  const copies: [string, string][] = [
    ['duktape.c', 'duktape.c'],
    ['duktape.h', 'duktape.h'],
    ['duk_config.h', 'duk_config_debian.h'],
  ];
  for (const [from, to] of copies) {
    // duktape.c must not sit beside a duk_config.h: its #include "duktape.h" would find that one first.
    if (mtime(join(DUKTAPE_DIR, from)) > mtime(join(workDir, to))) {
      copyFileSync(join(DUKTAPE_DIR, from), join(workDir, to));
    }
  }
}

function steps(): { compile: Step[]; link: Step } {
  const headers = [
    join(sourceDir, 'duk_config.h'),
    join(sourceDir, 'include/setjmp.h'),
    join(workDir, 'duktape.h'),
    join(workDir, 'duk_config_debian.h'),
  ];
  const object = (name: string) => join(workDir, `${name}.o`);
  const compile: Step[] = [
    {
      inputs: [join(workDir, 'duktape.c'), ...headers],
      output: object('duktape'),
      args: [...CFLAGS, '-c', join(workDir, 'duktape.c'), '-o', object('duktape')],
    },
  ];
  const ours = readdirSync(sourceDir).filter((name) => name.endsWith('.c') || name.endsWith('.s'));
  for (const name of ours.sort()) {
    const source = join(sourceDir, name);
    const target = object(name.endsWith('.s') ? `${basename(name, '.s')}-s` : basename(name, '.c'));
    const flags = name.endsWith('.s')
      ? ['--target=wasm32-wasi', '-mexception-handling']
      : [...CFLAGS, ...STRICT_CFLAGS];
    compile.push({
      inputs: [source, ...headers, join(sourceDir, 'js.h')],
      output: target,
      args: [...flags, '-c', source, '-o', target],
    });
  }
  const objects = compile.map((step) => step.output);
  return { compile, link: { inputs: objects, output, args: [...LDFLAGS, ...objects, '-o', output] } };
}

async function clang(step: Step): Promise<void> {
  try {
    await run('clang', step.args, { maxBuffer: 16 * 1024 * 1024, env: CLANG_ENV });
  } catch (error) {
    const { stderr, code } = error as { stderr?: string; code?: string | number };
    if (code === 'ENOENT') throw new Error('clang not found: run `bash scripts/setup-toolchain.sh` first');
    throw new Error(`${basename(step.output)}: clang failed\n${stderr ?? String(error)}`);
  }
}

async function main(): Promise<void> {
  const force = process.argv.includes('--force');
  stageDuktape();
  const { compile, link } = steps();
  const pending = compile.filter((step) => stale(step, force));
  const failures: Error[] = [];
  let next = 0;
  const workers = Array.from(
    { length: Math.min(Math.max(1, availableParallelism()), pending.length) },
    async () => {
      while (next < pending.length) {
        const step = pending[next++]!;
        await clang(step).catch((error: Error) => failures.push(error));
      }
    },
  );
  await Promise.all(workers);
  if (failures.length === 0 && stale(link, force)) {
    await clang(link).catch((error: Error) => failures.push(error));
    if (failures.length === 0) {
      console.log(`build-javascript-runtime: built build/runtimes/js.wasm (${statSync(output).size} bytes)`);
    }
  }
  if (failures.length > 0) {
    for (const failure of failures) console.error(failure.message);
    console.error('build-javascript-runtime: the JavaScript runtime failed to build');
    process.exit(1);
  }
}

await main();
