import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fixtureBytes } from '../../test/fixtures/paths.js';
import { isolaErrorWith } from '../../test/support/errors.js';
import { wat } from '../../test/support/wat.js';
import { tempDir } from '../../test/wasi/run-fixture.js';
import { isIsolaError } from '../errors.js';
import { CaptureSink, WasiBuilder } from '../wasi/index.js';
import { type PreinitOptions, preinitialize } from './preinit.js';

/** The pattern for a WASI command: init runs constructors and set-up, `wizer.resume` runs main alone. */
const RESUME: PreinitOptions = { renames: { _start: 'wizer.resume' } };

/** What the fixture's bookkeeping line on stderr says when everything ran exactly once. */
const ONCE = /init_runs=1 ctor_runs=1 main_runs=1 /;

interface RunOptions {
  env?: Record<string, string>;
  /** Mounted read-only at /init. */
  initDir?: string;
}

async function runModule(bytes: Uint8Array, options: RunOptions = {}) {
  const stdout = new CaptureSink(1 << 16, 'stdout');
  const stderr = new CaptureSink(1 << 16, 'stderr');
  const builder = new WasiBuilder()
    .args(['preinit-table.wasm'])
    .envs(options.env ?? {})
    .stdout(stdout)
    .stderr(stderr);
  if (options.initDir) builder.preopenDir(options.initDir, '/init', { readOnly: true });
  const wasi = builder.build();
  const module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  const exitCode = wasi.start(await WebAssembly.instantiate(module, wasi.imports));
  return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
}

function labelDir(t: test.TestContext): string {
  const dir = tempDir(t, 'isola-preinit-grant-');
  writeFileSync(`${dir}/label.txt`, 'from-a-file\n');
  return dir;
}

const rejectsWith = isolaErrorWith;

/** A module whose init export does `body`; `_start` does nothing. */
function initModule(body: string, imports = '', name = 'wizer.initialize'): Promise<Uint8Array> {
  return wat(`(module
    ${imports}
    (memory (export "memory") 1)
    (func (export "${name}") ${body})
    (func (export "_start")))`);
}

const FD_WRITE =
  '(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))';

describe('preinitialize', () => {
  test('the snapshot prints what the original prints, without running initialization or constructors again', async (t) => {
    const dir = labelDir(t);
    const original = await runModule(fixtureBytes('preinit-table'), {
      env: { PREINIT_SEED: '42' },
      initDir: dir,
    });
    const snapshot = await preinitialize(fixtureBytes('preinit-table'), {
      ...RESUME,
      env: { PREINIT_SEED: '42' },
      dirs: { '/init': dir },
    });
    const resumed = await runModule(snapshot);

    assert.equal(original.exitCode, 0, original.stderr);
    assert.match(original.stdout, /^seed=42 label=from-a-file checksum=[0-9a-f]{8} last=[0-9a-f]{8}\n$/);
    assert.match(original.stderr, /^preinitialized=no /);
    assert.match(original.stderr, ONCE);
    assert.equal(resumed.exitCode, 0, resumed.stderr);
    assert.equal(resumed.stdout, original.stdout);
    // The table and the grants read while building it come from the snapshot: this run was
    // granted neither the variable nor the directory, and built nothing.
    assert.match(resumed.stderr, /^preinitialized=yes /);
    assert.match(resumed.stderr, ONCE);
  });

  test('the snapshot sees the environment of its own run once initialization is over', async () => {
    const snapshot = await preinitialize(fixtureBytes('preinit-table'), {
      ...RESUME,
      env: { PREINIT_SEED: '7', WHO: 'initialization' },
    });
    const resumed = await runModule(snapshot, { env: { WHO: 'request', PREINIT_SEED: '8' } });
    assert.equal(resumed.exitCode, 0, resumed.stderr);
    assert.match(resumed.stdout, /^seed=7 /);
    assert.match(resumed.stderr, / who=request\n$/);
  });

  test('initialization is granted no environment and no directories unless asked', async () => {
    const resumed = await runModule(await preinitialize(fixtureBytes('preinit-table'), RESUME));
    assert.equal(resumed.exitCode, 0, resumed.stderr);
    assert.match(resumed.stdout, /^seed=1 label=none /);
    assert.match(resumed.stderr, /^preinitialized=yes .* init_write=refused /);
  });

  test('a granted directory is read through a copy, so what initialization writes never reaches the host', async (t) => {
    const dir = labelDir(t);
    const snapshot = await preinitialize(fixtureBytes('preinit-table'), {
      ...RESUME,
      dirs: { '/init': dir },
    });
    const resumed = await runModule(snapshot);
    assert.match(resumed.stdout, / label=from-a-file /);
    assert.match(resumed.stderr, / init_write=allowed /);
    assert.deepEqual(readdirSync(dir), ['label.txt']);
  });

  test('without the rename, the snapshot runs the constructors a second time', async () => {
    const resumed = await runModule(await preinitialize(fixtureBytes('preinit-table')));
    assert.equal(resumed.exitCode, 0, resumed.stderr);
    assert.match(resumed.stderr, /^preinitialized=yes init_runs=1 ctor_runs=2 main_runs=1 /);
  });

  test('leaves no temporary files behind, after a snapshot and after a failure', async (t) => {
    const grant = labelDir(t);
    const scratch = tempDir(t, 'isola-preinit-tmp-');
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = scratch;
    try {
      await preinitialize(fixtureBytes('preinit-table'), { ...RESUME, dirs: { '/init': grant } });
      await assert.rejects(preinitialize(await initModule('unreachable')), { code: 'E_PREINIT_FAILED' });
    } finally {
      process.env.TMPDIR = saved;
      if (saved === undefined) delete process.env.TMPDIR;
    }
    assert.deepEqual(readdirSync(scratch), []);
  });
});

