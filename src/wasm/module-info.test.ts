import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isolaErrorWith } from '../../test/support/errors.js';
import { wat } from '../../test/support/wat.js';
import { isIsolaError } from '../errors.js';
import {
  checkImports,
  compileModule,
  describeModule,
  readHeader,
  requireCommand,
  WASI_PREVIEW1_IMPORTS,
} from './module-info.js';

const COMMAND = `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")))`;

/** A component's preamble: magic, version 0x0d, layer 1 (component-model Binary.md). */
const COMPONENT_PREAMBLE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);

const rejectsWith = isolaErrorWith;

describe('readHeader', () => {
  test('a core module is layer "module", version 1', async () => {
    assert.deepEqual(readHeader(await wat(COMMAND)), { layer: 'module', version: 1 });
  });

  test('a component is recognised by its layer field', () => {
    assert.deepEqual(readHeader(COMPONENT_PREAMBLE), { layer: 'component', version: 0x0d });
  });

  test('a component is refused with a clear message when a core module is required', () => {
    assert.throws(
      () => readHeader(COMPONENT_PREAMBLE, { require: 'module' }),
      rejectsWith('E_MODULE_COMPONENT', /component.*not supported/),
    );
  });

  test('a text file is refused, naming its first bytes', () => {
    const bytes = new TextEncoder().encode('hello, world\n');
    assert.throws(
      () => readHeader(bytes),
      rejectsWith(
        'E_MODULE_INVALID',
        /^not a WebAssembly module: it starts with 68 65 6c 6c 6f 2c 20 77 \("hello, w"\)/,
      ),
    );
  });

  test('WebAssembly text is refused with the hint to assemble it', () => {
    const bytes = new TextEncoder().encode('(module (func))');
    assert.throws(
      () => readHeader(bytes),
      rejectsWith('E_MODULE_INVALID', /WebAssembly text \(WAT\); assemble it/),
    );
  });

  test('a native executable is refused as such', () => {
    const bytes = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
    assert.throws(() => readHeader(bytes), rejectsWith('E_MODULE_INVALID', /\\x7fELF.*native executable/));
  });

  test('an empty file is refused', () => {
    assert.throws(() => readHeader(new Uint8Array()), rejectsWith('E_MODULE_INVALID', /file is empty/));
  });

  test('a file cut inside the header is truncated', () => {
    assert.throws(
      () => readHeader(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1])),
      rejectsWith('E_MODULE_INVALID', /^module is truncated: .* after 5 bytes/),
    );
  });

  test('an unknown version is refused', () => {
    const bytes = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 2, 0, 0, 0]);
    assert.throws(
      () => readHeader(bytes),
      rejectsWith('E_MODULE_INVALID', /unknown WebAssembly binary version 2/),
    );
  });
});

describe('compileModule', () => {
  test('compiles a valid module', async () => {
    const module = await compileModule(await wat(COMMAND));
    assert.ok(module instanceof WebAssembly.Module);
  });

  test('a module cut short is reported as truncated, not as a decoding error', async () => {
    const bytes = await wat(COMMAND);
    await assert.rejects(
      compileModule(bytes.subarray(0, bytes.length - 3)),
      rejectsWith(
        'E_MODULE_INVALID',
        /^module is truncated: the \w+ section .* runs past the end of the file/,
      ),
    );
  });

  test('a module the engine rejects keeps the engine message', async () => {
    // One function of type [] -> [] whose body leaves an i32 on the stack: well-formed, not valid.
    const broken = new Uint8Array([
      ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
      ...[0x01, 0x04, 0x01, 0x60, 0x00, 0x00],
      ...[0x03, 0x02, 0x01, 0x00],
      ...[0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x00, 0x0b],
    ]);
    await assert.rejects(
      compileModule(broken),
      rejectsWith('E_MODULE_INVALID', /^module is not valid WebAssembly: /),
    );
  });
});

describe('describeModule', () => {
  test('a module exporting _start is a command', async () => {
    const info = describeModule(await compileModule(await wat(COMMAND)));
    assert.equal(info.kind, 'command');
    assert.deepEqual(info.imports, [
      { module: 'wasi_snapshot_preview1', name: 'proc_exit', kind: 'function' },
    ]);
    assert.deepEqual(info.exports, [
      { name: 'memory', kind: 'memory' },
      { name: '_start', kind: 'function' },
    ]);
  });

  test('a module exporting _initialize and no _start is a reactor', async () => {
    const info = describeModule(await compileModule(await wat('(module (func (export "_initialize")))')));
    assert.equal(info.kind, 'reactor');
    assert.throws(
      () => requireCommand(info),
      rejectsWith('E_MODULE_NO_START', /no _start .* reactor with _initialize/),
    );
  });

  test('a module with neither is a reactor and not a command', async () => {
    const info = describeModule(await compileModule(await wat('(module (func (export "run")))')));
    assert.equal(info.kind, 'reactor');
    assert.throws(() => requireCommand(info), rejectsWith('E_MODULE_NO_START', /not a WASI command/));
  });
});

describe('checkImports', () => {
  test('every wasi_snapshot_preview1 function is accepted', () => {
    const preview1 = WASI_PREVIEW1_IMPORTS.get('wasi_snapshot_preview1')!;
    assert.ok(preview1.size >= 45);
    const imports = [...preview1].map((name) => ({
      module: 'wasi_snapshot_preview1',
      name,
      kind: 'function' as const,
    }));
    checkImports(imports);
  });

  test('one error names every unsupported import, in declaration order', async () => {
    const module = await compileModule(
      await wat(`(module
        (import "env" "foo" (func))
        (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
        (import "wasi_unstable" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "no_such_call" (func))
        (func (export "_start")))`),
    );
    assert.throws(
      () => checkImports(describeModule(module).imports),
      (error: unknown) => {
        assert.ok(isIsolaError(error, 'E_MODULE_UNSUPPORTED_IMPORTS'));
        assert.match(
          error.message,
          /^module imports functions isola does not provide: env\.foo, wasi_unstable\.fd_write, wasi_snapshot_preview1\.no_such_call: /,
        );
        assert.match(error.message, /wasi_unstable is the WASI snapshot before preview1/);
        assert.equal((error.details.imports as unknown[]).length, 3);
        return true;
      },
    );
  });

  test('an imported memory or global is named with its kind', async () => {
    const module = await compileModule(
      await wat(`(module (import "env" "memory" (memory 1)) (import "env" "g" (global i32)))`),
    );
    assert.throws(
      () => checkImports(describeModule(module).imports),
      rejectsWith(
        'E_MODULE_UNSUPPORTED_IMPORTS',
        /what isola does not provide: env\.memory \(memory\), env\.g \(global\)/,
      ),
    );
  });

  test('a custom provider set is honoured', () => {
    checkImports([{ module: 'host', name: 'log', kind: 'function' }], new Map([['host', new Set(['log'])]]));
  });
});
