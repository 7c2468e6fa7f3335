import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { wat } from '../../test/support/wat.js';
import { ImportRewrite } from './ruby-imports.js';
import { Code, encodeBody, ValType } from './wasm-emit.js';

/**
 * A module that names functions by index everywhere it can: calls of imports and of its own
 * functions, `ref.func` in code and in a global, a table filled by an active element segment of
 * indices and by one of expressions, exports and a start function. `log(n)` appends n to the
 * bytes at 0 and moves the length at 100.
 */
const INDEXED = `(module
  (type $unary (func (param i32)))
  (type $nullary (func))
  (import "host" "double" (func $double (param i32) (result i32)))
  (import "env" "log" (func $log (param i32)))
  (import "host" "unused" (func $unused))
  (import "env" "tick" (func $tick))
  (memory (export "memory") 1)
  (table 4 funcref)
  (global $ref funcref (ref.func $three))
  (elem (i32.const 0) func $one $two)
  (elem (i32.const 2) funcref (ref.func $three) (ref.null func))
  (func $one (call $log (i32.const 1)))
  (func $two (call $log (call $double (i32.const 1))))
  (func $three (call $log (i32.const 3)))
  (func $start (call $tick))
  (func (export "main")
    (call $one)
    (call_indirect (type $nullary) (i32.const 1))
    (call_indirect (type $nullary) (i32.const 2))
    (drop (ref.func $two))
    (call $log (call $double (i32.const 2))))
  (export "ref" (global $ref))
  (start $start))`;

async function indexedModule(): Promise<Uint8Array> {
  return wat(INDEXED, { reference_types: true, bulk_memory: true });
}

function logged(instance: WebAssembly.Instance): number[] {
  const memory = new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer);
  return [...memory.subarray(0, new DataView(memory.buffer).getUint32(100, true))];
}

/** `env.log` and `env.tick` as host functions; tick counts into `ticks`. */
function envImports(ticks: { count: number }, memory: () => WebAssembly.Memory) {
  return {
    log: (n: number) => {
      const bytes = new Uint8Array(memory().buffer);
      const view = new DataView(bytes.buffer);
      const length = view.getUint32(100, true);
      bytes[length] = n;
      view.setUint32(100, length + 1, true);
    },
    tick: () => {
      ticks.count++;
    },
  };
}

async function instantiate(bytes: Uint8Array, imports: WebAssembly.Imports): Promise<WebAssembly.Instance> {
  return WebAssembly.instantiate(await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>), imports);
}

describe('ImportRewrite', () => {
  test('replaces imports with defined functions and renumbers every use of a function index', async () => {
    const rewrite = new ImportRewrite(await indexedModule(), { replace: (module) => module === 'host' });
    assert.deepEqual(
      rewrite.replaced.map(({ module, name, index }) => `${module}.${name}@${index}`),
      // Two kept imports, then five defined functions, then the replacements.
      ['host.double@7', 'host.unused@8'],
    );
    const bytes = rewrite.encode({
      // double(n) = n * 2 now lives in the module; unused traps.
      body: (entry) =>
        entry.name === 'double'
          ? encodeBody([], new Code().localGet(0).i32Const(2).i32Mul())
          : encodeBody([], new Code().unreachable()),
    });
    let instance: WebAssembly.Instance | undefined;
    const ticks = { count: 0 };
    instance = await instantiate(bytes, {
      env: envImports(ticks, () => instance!.exports.memory as WebAssembly.Memory),
    });
    assert.deepEqual(
      WebAssembly.Module.imports(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>)).map(
        (entry) => entry.name,
      ),
      ['log', 'tick'],
    );
    assert.equal(ticks.count, 1, 'the start function still runs');
    (instance.exports.main as () => void)();
    assert.deepEqual(logged(instance), [1, 2, 3, 4]);
    const ref = (instance.exports.ref as WebAssembly.Global).value as () => void;
    ref();
    assert.deepEqual(logged(instance), [1, 2, 3, 4, 3], 'the global still refers to $three');
  });

  test('adds imports after the kept ones and reuses one the module has', async () => {
    const tick = { module: 'env', name: 'tick', signature: { params: [], results: [] } };
    const clock = { module: 'env', name: 'clock', signature: { params: [], results: [ValType.I32] } };
    const rewrite = new ImportRewrite(await indexedModule(), {
      replace: (module) => module === 'host',
      add: [tick, clock],
    });
    assert.equal(rewrite.importedFunction('env', 'tick'), 1);
    assert.equal(rewrite.importedFunction('env', 'clock'), 2);
    assert.equal(rewrite.functionIndex(4), 3, 'the first defined function moves to after the imports');
    // double now returns what the added clock import does.
    const bytes = rewrite.encode({
      body: (entry) =>
        entry.name === 'double'
          ? encodeBody([], new Code().call(rewrite.importedFunction('env', 'clock')!))
          : encodeBody([], new Code().unreachable()),
      keepExport: (name) => name !== 'ref',
    });
    let instance: WebAssembly.Instance | undefined;
    const env = {
      ...envImports({ count: 0 }, () => instance!.exports.memory as WebAssembly.Memory),
      clock: () => 9,
    };
    instance = await instantiate(bytes, { env });
    (instance.exports.main as () => void)();
    assert.deepEqual(logged(instance), [1, 9, 3, 9]);
    assert.equal(instance.exports.ref, undefined, 'an export left out');
  });
});
