/**
 * `npm run bench`: runs every suite in `bench/suites/` and prints one markdown table per suite.
 *
 *   npx tsx bench/run.ts [--filter NAME]... [--quick] [--rounds N] [--json FILE]
 *
 * `--filter` keeps the cases whose `suite/case` name contains NAME (case-insensitive);
 * `--quick` runs each case's smaller iteration plan (a smoke run); `--rounds` (default 2, or 1
 * with `--quick`) splits each contender's iterations over that many processes, alternating the
 * order of contenders between rounds so that a noisy neighbour on this shared machine hits both
 * sides (a value case's contenders measure once per process, so they get one value per round);
 * `--json` also writes every summary to FILE.
 *
 * Every contender runs in a fresh child process (this file again, with `--child`, started from
 * `child.mjs` so that its worker threads do not load tsx). In one
 * process, the contender measured second would inherit the first one's JIT state (inline caches
 * made megamorphic, code tiered up or deoptimised), its heap (old-generation garbage that the
 * second pays to collect) and, for Wasm, tens of GiB of memory reservations still awaiting GC;
 * any of these biases a ratio by more than the effects we measure.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type BenchCase,
  type Case,
  type CaseResult,
  type ContenderResult,
  checkMeasurement,
  contendersOf,
  type IterationPlan,
  isValueCase,
  type MeasuredResult,
  type Measurement,
  renderTable,
  type Suite,
  type SuiteResult,
  type Summary,
  summarize,
  timeIterations,
  type ValueCase,
  type ValueCaseResult,
} from './harness.js';

const SUITES_DIR = join(import.meta.dirname, 'suites');
/** A child's entry: registers tsx, then runs this file (see child.mjs for why not `--import`). */
const CHILD_ENTRY = join(import.meta.dirname, 'child.mjs');

/** What the parent asks one child process to measure. */
interface ChildJob {
  suite: string;
  case: string;
  contender: number;
  dataDir: string;
  quick: boolean;
  /** How to time a timed case's contender; absent for a value case. */
  plan: IterationPlan | undefined;
  /** The child's time budget, beyond which (plus a grace period) it is killed. */
  maxSeconds: number;
  execArgv: readonly string[];
}

type ChildReply = { samples: number[] } | { values: Measurement } | { error: string };

/** Extra time a child gets beyond its budget (start-up, preparation, warm-up) before it is killed. */
const CHILD_GRACE_SECONDS = 120;

async function loadSuite(name: string): Promise<Suite> {
  const module = (await import(pathToFileURL(join(SUITES_DIR, `${name}.ts`)).href)) as { suite?: Suite };
  if (!module.suite || module.suite.name !== name) {
    throw new Error(`bench/suites/${name}.ts must export \`suite\` with name "${name}"`);
  }
  return module.suite;
}

function suiteNames(): string[] {
  return readdirSync(SUITES_DIR)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .map((file) => basename(file, '.ts'))
    .sort();
}

function findCase(suite: Suite, name: string): Case {
  const found = suite.cases.find((benchCase) => benchCase.name === name);
  if (!found) throw new Error(`suite ${suite.name} has no case ${name}`);
  return found;
}

function pick<T>(contenders: T[], job: ChildJob): T {
  const contender = contenders[job.contender];
  if (contender === undefined) throw new Error(`case ${job.case} has no contender #${job.contender}`);
  return contender;
}

