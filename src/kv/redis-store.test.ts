import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from '@redis/client';
import { bytes, describeKeyValueContract, listAll, rejectsWith, text } from './contract.js';
import { createStore, openSyncStore } from './create-store.js';
import type { KeyValueStore } from './key-value-store.js';
import { type RedisTestServer, startRedisServer } from './redis-test-server.js';

let server: RedisTestServer;
/** One store whose relay thread serves every sync store of the sync contract run. */
let relayed: KeyValueStore;

before(async () => {
  server = await startRedisServer();
  relayed = await createStore({ backend: 'redis', url: server.url });
});
after(async () => {
  await relayed?.close();
  await server?.stop();
});

describeKeyValueContract('redis, async', (limits) =>
  createStore({ backend: 'redis', url: server.url }, limits),
);
describeKeyValueContract('redis, sync through the relay thread', async (limits) => {
  const handle = await relayed.workerHandle();
  return openSyncStore({ ...handle, limits: { ...handle.limits, ...limits } });
});

describe('redis key-value store', () => {
  const raw = () => createClient({ url: server.url }).connect();

  it('keeps each key under isola:<app>:<label>: in Redis', async () => {
    const store = await createStore({ backend: 'redis', url: server.url });
    await store.open('tenant/shop', 'default').set('cart:1', bytes('3 items'));
    const client = await raw();
    assert.equal(await client.get('isola:tenant/shop:default:cart:1'), '3 items');
    client.destroy();
    await store.close();
  });

  it('lists a small bucket in a large keyspace exactly, whatever the page size', async () => {
    const store = await createStore({ backend: 'redis', url: server.url });
    const client = await raw();
    const noise = Array.from({ length: 2000 }, (_, index) => [`isola:noisy:default:n${index}`, 'x'] as const);
    await client.mSet(noise.flat() as string[]);
    await client.set('isola:quiet:default', 'not in the bucket: no trailing colon');
    await client.set('other:quiet:default:k', 'not isola');
    client.destroy();
    const bucket = store.open('quiet', 'default');
    const keys = Array.from({ length: 300 }, (_, index) => `q${index}`);
    await bucket.setMany(keys.map((key) => [key, bytes(key)] as const));
    for (const limit of [1, 7, 64, 1000]) {
      const listed = await listAll(bucket, { limit });
      assert.deepEqual([...new Set(listed)].sort(), [...keys].sort(), `limit ${limit}`);
    }
    await store.close();
  });

  it('refuses a cursor that no Redis listing handed out', async () => {
    const store = await createStore({ backend: 'redis', url: server.url });
    const bucket = store.open('cursors', 'default');
    for (const cursor of ['abc', '-1', '1/0/x', '99999999999999999999']) {
      await rejectsWith(() => bucket.listKeys({ cursor }), 'E_KV_CURSOR_INVALID');
    }
    await store.close();
  });

  it('answers a Redis error reply with E_KV_BACKEND_FAILED', async () => {
    const store = await createStore({ backend: 'redis', url: server.url });
    const client = await raw();
    await client.lPush('isola:wrongtype:default:list', 'item');
    client.destroy();
    await rejectsWith(() => store.open('wrongtype', 'default').get('list'), 'E_KV_BACKEND_FAILED');
    await store.close();
  });

  it('sends compare-and-swap whole again when the server has forgotten its script', async () => {
    const store = await createStore({ backend: 'redis', url: server.url });
    const bucket = store.open('scripts', 'default');
    assert.equal((await bucket.compareAndSwap('k', undefined, bytes('1'))).swapped, true);
    const client = await raw();
    await client.scriptFlush();
    client.destroy();
    assert.equal((await bucket.compareAndSwap('k', bytes('1'), bytes('2'))).swapped, true);
    assert.equal(text(await bucket.get('k')), '2');
    await store.close();
  });

  it('fails at createStore with the url, password hidden, when no server answers', async () => {
    const down = await startRedisServer();
    await down.stop();
    const url = `redis://user:secret@127.0.0.1:${down.port}`;
    await assert.rejects(
      () => createStore({ backend: 'redis', url, connectTimeoutMs: 300 }),
      (error: Error) => {
        assert.match(error.message, /cannot reach Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1/);
        assert.doesNotMatch(error.message, /secret/);
        return true;
      },
    );
  });

  it('fails calls fast with E_KV_UNAVAILABLE once the server has gone', async () => {
    const own = await startRedisServer();
    const store = await createStore({ backend: 'redis', url: own.url });
    const bucket = store.open('gone', 'default');
    await bucket.set('k', bytes('v'));
    await own.stop();
    const started = performance.now();
    await rejectsWith(() => bucket.get('k'), 'E_KV_UNAVAILABLE');
    assert.ok(performance.now() - started < 2000, 'the call waited for a reconnect');
    await store.close();
  });
});
