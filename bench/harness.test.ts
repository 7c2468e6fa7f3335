/** The harness's statistics, formatting and timing loop. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkMeasurement,
  formatAmountRatio,
  formatBytes,
  formatDuration,
  formatSpeedup,
  MIN_ITERATIONS,
  quantile,
  renderTable,
  speedup,
  summarize,
  timeIterations,
  type ValueCase,
} from './harness.js';

describe('quantile', () => {
  test('the median of an odd count is the middle value', () => {
    assert.equal(quantile([1, 2, 3, 4, 100], 0.5), 3);
  });

  test('the median of an even count is the mean of the two middle values', () => {
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  });

  test('p99 interpolates between the two highest ranks', () => {
    const values = Array.from({ length: 101 }, (_, i) => i);
    assert.equal(quantile(values, 0.99), 99);
    assert.ok(Math.abs(quantile([0, 10], 0.99) - 9.9) < 1e-9);
  });

  test('the extremes are the minimum and maximum', () => {
    assert.equal(quantile([5, 7, 9], 0), 5);
    assert.equal(quantile([5, 7, 9], 1), 9);
  });

  test('a single sample is every quantile', () => {
    assert.equal(quantile([42], 0.5), 42);
    assert.equal(quantile([42], 0.99), 42);
  });

  test('no samples and quantiles outside [0, 1] are refused', () => {
    assert.throws(() => quantile([], 0.5), RangeError);
    assert.throws(() => quantile([1], 1.5), RangeError);
    assert.throws(() => quantile([1], Number.NaN), RangeError);
  });
});

describe('summarize', () => {
  test('sorts its input without changing it and reports every statistic', () => {
    const samples = [30, 10, 20, 40];
    const summary = summarize(samples);
    assert.deepEqual(samples, [30, 10, 20, 40]);
    assert.equal(summary.n, 4);
    assert.equal(summary.median, 25);
    assert.equal(summary.mean, 25);
    assert.equal(summary.min, 10);
    assert.equal(summary.max, 40);
    assert.ok(Math.abs(summary.p99 - 39.7) < 1e-9);
  });
});

describe('speedup', () => {
  test('is baseline time over contender time, above 1 when the contender is faster', () => {
    assert.equal(speedup(300, 100), 3);
    assert.equal(speedup(100, 400), 0.25);
  });

  test('reads as "× faster" above 1 and as the reciprocal "× slower" below', () => {
    assert.equal(formatSpeedup(3.2), '3.20× faster');
    assert.equal(formatSpeedup(1), '1.00× faster');
    assert.equal(formatSpeedup(0.8), '1.25× slower');
    assert.equal(formatSpeedup(Number.POSITIVE_INFINITY), 'n/a');
    assert.equal(formatSpeedup(0), 'n/a');
  });
});

describe('formatDuration', () => {
  test('picks the largest unit that keeps the value at least 1, with three significant digits', () => {
    assert.equal(formatDuration(850), '850 ns');
    assert.equal(formatDuration(12_345), '12.3 µs');
    assert.equal(formatDuration(45_600_000), '45.6 ms');
    assert.equal(formatDuration(1_234_567_890), '1.23 s');
    assert.equal(formatDuration(0.5), '0.5 ns');
  });
});

describe('formatBytes', () => {
  test('picks the largest binary unit that keeps the value at least 1, with three significant digits', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(20_582), '20.1 KiB');
    assert.equal(formatBytes(3 * 1024 * 1024), '3 MiB');
    assert.equal(formatBytes(1.5 * 1024 ** 3), '1.5 GiB');
    assert.equal(formatBytes(-2048), '-2 KiB');
  });
});

describe('formatAmountRatio', () => {
  test('reads as "× more" when the contender needs more than the baseline and "× less" otherwise', () => {
    assert.equal(formatAmountRatio(100, 250), '2.50× more');
    assert.equal(formatAmountRatio(100, 100), '1.00× more');
    assert.equal(formatAmountRatio(100, 25), '4.00× less');
  });

  test('has no ratio unless both amounts are positive', () => {
    assert.equal(formatAmountRatio(0, 10), 'n/a');
    assert.equal(formatAmountRatio(10, -5), 'n/a');
    assert.equal(formatAmountRatio(Number.NaN, 10), 'n/a');
  });
});

describe('checkMeasurement', () => {
  const valueCase: ValueCase = {
    kind: 'values',
    name: 'apps',
    measurement: 'load apps',
    metrics: [
      { name: 'rss', unit: 'bytes' },
      { name: 'load time', unit: 'ns' },
    ],
    maxSeconds: 1,
    baseline: { name: 'old', measure: () => ({}) },
    contenders: [],
  };

  test('accepts finite values of declared metrics, some of them left out', () => {
    assert.deepEqual(checkMeasurement(valueCase, { rss: 1024 }), { rss: 1024 });
  });

  test('refuses a metric the case does not declare, and values that are not finite numbers', () => {
    assert.throws(() => checkMeasurement(valueCase, { rsss: 1 }), /has no metric "rsss"/);
    assert.throws(() => checkMeasurement(valueCase, { rss: Number.NaN }), /not a finite number/);
    assert.throws(() => checkMeasurement(valueCase, { 'load time': Number.POSITIVE_INFINITY }), /finite/);
  });
});

describe('timeIterations', () => {
  test('runs the warm-up untimed, then one sample per timed iteration', async () => {
    let calls = 0;
    let collected = 0;
    const samples = await timeIterations(
      { run: () => calls++ },
      { iterations: 5, warmup: 2, maxSeconds: 60 },
      () => collected++,
    );
    assert.equal(calls, 7);
    assert.equal(samples.length, 5);
    assert.equal(collected, 1, 'gc runs once, between warm-up and timing');
    assert.ok(samples.every((ns) => Number.isFinite(ns) && ns >= 0));
  });

  test('awaits an asynchronous iteration and times it whole', async () => {
    const samples = await timeIterations(
      { run: () => new Promise((resolve) => setTimeout(resolve, 5)) },
      { iterations: 3, warmup: 0, maxSeconds: 60 },
    );
    assert.ok(
      samples.every((ns) => ns >= 4e6),
      `samples ${samples.join(', ')}`,
    );
  });

  test('stops at the time budget, but not before the minimum number of iterations', async () => {
    const busy = () => {
      const end = Date.now() + 2;
      while (Date.now() < end);
    };
    const samples = await timeIterations({ run: busy }, { iterations: 1000, warmup: 0, maxSeconds: 0.001 });
    assert.equal(samples.length, MIN_ITERATIONS);
  });

  test('a failing iteration fails the run', async () => {
    await assert.rejects(
      timeIterations(
        {
          run: () => {
            throw new Error('guest exited with 1');
          },
        },
        { iterations: 3, warmup: 0, maxSeconds: 60 },
      ),
      /guest exited with 1/,
    );
  });
});

describe('renderTable', () => {
  test('shows ratios against the baseline, per-op times and failures on one line', () => {
    const table = renderTable({
      name: 'demo',
      title: 'a demo',
      cases: [
        {
          name: 'writes',
          iteration: 'one run of 1,000 writes',
          opsPerIteration: 1000,
          results: [
            { contender: 'old', baseline: true, summary: summarize([2_000_000, 2_000_000]) },
            { contender: 'new', baseline: false, summary: summarize([1_000_000, 1_000_000]) },
            { contender: 'broken', baseline: false, error: 'exit 1 | see\tstderr\n    at a stack frame' },
          ],
        },
      ],
    });
    const lines = table.split('\n');
    assert.equal(lines[0], '### demo: a demo');
    assert.ok(
      lines.includes(
        '| writes (one run of 1,000 writes) | old (baseline) | 2 | 2 ms | 2 ms | 2 µs | baseline | baseline |',
      ),
    );
    assert.ok(lines.includes('|  | new | 2 | 1 ms | 1 ms | 1 µs | 2.00× faster | 2.00× faster |'));
    assert.ok(lines.includes('|  | broken | – | failed: exit 1 \\| see stderr | | | | |'));
  });

  test('shows value cases in a table of their own: a row per metric and contender, ratios to the baseline', () => {
    const table = renderTable({
      name: 'demo',
      title: 'a demo',
      cases: [
        {
          kind: 'values',
          name: 'apps',
          measurement: 'load 10 apps',
          metrics: [
            { name: 'RSS per app', unit: 'bytes' },
            { name: 'load time', unit: 'ns' },
          ],
          results: [
            {
              contender: 'old',
              baseline: true,
              values: { 'RSS per app': summarize([2048, 4096, 1024]), 'load time': summarize([1500]) },
            },
            { contender: 'new', baseline: false, values: { 'RSS per app': summarize([1024]) } },
            { contender: 'broken', baseline: false, error: 'out of memory\n    at a stack frame' },
          ],
        },
      ],
    });
    const lines = table.split('\n');
    assert.ok(!lines.some((line) => line.includes('| p99 |')), 'no timed table without timed cases');
    const rows = lines.filter((line) => /^\| (?!case |---)/.test(line));
    assert.deepEqual(rows, [
      '| apps (load 10 apps) |  | broken | – | failed: out of memory |  |',
      '|  | RSS per app | old (baseline) | 3 | 2 KiB | baseline |',
      '|  |  | new | 1 | 1 KiB | 2.00× less |',
      '|  | load time | old (baseline) | 1 | 1.5 µs | baseline |',
      '|  |  | new | – | not measured |  |',
    ]);
  });
});
