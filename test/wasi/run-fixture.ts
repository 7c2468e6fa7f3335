/**
 * Runs a built guest fixture through isola's WASI host with the grants a test asks for, and
 * collects its exit code and output. Host directories come from `tempDir()`, removed after the
 * test that made them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { WasiLimits } from '../../src/limits.js';
import { bytesSource, CaptureSink, type InputSource, WasiBuilder } from '../../src/wasi/index.js';
import { fixtureBytes } from '../fixtures/paths.js';

export interface FixtureOptions {
  /** Guest arguments after argv[0] (which is `<name>.wasm`). */
  args?: string[];
  env?: Record<string, string>;
  /** Host directories by guest path. */
  dirs?: Record<string, string>;
  /** Read-only host directories by guest path. */
  roDirs?: Record<string, string>;
  /** In-memory directories by guest path. */
  memoryDirs?: Record<string, { files?: Record<string, string | Uint8Array>; readOnly?: boolean }>;
  stdin?: string | InputSource;
  limits?: Partial<WasiLimits>;
}

export interface FixtureResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const modules = new Map<string, Promise<WebAssembly.Module>>();

function compiled(name: string): Promise<WebAssembly.Module> {
  let module = modules.get(name);
  if (module === undefined) {
    module = WebAssembly.compile(fixtureBytes(name));
    modules.set(name, module);
  }
  return module;
}

export async function runFixture(name: string, options: FixtureOptions = {}): Promise<FixtureResult> {
  const stdout = new CaptureSink(1 << 20);
  const stderr = new CaptureSink(1 << 20);
  const builder = new WasiBuilder()
    .args([`${name}.wasm`, ...(options.args ?? [])])
    .stdout(stdout)
    .stderr(stderr);
  for (const [key, value] of Object.entries(options.env ?? {})) builder.env(key, value);
  for (const [guest, host] of Object.entries(options.dirs ?? {})) builder.preopenDir(host, guest);
  for (const [guest, host] of Object.entries(options.roDirs ?? {})) {
    builder.preopenDir(host, guest, { readOnly: true });
  }
  for (const [guest, dir] of Object.entries(options.memoryDirs ?? {})) {
    builder.preopenMemory(guest, { files: dir.files ?? {}, readOnly: dir.readOnly ?? false });
  }
  if (typeof options.stdin === 'string') {
    builder.stdin(bytesSource(new TextEncoder().encode(options.stdin)));
  } else if (options.stdin !== undefined) {
    builder.stdin(options.stdin);
  }
  if (options.limits) builder.limits(options.limits);
  const wasi = builder.build();
  const instance = await WebAssembly.instantiate(await compiled(name), wasi.imports);
  const exitCode = wasi.start(instance);
  return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
}

/** A fresh directory under the OS temp dir, removed when the test ends. */
export function tempDir(t: TestContext, prefix = 'isola-wasi-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Renders a result for assertion messages: exit code plus both streams. */
export function describe(result: FixtureResult): string {
  return `exit ${result.exitCode}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

/** Runs a self-checking fixture and returns its result; the caller asserts exit 0 with `describe`. */
export async function runInSandbox(
  t: TestContext,
  name: string,
  options: FixtureOptions = {},
): Promise<FixtureResult & { dir: string }> {
  const dir = tempDir(t);
  const result = await runFixture(name, { ...options, dirs: { '/sandbox': dir, ...options.dirs } });
  return { ...result, dir };
}

/** Runs a self-checking fixture with an empty, writable in-memory directory at `/sandbox`. */
export function runInMemory(name: string, options: FixtureOptions = {}): Promise<FixtureResult> {
  return runFixture(name, { ...options, memoryDirs: { '/sandbox': { files: {} }, ...options.memoryDirs } });
}