describe('preinitialize refuses', () => {
  test('bytes that are not a core module', async () => {
    await assert.rejects(
      preinitialize(new TextEncoder().encode('(module)')),
      rejectsWith('E_MODULE_INVALID', /WebAssembly text/),
    );
    const component = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);
    await assert.rejects(preinitialize(component), rejectsWith('E_MODULE_COMPONENT', /not a core module/));
  });

  test('a module without the init export, before looking for wizer', async () => {
    await assert.rejects(
      preinitialize(fixtureBytes('hello-stdout'), { wizerPath: '/nonexistent/wizer' }),
      rejectsWith(
        'E_PREINIT_NO_INIT',
        /no function named "wizer\.initialize".*export_name\("wizer\.initialize"\)/,
      ),
    );
  });

  test('a module without the init export, naming the one it has', async () => {
    await assert.rejects(
      preinitialize(await initModule('', '', 'wizer-initialize')),
      rejectsWith('E_PREINIT_NO_INIT', /it exports "wizer-initialize": pass that as initFunction/),
    );
  });

  test('a rename of a function the module does not export', async () => {
    await assert.rejects(
      preinitialize(fixtureBytes('preinit-table'), { renames: { _start: 'wizer.resum' } }),
      rejectsWith('E_ARGUMENT_INVALID', /exports no function named "wizer\.resum"/),
    );
  });

  test('a granted directory that does not exist', async () => {
    await assert.rejects(
      preinitialize(fixtureBytes('preinit-table'), { dirs: { '/init': '/nonexistent/isola-preinit' } }),
      rejectsWith('E_PREOPEN_INVALID', /does not exist/),
    );
  });

  test('an environment variable that would change how the host runs wizer', async () => {
    await assert.rejects(
      preinitialize(fixtureBytes('preinit-table'), { env: { LD_PRELOAD: '/tmp/x.so' } }),
      rejectsWith('E_ARGUMENT_INVALID', /"LD_PRELOAD" cannot be granted .* changes how the host runs wizer/),
    );
  });

  test('limits out of range', async () => {
    await assert.rejects(
      preinitialize(fixtureBytes('preinit-table'), { timeoutMs: 0 }),
      rejectsWith('E_LIMIT_OUT_OF_RANGE', /timeoutMs = 0 is out of range: use a whole number from 1 to/),
    );
  });
});

describe('preinitialize reports', () => {
  test('a trap in initialization with wizer first line in the message and its stderr in the details', async () => {
    const bytes = await initModule(
      `(i32.store (i32.const 0) (i32.const 64))
       (i32.store (i32.const 4) (i32.const 11))
       (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
       unreachable`,
      `${FD_WRITE} (data (i32.const 64) "no config!\\n")`,
    );
    const error = await preinitialize(bytes).catch((caught: unknown) => caught);
    assert.ok(isIsolaError(error, 'E_PREINIT_FAILED'), String(error));
    assert.match(
      error.message,
      /^pre-initialization failed: the `wizer\.initialize` function trapped \(wasm trap: .*unreachable/,
    );
    assert.match(error.message, /fix "wizer\.initialize"/);
    // The guest's own stderr comes first, then wizer's report.
    assert.match(String(error.details.stderr), /^no config!\nError: /);
  });

  test('an exit during initialization, with the fix', async () => {
    const bytes = await initModule(
      '(call $exit (i32.const 3))',
      '(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))',
    );
    await assert.rejects(
      preinitialize(bytes),
      rejectsWith('E_PREINIT_FAILED', /exit status 3.*exited \(proc_exit\); return from it instead/),
    );
  });

  test('an initialization that runs past its timeout', async () => {
    const bytes = await initModule('(loop $forever (br $forever))');
    await assert.rejects(
      preinitialize(bytes, { timeoutMs: 500 }),
      rejectsWith('E_PREINIT_TIMEOUT', /did not finish within 500 ms/),
    );
  });

  test('a snapshot larger than maxOutputBytes', async () => {
    await assert.rejects(
      preinitialize(fixtureBytes('preinit-table'), { ...RESUME, maxOutputBytes: 1000 }),
      rejectsWith('E_PREINIT_OUTPUT_LIMIT', /more than maxOutputBytes \(1000\): raise the limit/),
    );
  });

  test('a wizer binary that cannot run as unavailable', async () => {
    await assert.rejects(
      preinitialize(fixtureBytes('preinit-table'), { wizerPath: '/nonexistent/wizer' }),
      rejectsWith('E_PREINIT_UNAVAILABLE', /cannot run wizer at \/nonexistent\/wizer \(ENOENT\)/),
    );
  });
});
