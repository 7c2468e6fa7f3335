/**
 * The benchmark harness: what a suite declares (cases, each with a baseline and contenders), the
 * timing loop that runs one contender, the statistics over its per-iteration times, and the
 * markdown table that reports them. Process orchestration lives in `run.ts`.
 *
 * A suite is a file `bench/suites/<name>.ts` exporting `suite: Suite`. Every contender of every
 * case runs in its own child process (see `run.ts` for why), so `prepare()` may load modules,
 * open files and warm caches without biasing its rivals.
 */

/** Where a contender runs and how big the run is. */
export interface CaseContext {
  /** A directory the case's `setup()` filled, shared read-only by all of its contenders. */
  readonly dataDir: string;
  /** True for a smoke run (`--quick`): fewer iterations, same workload per iteration. */
  readonly quick: boolean;
}

/** A contender made ready to be timed. */
export interface Prepared {
  /**
   * One timed iteration. A returned promise is awaited (and timed); a synchronous function is
   * never awaited, so it pays no microtask turn per iteration.
   */
  run(): unknown;
  /** Releases what `prepare()` took (descriptors, servers); not timed. */
  teardown?(): void | Promise<void>;
}

export interface Contender {
  /** Shown in the table, e.g. `node:wasi` or `isola`. */
  readonly name: string;
  /** Runs once in the contender's own process, untimed; returns the function to time. */
  prepare(context: CaseContext): Prepared | Promise<Prepared>;
}

/** How many times to run a contender; the time budget stops it earlier if needed. */
export interface IterationPlan {
  /** Timed iterations. */
  readonly iterations: number;
  /** Untimed iterations first, so the JIT and caches settle. */
  readonly warmup: number;
  /** Stop timing after this long even if fewer iterations ran (at least `MIN_ITERATIONS` run). */
  readonly maxSeconds: number;
}

export interface BenchCase {
  /** Short, unique within the suite, usable with `--filter`. */
  readonly name: string;
  /** What one iteration does, e.g. "one run of 100,000 × 16 B fd_write". */
  readonly iteration: string;
  /** Operations per iteration (e.g. 100,000 writes), to show the time per operation too. */
  readonly opsPerIteration?: number;
  readonly full: IterationPlan;
  readonly quick: IterationPlan;
  /** Node/V8 flags for every contender's process (the same for all, so the ratio stays fair). */
  readonly execArgv?: readonly string[];
  /** Builds the case's input data once, in the parent, before any contender starts. */
  setup?(dataDir: string): void | Promise<void>;
  readonly baseline: Contender;
  readonly contenders: readonly Contender[];
}

export interface Suite {
  /** The file name without `.ts`, e.g. `wasi`. */
  readonly name: string;
  /** A heading for the table, e.g. "isola's WASI vs node:wasi". */
  readonly title: string;
  readonly cases: readonly BenchCase[];
}

/** Fewest timed iterations a contender runs, whatever its time budget says. */
export const MIN_ITERATIONS = 3;

/** Every contender in a case, baseline first. */
export function contendersOf(benchCase: BenchCase): Contender[] {
  return [benchCase.baseline, ...benchCase.contenders];
}

/** A promise-like value, recognised without awaiting values that are not one. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Times `prepared.run` `plan.warmup` + up to `plan.iterations` times and returns the timed
 * iterations' durations in nanoseconds. `gc` (from `--expose-gc`), when given, runs once between
 * warm-up and timing so that warm-up garbage is not collected on the timed clock.
 */
export async function timeIterations(
  prepared: Prepared,
  plan: IterationPlan,
  gc?: () => void,
): Promise<number[]> {
  for (let i = 0; i < plan.warmup; i++) {
    const result = prepared.run();
    if (isThenable(result)) await result;
  }
  gc?.();
  const budgetNs = BigInt(Math.round(plan.maxSeconds * 1e9));
  const samples: number[] = [];
  const begin = process.hrtime.bigint();
  for (let i = 0; i < plan.iterations; i++) {
    const start = process.hrtime.bigint();
    const result = prepared.run();
    if (isThenable(result)) await result;
    const end = process.hrtime.bigint();
    samples.push(Number(end - start));
    if (end - begin > budgetNs && samples.length >= MIN_ITERATIONS) break;
  }
  return samples;
}

