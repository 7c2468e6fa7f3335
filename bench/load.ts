/**
 * Load tests for the HTTP benchmark suites: autocannon (npm) in its own process against a URL on
 * 127.0.0.1, for a bounded time, read back as req/s and latency percentiles.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Measurement, Measurer, Metric } from './harness.js';

const ROOT = resolve(import.meta.dirname, '..');

/** Seconds each measured load test runs (a quick run: `LOAD_SECONDS_QUICK`). */
export const LOAD_SECONDS = 5;
export const LOAD_SECONDS_QUICK = 2;

/** Throughput as time per request (1 / req/s), so that lower is better everywhere. */
export const LOAD_METRICS: readonly Metric[] = [
  { name: 'time per request (1 / req/s)', unit: 'ns' },
  { name: 'p50 latency', unit: 'ns' },
  { name: 'p99 latency', unit: 'ns' },
];

export interface Load {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

/** Runs autocannon in its own process against `url`. */
export async function loadTest(url: string, connections: number, seconds: number): Promise<Load> {
  const bin = join(ROOT, 'node_modules/autocannon/autocannon.js');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [bin, '--json', '--connections', String(connections), '--duration', String(seconds), url],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const result = JSON.parse(stdout) as {
    requests: { average: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
  };
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

/** The load as `LOAD_METRICS`; throws when any response was not 2xx or failed. */
export function loadMeasurement(load: Load): Measurement {
  if (load.non2xx > 0 || load.errors > 0 || load.requestsPerSecond === 0) {
    throw new Error(`the load test saw ${load.non2xx} non-2xx responses and ${load.errors} errors`);
  }
  return {
    'time per request (1 / req/s)': 1e9 / load.requestsPerSecond,
    'p50 latency': load.p50Ms * 1e6,
    'p99 latency': load.p99Ms * 1e6,
  };
}

/**
 * The baseline of the HTTP suites: a bare `node:http` server answering every request with `body`,
 * loaded at `connections` for `LOAD_SECONDS` after a second of warm-up.
 */
export function bareServer(body: string, connections: number, path = '/'): Measurer {
  return {
    name: 'bare node:http',
    async measure({ quick }) {
      const server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(body);
      });
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      const { port } = server.address() as AddressInfo;
      const url = `http://127.0.0.1:${port}${path}`;
      try {
        await loadTest(url, connections, 1);
        return loadMeasurement(await loadTest(url, connections, quick ? LOAD_SECONDS_QUICK : LOAD_SECONDS));
      } finally {
        server.close();
      }
    },
  };
}
