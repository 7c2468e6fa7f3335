import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../../src/runtime/run-command.js';
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
