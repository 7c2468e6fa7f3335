import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it, test } from 'node:test';
import { isIsolaError } from '../../src/errors.js';
import { runCommand } from '../../src/runtime/run-command.js';
import { CaptureSink, WasiBuilder } from '../../src/wasi/index.js';
import { fixtureBytes, fixturePath } from '../fixtures/paths.js';

const ISOLA = resolve(import.meta.dirname, '../../bin/isola.js');

test('infinite-loop is stopped at its deadline', async () => {
  const module = await WebAssembly.compile(fixtureBytes('infinite-loop'));
  const started = Date.now();
  const outcome = await runCommand({
    module,
    config: { args: ['infinite-loop.wasm'], env: [], dirs: [], limits: {}, trace: false },
    timeoutMs: 200,
  });
  assert.equal(outcome.kind, 'timeout');
  assert.ok(Date.now() - started < 5000, 'stopping the loop took too long');
});

test('memory-hog stops growing at --max-memory-size and still exits cleanly', () => {
  assert.ok(existsSync(ISOLA), 'bin/isola.js is missing');
  const result = spawnSync(
    process.execPath,
    [ISOLA, 'run', '--max-memory-size', String(16 * 1024 * 1024), fixturePath('memory-hog')],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  const match = /memory\.grow failed at (\d+) pages/.exec(result.stdout);
  assert.ok(match, result.stdout);
  assert.ok(Number(match[1]) <= 256, `grew to ${match[1]} pages past a 256-page cap`);
  assert.ok(Number(match[1]) >= 240, `stopped at ${match[1]} pages, well short of the cap`);
});

describe('output limits', () => {
  it('ends an instance that writes past maxStdoutBytes with E_GUEST_OUTPUT_LIMIT', () => {
    const module = new WebAssembly.Module(readFileSync(fixturePath('hello-stdout')));
    const wasi = new WasiBuilder()
      .stdout(new CaptureSink(1 << 20))
      .limits({ maxStdoutBytes: 5 })
      .build();
    assert.throws(
      () => wasi.start(new WebAssembly.Instance(module, wasi.imports)),
      (error) => isIsolaError(error, 'E_GUEST_OUTPUT_LIMIT') && /raise maxStdoutBytes/.test(error.message),
    );
  });

  it('ends an instance whose capturing sink is full, with the sink’s own error', () => {
    const module = new WebAssembly.Module(readFileSync(fixturePath('hello-stdout')));
    const wasi = new WasiBuilder().stdout(new CaptureSink(4, 'stdout')).build();
    assert.throws(
      () => wasi.start(new WebAssembly.Instance(module, wasi.imports)),
      (error) => isIsolaError(error, 'E_GUEST_OUTPUT_LIMIT') && /more than 4 bytes/.test(error.message),
    );
  });
});