/** The `p`-quantile (0 ≤ p ≤ 1) of sorted values, interpolating linearly between ranks. */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no samples');
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile ${p} is outside [0, 1]`);
  const rank = (sorted.length - 1) * p;
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (rank - lower);
}

/** Summary statistics of one contender's samples, in nanoseconds. */
export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly p99: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    mean: total / sorted.length,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
  };
}

/**
 * How much faster the contender is than the baseline: baseline time ÷ contender time, so above 1
 * the contender is faster and below 1 it is slower.
 */
export function speedup(baselineNs: number, contenderNs: number): number {
  return baselineNs / contenderNs;
}

/** `3.20× faster`, `1.25× slower` (the reciprocal, so both read as "how many times"). */
export function formatSpeedup(ratio: number): string {
  if (!Number.isFinite(ratio) || ratio <= 0) return 'n/a';
  if (ratio >= 1) return `${ratio.toFixed(2)}× faster`;
  return `${(1 / ratio).toFixed(2)}× slower`;
}

const DURATION_UNITS: readonly [number, string][] = [
  [1e9, 's'],
  [1e6, 'ms'],
  [1e3, 'µs'],
];

/** A duration in nanoseconds with three significant digits and a readable unit. */
export function formatDuration(ns: number): string {
  for (const [scale, unit] of DURATION_UNITS) {
    if (Math.abs(ns) >= scale) return `${Number((ns / scale).toPrecision(3))} ${unit}`;
  }
  return `${Number(ns.toPrecision(3))} ns`;
}

/** One contender's outcome in a case: its summary, or why it failed. */
export interface ContenderResult {
  readonly contender: string;
  readonly baseline: boolean;
  readonly summary?: Summary;
  readonly error?: string;
}

export interface CaseResult {
  readonly name: string;
  readonly iteration: string;
  readonly opsPerIteration?: number;
  readonly execArgv?: readonly string[];
  readonly results: readonly ContenderResult[];
}

export interface SuiteResult {
  readonly name: string;
  readonly title: string;
  readonly cases: readonly CaseResult[];
}

/** Keeps a table cell on one line and its pipes from splitting it. */
function cell(text: string): string {
  return text.replace(/\s+/g, ' ').replaceAll('|', '\\|');
}

function ratioCell(baseline: ContenderResult, result: ContenderResult, key: 'median' | 'p99'): string {
  if (result.baseline) return 'baseline';
  if (!baseline.summary || !result.summary) return 'n/a';
  return formatSpeedup(speedup(baseline.summary[key], result.summary[key]));
}

/** The markdown table of one suite: a row per contender, ratios against the case's baseline. */
export function renderTable(suite: SuiteResult): string {
  const lines = [
    `### ${suite.name}: ${suite.title}`,
    '',
    '| case | contender | n | median | p99 | median / op | median vs baseline | p99 vs baseline |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const benchCase of suite.cases) {
    const baseline = benchCase.results.find((result) => result.baseline);
    benchCase.results.forEach((result, index) => {
      const flags = benchCase.execArgv?.length ? `; node ${benchCase.execArgv.join(' ')}` : '';
      const caseCell = index === 0 ? `${benchCase.name} (${benchCase.iteration}${flags})` : '';
      const name = result.baseline ? `${result.contender} (baseline)` : result.contender;
      if (!result.summary || !baseline) {
        lines.push(
          `| ${caseCell} | ${name} | – | failed: ${cell((result.error ?? 'no result').split('\n')[0]!)} | | | | |`,
        );
        return;
      }
      const { n, median, p99 } = result.summary;
      const perOp = benchCase.opsPerIteration ? formatDuration(median / benchCase.opsPerIteration) : '–';
      lines.push(
        `| ${caseCell} | ${name} | ${n} | ${formatDuration(median)} | ${formatDuration(p99)} | ${perOp} | ` +
          `${ratioCell(baseline, result, 'median')} | ${ratioCell(baseline, result, 'p99')} |`,
      );
    });
  }
  lines.push(
    '',
    'Times are per iteration. Ratios are baseline time ÷ contender time from the same run ' +
      '("× faster" means the contender takes less time). With fewer than 100 samples the p99 is ' +
      'close to the slowest sample.',
  );
  return lines.join('\n');
}
