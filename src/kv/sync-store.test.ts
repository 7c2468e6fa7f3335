import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { bytes, describeKeyValueContract, rejectsWith, text } from './contract.js';
import { createStore, openSyncStore } from './create-store.js';
import type { KeyValueStore } from './key-value-store.js';
import { KV_LIMIT_DEFAULTS, resolveKeyValueLimits } from './limits.js';
import { type RedisTestServer, startRedisServer } from './redis-test-server.js';
import { KeyValueRelay } from './relay.js';
import { RelayedBackend } from './relay-client.js';
import { CONTROL_SLOTS } from './relay-protocol.js';
import { runProbe } from './sync-store-probe.js';
import { transferListOf } from './worker-handle.js';

const dir = mkdtempSync(join(tmpdir(), 'isola-kv-sync-'));
let server: RedisTestServer;
const stores: Record<'sqlite' | 'redis', KeyValueStore> = {} as never;
/** A relay thread serving SQLite, which the SQLite store itself never needs: it tests the relay alone. */
let sqliteRelay: KeyValueRelay;

before(async () => {
  server = await startRedisServer();
  stores.sqlite = await createStore({ backend: 'sqlite', path: join(dir, 'kv.sqlite') });
  stores.redis = await createStore({ backend: 'redis', url: server.url });
  sqliteRelay = await KeyValueRelay.start({ backend: 'sqlite', path: join(dir, 'relayed.sqlite') });
});
after(async () => {
  await Promise.all([stores.sqlite?.close(), stores.redis?.close(), sqliteRelay?.close()]);
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describeKeyValueContract('sqlite, sync through the relay thread', async (limits) =>
  openSyncStore({
    backend: { kind: 'relay', channel: sqliteRelay.connect() },
    limits: resolveKeyValueLimits(limits),
  }),
);
for (const backend of ['redis', 'sqlite'] as const) {
  describe(`${backend} store from a worker thread`, () => {
    it('reads, writes, lists and fails synchronously inside a real worker thread', async () => {
      const handle = await stores[backend].workerHandle();
      assert.equal(transferListOf(handle).length, backend === 'redis' ? 1 : 0);
      const report = await runProbe({ handle, app: `probe-${backend}`, increments: 3, samples: 0 });
      assert.equal(report.readBack, 'written by a worker');
      assert.equal(report.notIntegerCode, 'E_KV_NOT_INTEGER');
      assert.deepEqual(report.keys, ['from-worker', 'hits']);
      const bucket = stores[backend].open(`probe-${backend}`, 'default');
      assert.equal(text(await bucket.get('hits')), '3');
      bucket.close();
    });

    it('counts every increment made at once by two worker threads and the main thread', async () => {
      const app = `concurrent-${backend}`;
      const bucket = stores[backend].open(app, 'default');
      const workers = [0, 1].map(async () =>
        runProbe({ handle: await stores[backend].workerHandle(), app, increments: 200, samples: 0 }),
      );
      for (let index = 0; index < 200; index++) await bucket.increment('hits', 1n);
      await Promise.all(workers);
      assert.equal(text(await bucket.get('hits')), '600');
      bucket.close();
    });
  });
}

describe('key-value relay', () => {
  it('fails a call with E_KV_UNAVAILABLE at its timeout when nothing answers', async () => {
    const { port1 } = new MessageChannel();
    const control = new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    const backend = new RelayedBackend({ port: port1, control, timeoutMs: 100 });
    const started = performance.now();
    await rejectsWith(() => backend.get({ app: 'a', label: 'default' }, 'k'), 'E_KV_UNAVAILABLE');
    assert.ok(performance.now() - started >= 99);
    backend.close();
  });

  it('fails calls at once, not at their timeout, after the relay has closed', async () => {
    const config = { backend: 'sqlite', path: join(dir, 'closing.sqlite') } as const;
    const relay = await KeyValueRelay.start(config, { timeoutMs: 60_000 });
    const store = openSyncStore({
      backend: { kind: 'relay', channel: relay.connect() },
      limits: { ...KV_LIMIT_DEFAULTS },
    });
    const bucket = store.open('closing', 'default');
    bucket.set('k', bytes('v'));
    await relay.close();
    await relay.close();
    const started = performance.now();
    await rejectsWith(() => bucket.get('k'), 'E_KV_UNAVAILABLE');
    assert.ok(performance.now() - started < 1000);
    assert.throws(() => relay.connect());
    store.close();
  });

  it('fails to start with the backend error when the backend cannot be reached', async () => {
    const down = await startRedisServer();
    await down.stop();
    await rejectsWith(
      () => KeyValueRelay.start({ backend: 'redis', url: down.url, connectTimeoutMs: 200 }),
      'E_KV_UNAVAILABLE',
    );
  });
});
