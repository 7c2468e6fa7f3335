/**
 * A worker thread entry for tests and latency measurements: opens the sync store that its
 * `workerData.handle` describes, as a guest's host services will, runs a fixed script of calls
 * on one bucket, and posts what it saw. Every call here returns synchronously.
 */
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { openSyncStore } from './create-store.js';
import type { SyncStoreHandle } from './key-value-store.js';
import { kvCodeOf } from './kv-error.js';
import type { SyncKeyValueBucket } from './store.js';
import { transferListOf } from './worker-handle.js';

export interface ProbeSetup {
  handle: SyncStoreHandle;
  app: string;
  /** Increments of the key "hits", to check that concurrent threads' increments all count. */
  increments: number;
  /** Timed gets and sets of a 100-byte value; 0 skips the timing. */
  samples: number;
}

export interface ProbeReport {
  /** What the worker read back after writing "written by a worker". */
  readBack: string | undefined;
  /** The key-value code of incrementing a value that is not an integer. */
  notIntegerCode: string | undefined;
  /** Keys listed after the writes. */
  keys: string[];
  /** Medians and 99th percentiles of the timed calls, in microseconds. */
  latency: { getMedianUs: number; getP99Us: number; setMedianUs: number; setP99Us: number } | undefined;
}

/** Runs the probe in a new worker thread (from the .ts source under tsx) and returns its report. */
export function runProbe(setup: ProbeSetup): Promise<ProbeReport> {
  const source = new URL('./sync-store-probe.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  const worker = new Worker(bootstrap, {
    eval: true,
    workerData: setup,
    transferList: transferListOf(setup.handle),
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (report: ProbeReport) => {
      resolve(report);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) =>
      reject(new Error(`the probe worker exited with code ${code} before reporting`)),
    );
  });
}

if (parentPort && (workerData as Partial<ProbeSetup> | null)?.handle !== undefined) {
  const setup = workerData as ProbeSetup;
  const store = openSyncStore(setup.handle);
  const bucket = store.open(setup.app, 'default');
  bucket.set('from-worker', new TextEncoder().encode('written by a worker'));
  const value = bucket.get('from-worker');
  for (let index = 0; index < setup.increments; index++) bucket.increment('hits', 1n);
  let notIntegerCode: string | undefined;
  try {
    bucket.increment('from-worker', 1n);
  } catch (error) {
    notIntegerCode = kvCodeOf(error);
  }
  const report: ProbeReport = {
    readBack: value === undefined ? undefined : new TextDecoder().decode(value),
    notIntegerCode,
    keys: bucket.listKeys().keys.sort(),
    latency: setup.samples > 0 ? measure(bucket, setup.samples) : undefined,
  };
  store.close();
  parentPort.postMessage(report);
}

function measure(bucket: SyncKeyValueBucket, samples: number): ProbeReport['latency'] {
  const value = new Uint8Array(100).fill(7);
  const sets: number[] = [];
  const gets: number[] = [];
  for (let index = 0; index < samples; index++) {
    const key = `latency-${index % 100}`;
    // A changed value: SQLite skips writing a page whose bytes an update leaves as they were.
    new DataView(value.buffer).setUint32(0, index);
    let started = performance.now();
    bucket.set(key, value);
    sets.push(performance.now() - started);
    started = performance.now();
    bucket.get(key);
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
