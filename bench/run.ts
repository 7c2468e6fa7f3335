/**
 * `npm run bench`: runs every suite in `bench/suites/` and prints one markdown table per suite.
 *
 *   npx tsx bench/run.ts [--filter NAME]... [--quick] [--rounds N] [--json FILE]
 *
 * `--filter` keeps the cases whose `suite/case` name contains NAME (case-insensitive);
 * `--quick` runs each case's smaller iteration plan (a smoke run); `--rounds` (default 2, or 1
 * with `--quick`) splits each contender's iterations over that many processes, alternating the
 * order of contenders between rounds so that a noisy neighbour on this shared machine hits both
 * sides; `--json` also writes every summary to FILE.
 *
 * Every contender runs in a fresh child process (this file again, with `--child`). In one
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
  type CaseResult,
  type ContenderResult,
  contendersOf,
  type IterationPlan,
  renderTable,
  type Suite,
  type SuiteResult,
  summarize,
  timeIterations,
} from './harness.js';

const SUITES_DIR = join(import.meta.dirname, 'suites');

/** What the parent asks one child process to measure. */
interface ChildJob {
  suite: string;
  case: string;
  contender: number;
  dataDir: string;
  quick: boolean;
  plan: IterationPlan;
  execArgv: readonly string[];
}

type ChildReply = { samples: number[] } | { error: string };

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

function findCase(suite: Suite, name: string): BenchCase {
  const found = suite.cases.find((benchCase) => benchCase.name === name);
  if (!found) throw new Error(`suite ${suite.name} has no case ${name}`);
  return found;
}

/** Child side: prepare one contender, time it, send the samples to the parent. */
async function runChild(job: ChildJob): Promise<ChildReply> {
  try {
    const benchCase = findCase(await loadSuite(job.suite), job.case);
    const contender = contendersOf(benchCase)[job.contender];
    if (!contender) throw new Error(`case ${job.case} has no contender #${job.contender}`);
    const prepared = await contender.prepare({ dataDir: job.dataDir, quick: job.quick });
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
    const child = fork(import.meta.filename, ['--child', JSON.stringify(job)], {
      // The tsx loader the parent runs under, plus gc() for the harness; node:wasi's experimental
      // warning is noise. The child's stdout goes to our stderr so that it cannot corrupt tables.
      execArgv: [
        ...process.execArgv,
        '--expose-gc',
        '--disable-warning=ExperimentalWarning',
        ...job.execArgv,
      ],
      stdio: ['ignore', 2, 'inherit', 'ipc'],
    });
    let reply: ChildReply | undefined;
    const timer = setTimeout(
      () => {
        reply ??= { error: `timed out after ${job.plan.maxSeconds + CHILD_GRACE_SECONDS} s` };
        child.kill('SIGKILL');
      },
      (job.plan.maxSeconds + CHILD_GRACE_SECONDS) * 1000,
    );
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

async function runCase(
  suite: Suite,
  benchCase: BenchCase,
  quick: boolean,
  rounds: number,
): Promise<CaseResult> {
  const contenders = contendersOf(benchCase);
  const samples = contenders.map((): number[] => []);
  const errors = contenders.map((): string | undefined => undefined);
  const dataDir = mkdtempSync(join(tmpdir(), `isola-bench-${suite.name}-`));
  try {
    await benchCase.setup?.(dataDir);
    const plan = planForRound(quick ? benchCase.quick : benchCase.full, rounds);
    for (let round = 0; round < rounds; round++) {
      const order = contenders.map((_, index) => index);
      if (round % 2 === 1) order.reverse();
      for (const index of order) {
        if (errors[index] !== undefined) continue;
        const label = `${suite.name}/${benchCase.name}: ${contenders[index]!.name}`;
        process.stderr.write(`bench: ${label} (round ${round + 1}/${rounds})\n`);
        const reply = await spawnChild({
          suite: suite.name,
          case: benchCase.name,
          contender: index,
          dataDir,
          quick,
          plan,
          execArgv: benchCase.execArgv ?? [],
        });
        if ('error' in reply) {
          errors[index] = reply.error;
          process.stderr.write(`bench: ${label} failed:\n${reply.error}\n`);
        } else {
          samples[index]!.push(...reply.samples);
        }
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
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
  const selected = (suite: Suite, benchCase: BenchCase): boolean =>
    filters.length === 0 ||
    filters.some((filter) => `${suite.name}/${benchCase.name}`.toLowerCase().includes(filter));

  const started = Date.now();
  console.log(`${machineLine()}${quick ? ' (quick run)' : ''}\n`);
  const suiteResults: SuiteResult[] = [];
  for (const name of suiteNames()) {
    const suite = await loadSuite(name);
    const cases = suite.cases.filter((benchCase) => selected(suite, benchCase));
    if (cases.length === 0) continue;
    const caseResults: CaseResult[] = [];
    for (const benchCase of cases) caseResults.push(await runCase(suite, benchCase, quick, rounds));
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
    suite.cases.some((benchCase) => benchCase.results.some((result) => result.error !== undefined)),
  );
  return failed ? 1 : 0;
}

process.exitCode = await main();
