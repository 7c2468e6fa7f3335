import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { SqliteConfig } from './config.js';
import { bytes, describeKeyValueContract, listAll, rejectsWith } from './contract.js';
import { createStore, openSyncStore } from './create-store.js';
import { kvCodeOf } from './kv-error.js';
import { resolveKeyValueLimits } from './limits.js';
import { prefixEnd, SqliteBackend } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'isola-kv-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const config: SqliteConfig = { backend: 'sqlite', path: join(dir, 'contract', 'kv.sqlite') };

describeKeyValueContract('sqlite, async', (limits) => createStore(config, limits));
describeKeyValueContract('sqlite, sync', async (limits) =>
  openSyncStore({ backend: { kind: 'sqlite', config }, limits: resolveKeyValueLimits(limits) }),
);

describe('sqlite key-value store', () => {
  it('keeps every acknowledged write when its process is killed', async () => {
    const path = join(dir, 'killed', 'kv.sqlite');
    const module = new URL('./sqlite-store.ts', import.meta.url).href;
    // The child acknowledges each write on stdout only after set() returned, then is SIGKILLed mid-stream.
    const code = `
      import { writeSync } from 'node:fs';
      const { SqliteBackend } = await import(${JSON.stringify(module)});
      const backend = new SqliteBackend({ backend: 'sqlite', path: ${JSON.stringify(path)} });
      const bucket = { app: 'durable', label: 'default' };
      const pause = new Int32Array(new SharedArrayBuffer(4));
      // stdout is a non-blocking pipe: when the parent falls behind, wait for room rather than fail.
      const acknowledge = (line) => {
        for (;;) {
          try {
            return writeSync(1, line);
          } catch (error) {
            if (error.code !== 'EAGAIN') throw error;
            Atomics.wait(pause, 0, 0, 1);
          }
        }
      };
      for (let index = 0; index < 1_000_000; index++) {
        backend.set(bucket, 'k' + index, Buffer.from(String(index)));
        acknowledge(index + '\\n');
      }`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let errors = '';
    child.stderr.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
    });
    const exited = new Promise<string>((resolve) =>
      child.once('exit', (code, signal) => resolve(signal ?? `exit code ${code}`)),
    );
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.split('\n').length > 2000) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => resolve());
    });
    assert.equal(await exited, 'SIGKILL', errors);
    const acknowledged = output.split('\n').filter((line) => line !== '');
    assert.ok(acknowledged.length >= 2000, `only ${acknowledged.length} writes were acknowledged`);
    const backend = new SqliteBackend({ backend: 'sqlite', path });
    try {
      const bucket = { app: 'durable', label: 'default' };
      const values = backend.getMany(
        bucket,
        acknowledged.map((index) => `k${index}`),
      );
      const lost = acknowledged.filter((_, position) => values[position] === undefined);
      assert.deepEqual(lost, [], 'acknowledged writes were lost');
    } finally {
      backend.close();
    }
  });

  it('puts its database in WAL mode, which the file keeps for every later connection', () => {
    const path = join(dir, 'modes', 'kv.sqlite');
    new SqliteBackend({ backend: 'sqlite', path, synchronous: 'full' }).close();
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  it('refuses a database written by a newer schema, naming the fix', () => {
    const path = join(dir, 'newer.sqlite');
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    assert.throws(
      () => new SqliteBackend({ backend: 'sqlite', path }),
      (error: unknown) => kvCodeOf(error) === 'E_KV_UNAVAILABLE' && /upgrade isola/.test(String(error)),
    );
  });

  it('fails at createStore, not at the first call, when the database cannot be opened', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    await rejectsWith(
      () => createStore({ backend: 'sqlite', path: join(file, 'kv.sqlite') }),
      'E_KV_UNAVAILABLE',
    );
  });

  it('refuses a configuration that names no usable backend', async () => {
    await rejectsWith(() => createStore({ backend: 'sqlite', path: ':memory:' }), 'E_KV_CONFIG_INVALID');
    await rejectsWith(
      () => createStore({ backend: 'sqlite', path: join(dir, 'x.sqlite'), synchronous: 'off' as 'full' }),
      'E_KV_CONFIG_INVALID',
    );
    await rejectsWith(() => createStore({ backend: 'memcached' } as never), 'E_KV_CONFIG_INVALID');
    await rejectsWith(
      () => createStore({ backend: 'redis', url: 'http://localhost' }),
      'E_KV_CONFIG_INVALID',
    );
  });

  it('lists keys in UTF-8 byte order, astral characters after the rest of the BMP', async () => {
    const store = await createStore({ backend: 'sqlite', path: join(dir, 'order.sqlite') });
    const bucket = store.open('order', 'default');
    const keys = ['\uffff', '😀', 'z', '\ud7ff', '\ue000', 'a'];
    for (const key of keys) await bucket.set(key, bytes(key));
    assert.deepEqual(await listAll(bucket, { limit: 2 }), ['a', 'z', '\ud7ff', '\ue000', '\uffff', '😀']);
    assert.deepEqual(await listAll(bucket, { prefix: '\ud7ff' }), ['\ud7ff']);
    await store.close();
  });

  it('bounds a prefix by the next code point, skipping the surrogates', () => {
    assert.equal(prefixEnd(''), undefined);
    assert.equal(prefixEnd('ab'), 'ac');
    assert.equal(prefixEnd('a\ud7ff'), 'a\ue000');
    assert.equal(prefixEnd('a\u{10ffff}'), 'b');
    assert.equal(prefixEnd('\u{10ffff}\u{10ffff}'), undefined);
    assert.equal(prefixEnd('x😀'), 'x😁');
  });

  it('shares one database between stores opened on the same file', async () => {
    const path = join(dir, 'shared.sqlite');
    const first = await createStore({ backend: 'sqlite', path });
    const second = await createStore({ backend: 'sqlite', path });
    await first.open('app', 'default').set('k', bytes('v'));
    assert.equal(await second.open('app', 'default').exists('k'), true);
    await Promise.all([first.close(), second.close()]);
  });
});