/** Child side: prepare one contender, time or measure it, send the result to the parent. */
async function runChild(job: ChildJob): Promise<ChildReply> {
  try {
    const benchCase = findCase(await loadSuite(job.suite), job.case);
    const context = { dataDir: job.dataDir, quick: job.quick };
    if (isValueCase(benchCase)) {
      const measurer = pick(contendersOf(benchCase), job);
      return { values: checkMeasurement(benchCase, await measurer.measure(context)) };
    }
    if (job.plan === undefined) throw new Error(`case ${job.case} times iterations but got no plan`);
    const prepared = await pick(contendersOf(benchCase), job).prepare(context);
    try {
      const gc = (globalThis as { gc?: () => void }).gc;
      return { samples: await timeIterations(prepared, job.plan, gc) };
    } finally {
      await prepared.teardown?.();
    }
  } catch (error) {
    return { error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
}

/** Parent side: runs one contender in a fresh process and waits for its reply. */
function spawnChild(job: ChildJob): Promise<ChildReply> {
  return new Promise((resolve) => {
    const child = fork(CHILD_ENTRY, ['--child', JSON.stringify(job)], {
      // gc() for the harness, and the case's own flags; node:wasi's experimental warning is noise.
      // Not the parent's execArgv, which loads tsx. The child's stdout goes to our stderr so that
      // it cannot corrupt tables.
      execArgv: ['--expose-gc', '--disable-warning=ExperimentalWarning', ...job.execArgv],
      stdio: ['ignore', 2, 'inherit', 'ipc'],
    });
    let reply: ChildReply | undefined;
    const limitSeconds = job.maxSeconds + CHILD_GRACE_SECONDS;
    const timer = setTimeout(() => {
      reply ??= { error: `timed out after ${limitSeconds} s` };
      child.kill('SIGKILL');
    }, limitSeconds * 1000);
    child.on('message', (message: ChildReply) => {
      reply ??= message;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(reply ?? { error: `child exited (${signal ?? `code ${code}`}) without a result` });
    });
  });
}

/** Splits a plan over `rounds` processes: iterations and time divided, warm-up in each. */
function planForRound(plan: IterationPlan, rounds: number): IterationPlan {
  return {
    iterations: Math.max(1, Math.ceil(plan.iterations / rounds)),
    warmup: plan.warmup,
    maxSeconds: plan.maxSeconds / rounds,
  };
}

/**
 * Runs every contender of a case in `rounds` fresh processes each, alternating the order of
 * contenders between rounds, and hands each reply to `onReply`. Returns each contender's first
 * error; a contender that failed is not run again.
 */
async function runRounds(
  suite: Suite,
  benchCase: Case,
  rounds: number,
  job: Pick<ChildJob, 'quick' | 'plan' | 'maxSeconds'>,
  onReply: (contender: number, reply: Exclude<ChildReply, { error: string }>) => void,
): Promise<(string | undefined)[]> {
  const names = contendersOf<{ name: string }>(benchCase).map((contender) => contender.name);
  const errors = names.map((): string | undefined => undefined);
  const dataDir = mkdtempSync(join(tmpdir(), `isola-bench-${suite.name}-`));
  try {
    await benchCase.setup?.(dataDir);
    for (let round = 0; round < rounds; round++) {
      const order = names.map((_, index) => index);
      if (round % 2 === 1) order.reverse();
      for (const index of order) {
        if (errors[index] !== undefined) continue;
        const label = `${suite.name}/${benchCase.name}: ${names[index]}`;
        process.stderr.write(`bench: ${label} (round ${round + 1}/${rounds})\n`);
        const reply = await spawnChild({
          ...job,
          suite: suite.name,
          case: benchCase.name,
          contender: index,
          dataDir,
          execArgv: benchCase.execArgv ?? [],
        });
        if ('error' in reply) {
          errors[index] = reply.error;
          process.stderr.write(`bench: ${label} failed:\n${reply.error}\n`);
        } else {
          onReply(index, reply);
        }
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  return errors;
}

async function runTimedCase(
  suite: Suite,
  benchCase: BenchCase,
  quick: boolean,
  rounds: number,
): Promise<CaseResult> {
  const contenders = contendersOf(benchCase);
  const samples = contenders.map((): number[] => []);
  const plan = planForRound(quick ? benchCase.quick : benchCase.full, rounds);
  const errors = await runRounds(
    suite,
    benchCase,
    rounds,
    { quick, plan, maxSeconds: plan.maxSeconds },
    (index, reply) => {
      if ('samples' in reply) samples[index]!.push(...reply.samples);
    },
  );
  const results: ContenderResult[] = contenders.map((contender, index) => {
    const base = { contender: contender.name, baseline: index === 0 };
    const error = errors[index];
    return error === undefined ? { ...base, summary: summarize(samples[index]!) } : { ...base, error };
  });
  return {
    name: benchCase.name,
    iteration: benchCase.iteration,
    ...(benchCase.opsPerIteration ? { opsPerIteration: benchCase.opsPerIteration } : {}),
    ...(benchCase.execArgv?.length ? { execArgv: benchCase.execArgv } : {}),
    results,
  };
}

async function runValueCase(
  suite: Suite,
  valueCase: ValueCase,
  quick: boolean,
  rounds: number,
): Promise<ValueCaseResult> {
  const contenders = contendersOf(valueCase);
  const measured = contenders.map((): Measurement[] => []);
  const job = { quick, plan: undefined, maxSeconds: valueCase.maxSeconds };
  const errors = await runRounds(suite, valueCase, rounds, job, (index, reply) => {
    if ('values' in reply) measured[index]!.push(reply.values);
  });
  const results: MeasuredResult[] = contenders.map((contender, index) => {
    const base = { contender: contender.name, baseline: index === 0 };
    const error = errors[index];
    if (error !== undefined) return { ...base, error };
    const values: Record<string, Summary> = {};
    for (const { name } of valueCase.metrics) {
      const samples = measured[index]!.flatMap((measurement) => measurement[name] ?? []);
      if (samples.length > 0) values[name] = summarize(samples);
    }
    return { ...base, values };
  });
  return {
    kind: 'values',
    name: valueCase.name,
    measurement: valueCase.measurement,
    metrics: valueCase.metrics,
    ...(valueCase.execArgv?.length ? { execArgv: valueCase.execArgv } : {}),
    results,
  };
}

function machineLine(): string {
  const cores = cpus();
  const load = loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
  return `node ${process.version}, ${cores.length} × ${cores[0]?.model.trim() ?? 'unknown CPU'}, load average ${load}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      filter: { type: 'string', multiple: true },
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      json: { type: 'string' },
    },
    strict: true,
  });
  if (values.child !== undefined) {
    const reply = await runChild(JSON.parse(values.child) as ChildJob);
    await new Promise<void>((resolve) => process.send!(reply, () => resolve()));
    // Exit now: a handle a contender left open must not keep this child alive until the timeout.
    process.exit('error' in reply ? 1 : 0);
  }

  const quick = values.quick;
  const rounds = values.rounds === undefined ? (quick ? 1 : 2) : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds takes a positive integer');
  const filters = (values.filter ?? []).map((filter) => filter.toLowerCase());
  const selected = (suite: Suite, benchCase: Case): boolean =>
    filters.length === 0 ||
    filters.some((filter) => `${suite.name}/${benchCase.name}`.toLowerCase().includes(filter));

  const started = Date.now();
  console.log(`${machineLine()}${quick ? ' (quick run)' : ''}\n`);
  const suiteResults: SuiteResult[] = [];
  for (const name of suiteNames()) {
    const suite = await loadSuite(name);
    const cases = suite.cases.filter((benchCase) => selected(suite, benchCase));
    if (cases.length === 0) continue;
    const caseResults: (CaseResult | ValueCaseResult)[] = [];
    for (const benchCase of cases) {
      caseResults.push(
        isValueCase(benchCase)
          ? await runValueCase(suite, benchCase, quick, rounds)
          : await runTimedCase(suite, benchCase, quick, rounds),
      );
    }
    const result: SuiteResult = { name: suite.name, title: suite.title, cases: caseResults };
    suiteResults.push(result);
    console.log(`${renderTable(result)}\n`);
  }
  if (suiteResults.length === 0) {
    console.error(`bench: no case matches ${filters.join(', ')}`);
    return 1;
  }
  if (values.json !== undefined) {
    const report = {
      date: new Date().toISOString(),
      machine: machineLine(),
      quick,
      rounds,
      suites: suiteResults,
    };
    writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  process.stderr.write(`bench: done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const failed = suiteResults.some((suite) =>
    suite.cases.some((benchCase) =>
      benchCase.results.some((result: { error?: string }) => result.error !== undefined),
    ),
  );
  return failed ? 1 : 0;
}

process.exitCode = await main();
