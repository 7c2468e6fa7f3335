/**
 * The benchmark harness: what a suite declares (cases, each with a baseline and contenders), the
 * timing loop that runs one contender, the statistics over its per-iteration times, and the
 * markdown table that reports them. Process orchestration lives in `run.ts`.
 *
 * A suite is a file `bench/suites/<name>.ts` exporting `suite: Suite`. Every contender of every
 * case runs in its own child process (see `run.ts` for why), so `prepare()` may load modules,
 * open files and warm caches without biasing its rivals.
 *
 * Most cases time an iteration (`BenchCase`). A case whose result is not a time per iteration,
 * such as the memory a thousand loaded apps hold, is a `ValueCase`: each contender measures once
 * per process and reports a value per named metric, and the table shows those values and their
 * ratio to the baseline's.
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

/** A case that times iterations. */
export interface BenchCase {
  readonly kind?: 'time';
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

/** How a measured value is shown. */
export type ValueUnit = 'bytes' | 'ns';

/** One named quantity a value case measures; lower is better. */
export interface Metric {
  /** Shown in the table and used as the key of a measurement, e.g. "RSS per app, loaded". */
  readonly name: string;
  readonly unit: ValueUnit;
}

/** A value per metric name; a metric left out was not measured (e.g. skipped in a quick run). */
export type Measurement = Readonly<Record<string, number>>;

/** A contender of a value case. */
export interface Measurer {
  readonly name: string;
  /** Runs once in the contender's own process and returns what it measured. */
  measure(context: CaseContext): Measurement | Promise<Measurement>;
}

/** A case whose result is a set of measured values (bytes, times), not a time per iteration. */
export interface ValueCase {
  readonly kind: 'values';
  /** Short, unique within the suite, usable with `--filter`. */
  readonly name: string;
  /** What one measurement does, e.g. "load 10,000 small apps". */
  readonly measurement: string;
  readonly metrics: readonly Metric[];
  /** The longest one measurement may take (its process is stopped after a grace period beyond). */
  readonly maxSeconds: number;
  /** Node/V8 flags for every contender's process. */
  readonly execArgv?: readonly string[];
  /** Builds the case's input data once, in the parent, before any contender starts. */
  setup?(dataDir: string): void | Promise<void>;
  readonly baseline: Measurer;
  readonly contenders: readonly Measurer[];
}

export type Case = BenchCase | ValueCase;

export function isValueCase(benchCase: Case): benchCase is ValueCase {
  return benchCase.kind === 'values';
}

export interface Suite {
  /** The file name without `.ts`, e.g. `wasi`. */
  readonly name: string;
  /** A heading for the table, e.g. "isola's WASI vs node:wasi". */
  readonly title: string;
  readonly cases: readonly Case[];
}

/** Fewest timed iterations a contender runs, whatever its time budget says. */
export const MIN_ITERATIONS = 3;

/** Every contender in a case, baseline first. */
export function contendersOf<T>(benchCase: { baseline: T; contenders: readonly T[] }): T[] {
  return [benchCase.baseline, ...benchCase.contenders];
}

/**
 * A contender's measurement, checked against the case's metrics: every key names a metric and
 * every value is a finite number. Throws with what is wrong, so a typo does not drop a row.
 */
export function checkMeasurement(valueCase: ValueCase, measurement: Measurement): Measurement {
  const known = new Set(valueCase.metrics.map((metric) => metric.name));
  for (const [name, value] of Object.entries(measurement)) {
    if (!known.has(name)) throw new Error(`case ${valueCase.name} has no metric "${name}"`);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(`metric "${name}" of case ${valueCase.name} is ${value}, not a finite number`);
    }
  }
  return measurement;
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

const BYTE_UNITS: readonly [number, string][] = [
  [1024 ** 3, 'GiB'],
  [1024 ** 2, 'MiB'],
  [1024, 'KiB'],
];

/** A byte count with three significant digits and a binary unit, e.g. `20.1 KiB`. */
export function formatBytes(bytes: number): string {
  for (const [scale, unit] of BYTE_UNITS) {
    if (Math.abs(bytes) >= scale) return `${Number((bytes / scale).toPrecision(3))} ${unit}`;
  }
  return `${Number(bytes.toPrecision(3))} B`;
}

export function formatValue(value: number, unit: ValueUnit): string {
  return unit === 'bytes' ? formatBytes(value) : formatDuration(value);
}

/**
 * How a contender's amount compares with the baseline's (lower is better): `2.00× less`,
 * `1.25× more`. Only positive amounts have a ratio.
 */
export function formatAmountRatio(baseline: number, contender: number): string {
  if (!(baseline > 0 && contender > 0) || !Number.isFinite(baseline) || !Number.isFinite(contender)) {
    return 'n/a';
  }
  const ratio = contender / baseline;
  return ratio >= 1 ? `${ratio.toFixed(2)}× more` : `${(1 / ratio).toFixed(2)}× less`;
}

/** One contender's outcome in a case: its summary, or why it failed. */
export interface ContenderResult {
  readonly contender: string;
  readonly baseline: boolean;
  readonly summary?: Summary;
  readonly error?: string;
}

export interface CaseResult {
  readonly kind?: 'time';
  readonly name: string;
  readonly iteration: string;
  readonly opsPerIteration?: number;
  readonly execArgv?: readonly string[];
  readonly results: readonly ContenderResult[];
}

/** One contender's outcome in a value case: a summary per metric it measured, or why it failed. */
export interface MeasuredResult {
  readonly contender: string;
  readonly baseline: boolean;
  /** By metric name; one sample per process (round). */
  readonly values?: Readonly<Record<string, Summary>>;
  readonly error?: string;
}

export interface ValueCaseResult {
  readonly kind: 'values';
  readonly name: string;
  readonly measurement: string;
  readonly metrics: readonly Metric[];
  readonly execArgv?: readonly string[];
  readonly results: readonly MeasuredResult[];
}

export interface SuiteResult {
  readonly name: string;
  readonly title: string;
  readonly cases: readonly (CaseResult | ValueCaseResult)[];
}

/** Keeps a table cell on one line and its pipes from splitting it. */
function cell(text: string): string {
  return text.replace(/\s+/g, ' ').replaceAll('|', '\\|');
}

function failedCell(error: string | undefined): string {
  return `failed: ${cell((error ?? 'no result').split('\n')[0]!)}`;
}

function ratioCell(baseline: ContenderResult, result: ContenderResult, key: 'median' | 'p99'): string {
  if (result.baseline) return 'baseline';
  if (!baseline.summary || !result.summary) return 'n/a';
  return formatSpeedup(speedup(baseline.summary[key], result.summary[key]));
}

function flagsOf(execArgv: readonly string[] | undefined): string {
  return execArgv?.length ? `; node ${execArgv.join(' ')}` : '';
}

function contenderCell(result: { contender: string; baseline: boolean }): string {
  return result.baseline ? `${result.contender} (baseline)` : result.contender;
}

function timeRows(benchCase: CaseResult): string[] {
  const baseline = benchCase.results.find((result) => result.baseline);
  return benchCase.results.map((result, index) => {
    const caseCell =
      index === 0 ? `${benchCase.name} (${benchCase.iteration}${flagsOf(benchCase.execArgv)})` : '';
    const name = contenderCell(result);
    if (!result.summary || !baseline) {
      return `| ${caseCell} | ${name} | – | ${failedCell(result.error)} | | | | |`;
    }
    const { n, median, p99 } = result.summary;
    const perOp = benchCase.opsPerIteration ? formatDuration(median / benchCase.opsPerIteration) : '–';
    return (
      `| ${caseCell} | ${name} | ${n} | ${formatDuration(median)} | ${formatDuration(p99)} | ${perOp} | ` +
      `${ratioCell(baseline, result, 'median')} | ${ratioCell(baseline, result, 'p99')} |`
    );
  });
}

/** A row per failed contender, then a row per metric and measured contender, baseline first. */
function valueRows(valueCase: ValueCaseResult): string[] {
  const baseline = valueCase.results.find((result) => result.baseline)?.values;
  const measured = valueCase.results.filter((result) => result.values !== undefined);
  const rows: string[][] = valueCase.results
    .filter((result) => result.values === undefined)
    .map((result) => ['', contenderCell(result), '–', failedCell(result.error), '']);
  for (const metric of valueCase.metrics) {
    measured.forEach((result, index) => {
      const metricCell = index === 0 ? cell(metric.name) : '';
      const summary = result.values?.[metric.name];
      if (summary === undefined) {
        rows.push([metricCell, contenderCell(result), '–', 'not measured', '']);
        return;
      }
      const base = baseline?.[metric.name];
      let ratio = 'n/a';
      if (result.baseline) ratio = 'baseline';
      else if (base !== undefined) ratio = formatAmountRatio(base.median, summary.median);
      rows.push([
        metricCell,
        contenderCell(result),
        String(summary.n),
        formatValue(summary.median, metric.unit),
        ratio,
      ]);
    });
  }
  const caseCell = `${valueCase.name} (${valueCase.measurement}${flagsOf(valueCase.execArgv)})`;
  return rows.map((row, index) => `| ${[index === 0 ? caseCell : '', ...row].join(' | ')} |`);
}

/**
 * The markdown tables of one suite: timed cases (a row per contender, ratios against the case's
 * baseline), then value cases (a row per metric and contender).
 */
export function renderTable(suite: SuiteResult): string {
  const timed = suite.cases.filter((benchCase): benchCase is CaseResult => benchCase.kind !== 'values');
  const valued = suite.cases.filter((benchCase): benchCase is ValueCaseResult => benchCase.kind === 'values');
  const lines = [`### ${suite.name}: ${suite.title}`];
  if (timed.length > 0) {
    lines.push(
      '',
      '| case | contender | n | median | p99 | median / op | median vs baseline | p99 vs baseline |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...timed.flatMap(timeRows),
      '',
      'Times are per iteration. Ratios are baseline time ÷ contender time from the same run ' +
        '("× faster" means the contender takes less time). With fewer than 100 samples the p99 is ' +
        'close to the slowest sample.',
    );
  }
  if (valued.length > 0) {
    lines.push(
      '',
      '| case | metric | contender | n | median | vs baseline |',
      '| --- | --- | --- | ---: | ---: | ---: |',
      ...valued.flatMap(valueRows),
      '',
      'Values are medians over n processes, one measurement each; lower is better. Ratios are ' +
        'contender ÷ baseline from the same run ("× less" means the contender needs less).',
    );
  }
  return lines.join('\n');
}
