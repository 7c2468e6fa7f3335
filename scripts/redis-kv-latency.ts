/**
 * Measures key-value get/set latency, one call at a time, for the SQLite store and the Redis
 * store (a real redis-server started on 127.0.0.1 for the run): the async store on the main
 * thread, the sync store on the main thread, and the sync store inside a worker thread (SQLite on
 * the worker's own connection, Redis through the relay thread). Values are 100 bytes.
 *
 *   npx tsx scripts/redis-kv-latency.ts [samples]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore, openSyncStore } from '../src/kv/create-store.js';
import type { KeyValueStore } from '../src/kv/key-value-store.js';
import { startRedisServer } from '../src/kv/redis-test-server.js';
import type { KeyValueBucket, SyncKeyValueBucket } from '../src/kv/store.js';
import { runProbe } from '../src/kv/sync-store-probe.js';

const samples = Number(process.argv[2] ?? 5000);
const value = new Uint8Array(100).fill(7);

type Row = { store: string; getMedianUs: number; getP99Us: number; setMedianUs: number; setP99Us: number };

async function time(bucket: KeyValueBucket | SyncKeyValueBucket): Promise<Omit<Row, 'store'>> {
  const sets: number[] = [];
  const gets: number[] = [];
  for (let index = 0; index < samples; index++) {
    const key = `latency-${index % 100}`;
    // A changed value: SQLite skips writing a page whose bytes an update leaves as they were.
    new DataView(value.buffer).setUint32(0, index);
    let started = performance.now();
    await bucket.set(key, value);
    sets.push(performance.now() - started);
    started = performance.now();
    await bucket.get(key);
    gets.push(performance.now() - started);
  }
  const quantile = (times: number[], q: number) =>
    Math.round(times.sort((a, b) => a - b)[Math.floor(q * (times.length - 1))]! * 1000);
  return {
    getMedianUs: quantile(gets, 0.5),
    getP99Us: quantile(gets, 0.99),
    setMedianUs: quantile(sets, 0.5),
    setP99Us: quantile(sets, 0.99),
  };
}

async function measure(name: string, store: KeyValueStore): Promise<Row[]> {
  const rows: Row[] = [];
  rows.push({ store: `${name}, async, main thread`, ...(await time(store.open('latency', 'default'))) });
  const sync = openSyncStore(await store.workerHandle());
  rows.push({ store: `${name}, sync, main thread`, ...(await time(sync.open('latency', 'default'))) });
  sync.close();
  const report = await runProbe({
    handle: await store.workerHandle(),
    app: 'latency',
    increments: 0,
    samples,
  });
  rows.push({ store: `${name}, sync, worker thread`, ...report.latency! });
  return rows;
}

const dir = mkdtempSync(join(tmpdir(), 'isola-kv-latency-'));
const server = await startRedisServer();
try {
  const rows: Row[] = [];
  for (const synchronous of ['normal', 'full'] as const) {
    const sqlite = await createStore({
      backend: 'sqlite',
      path: join(dir, `${synchronous}.sqlite`),
      synchronous,
    });
    rows.push(...(await measure(`sqlite (synchronous=${synchronous})`, sqlite)));
    await sqlite.close();
  }
  const redis = await createStore({ backend: 'redis', url: server.url });
  rows.push(...(await measure('redis', redis)));
  await redis.close();
  console.log(`${samples} sequential calls each, 100-byte values, microseconds:`);
  console.table(rows);
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
