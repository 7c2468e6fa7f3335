import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixtureBytes } from '../../test/fixtures/paths.js';
import { wat } from '../../test/support/wat.js';
import { isIsolaError } from '../errors.js';
import { CaptureSink, WasiBuilder } from '../wasi/index.js';
import { SectionId } from './binary-reader.js';
import { encodeName, encodeSection } from './binary-writer.js';
import { IMPORTED_MEMORY_MODULE, IMPORTED_MEMORY_NAME, importMemory } from './import-memory.js';
import { readMemories } from './memory-limit.js';

async function instantiate(bytes: Uint8Array, imports: WebAssembly.Imports): Promise<WebAssembly.Instance> {
  const { instance } = await WebAssembly.instantiate(bytes as Uint8Array<ArrayBuffer>, imports);
  return instance;
}

const utf8 = (text: string) => new TextEncoder().encode(text);

function refusedWith(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(isIsolaError(error, 'E_MODULE_UNSUPPORTED'), `expected E_MODULE_UNSUPPORTED, got ${error}`);
    assert.match(error.message, pattern);
    return true;
  };
}

/** A module with no import section: data at 16, `peek(address)` and `grow(pages)`. */
const NO_IMPORTS = `(module
  (memory (export "memory") 1)
  (data (i32.const 16) "hello")
  (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`;

describe('importMemory', () => {
  test('a defined memory becomes the import isola.memory with the same limits', async () => {
    const { bytes, memory } = importMemory(await wat('(module (memory (export "memory") 2 5))'));
    assert.deepEqual(memory, { module: 'isola', name: 'memory', minPages: 2, maxPages: 5 });
    assert.deepEqual(WebAssembly.Module.imports(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>)), [
      { module: IMPORTED_MEMORY_MODULE, name: IMPORTED_MEMORY_NAME, kind: 'memory' },
    ]);
    assert.equal(readMemories(bytes)[0]?.importedFrom, 'isola.memory');
  });

  test('data segments land in the memory provided, which is the one the module exports', async () => {
    const { bytes } = importMemory(await wat(NO_IMPORTS));
    const provided = new WebAssembly.Memory({ initial: 1, maximum: 2 });
    const instance = await instantiate(bytes, { isola: { memory: provided } });
    assert.equal(instance.exports.memory, provided);
    assert.equal(new TextDecoder().decode(new Uint8Array(provided.buffer, 16, 5)), 'hello');
    assert.equal((instance.exports.peek as (address: number) => number)(16), 'h'.charCodeAt(0));
  });

  test('memory.grow stops at the maximum of the memory provided', async () => {
    const { bytes } = importMemory(await wat(NO_IMPORTS));
    const provided = new WebAssembly.Memory({ initial: 1, maximum: 3 });
    const grow = (await instantiate(bytes, { isola: { memory: provided } })).exports.grow as (
      pages: number,
    ) => number;
    assert.equal(grow(2), 1);
    assert.equal(grow(1), -1);
    assert.equal(provided.buffer.byteLength, 3 * 65_536);
  });

  test('function indices are unchanged when the module already imports functions', async () => {
    const original = await wat(`(module
      (import "env" "double" (func $double (param i32) (result i32)))
      (global (import "env" "base") i32)
      (memory (export "memory") 1)
      (data (i32.const 0) "\\07")
      (func $load (result i32) (i32.load8_u (i32.const 0)))
      (func (export "run") (result i32) (i32.add (call $double (call $load)) (global.get 0))))`);
    const { bytes } = importMemory(original);
    const provided = new WebAssembly.Memory({ initial: 1 });
    const instance = await instantiate(bytes, {
      env: { double: (n: number) => n * 2, base: new WebAssembly.Global({ value: 'i32' }, 100) },
      isola: { memory: provided },
    });
    assert.equal((instance.exports.run as () => number)(), 114);
    assert.deepEqual(
      WebAssembly.Module.imports(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>)).map(
        ({ module, name }) => `${module}.${name}`,
      ),
      ['env.double', 'env.base', 'isola.memory'],
    );
  });

  test('custom sections are kept, wherever they sit', async () => {
    const original = await wat(NO_IMPORTS);
    // One custom section before the type section and one at the end (binary/modules.html#custom-section).
    const custom = (text: string) => encodeSection(SectionId.CUSTOM, [...encodeName('note'), ...utf8(text)]);
    const withNotes = Buffer.concat([
      original.subarray(0, 8),
      custom('first'),
      original.subarray(8),
      custom('last'),
    ]);
    const { bytes } = importMemory(withNotes);
    const notes = WebAssembly.Module.customSections(
      new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>),
      'note',
    );
    assert.deepEqual(
      notes.map((note) => new TextDecoder().decode(note)),
      ['first', 'last'],
    );
  });

  test('a module of only a memory and data gets an import section where the memory section was', async () => {
    const { bytes } = importMemory(await wat('(module (memory 1) (data (i32.const 0) "x"))'));
    const provided = new WebAssembly.Memory({ initial: 1 });
    await instantiate(bytes, { isola: { memory: provided } });
    assert.equal(new Uint8Array(provided.buffer)[0], 'x'.charCodeAt(0));
  });

  test('a module that imports its memory already is returned unchanged, that import reported', async () => {
    const original = await wat('(module (import "env" "mem" (memory 1 4)) (func (export "_start")))');
    const result = importMemory(original);
    assert.equal(result.bytes, original);
    assert.deepEqual(result.memory, { module: 'env', name: 'mem', minPages: 1, maxPages: 4 });
  });

  test('a module without memory is returned unchanged', async () => {
    const original = await wat('(module (func (export "_start")))');
    assert.deepEqual(importMemory(original), { bytes: original, memory: undefined });
  });

  test('two memories are refused, naming multi-memory', async () => {
    // wabt knows multi_memory, though its typings leave the feature out.
    const features = { multi_memory: true } as Parameters<typeof wat>[1];
    const bytes = await wat('(module (import "env" "a" (memory 1)) (memory 1))', features);
    assert.throws(() => importMemory(bytes), refusedWith(/2 memories \(the multi-memory proposal\)/));
  });

  test('a shared memory is refused', async () => {
    const bytes = await wat('(module (memory 1 2 shared))', { threads: true });
    assert.throws(() => importMemory(bytes), refusedWith(/memory 0 is shared/));
  });

  test('an imported shared memory is refused too', async () => {
    const bytes = await wat('(module (import "env" "m" (memory 1 2 shared)))', { threads: true });
    assert.throws(() => importMemory(bytes), refusedWith(/imported as env\.m\) is shared/));
  });

  test('a 64-bit memory is refused', async () => {
    const bytes = await wat('(module (memory i64 1))', { memory64: true });
    assert.throws(() => importMemory(bytes), refusedWith(/memory64.*build the module for wasm32/));
  });

  test('the hello-stdout fixture runs with a pooled memory', async () => {
    const { bytes, memory } = importMemory(fixtureBytes('hello-stdout'));
    assert.ok(memory);
    const provided = new WebAssembly.Memory({ initial: memory.minPages, maximum: memory.minPages + 16 });
    const stdout = new CaptureSink(1024, 'stdout');
    const wasi = new WasiBuilder().stdout(stdout).build();
    const instance = await instantiate(bytes, { ...wasi.imports, isola: { memory: provided } });
    assert.equal(instance.exports.memory, provided);
    assert.equal(wasi.start(instance), 0);
    assert.equal(stdout.text(), 'hello, world\n');
  });
});
