/**
 * One component instance's host state: its limits, its deadline, its count of live resources,
 * and the bounded sinks its stdout and stderr go to. Built per instance by run.ts and threaded
 * through every interface's factory; nothing here is shared between instances.
 */
import { IsolaError } from '../../errors.js';

export interface ComponentLimits {
  /** Wall-clock deadline of one request, from the moment its instance is created. Default 30 s. */
  timeoutMs: number;
  /** Linear memory maximum of each core instance, in bytes. Default 128 MiB. */
  maxMemoryBytes: number;
  /** Host resources (streams, fields, pollables, bodies, ...) alive at once in one instance. Default 10,000. */
  maxResources: number;
  /** Bytes one host call may copy in or out of the guest (a read, a write, random bytes). Default 16 MiB. */
  maxBytesPerCall: number;
  /** Entries of one `fields` (headers or trailers). Default 1,000. */
  maxFieldEntries: number;
  /** Bytes of the names and values of one `fields`. Default 256 KiB. */
  maxFieldBytes: number;
  /** Bytes of request body the guest can be fed. Default 16 MiB. */
  maxRequestBodyBytes: number;
  /** Bytes of response body the guest may write; more ends the instance. Default 64 MiB. */
  maxResponseBodyBytes: number;
  /** Bytes of stdout kept; later writes fail with `last-operation-failed`. Default 1 MiB. */
  maxStdoutBytes: number;
  /** Bytes of stderr kept; later writes fail with `last-operation-failed`. Default 1 MiB. */
  maxStderrBytes: number;
  /** Pollables in one `poll` call. Default 4,096. */
  maxPollables: number;
}

export const COMPONENT_LIMIT_DEFAULTS: Readonly<ComponentLimits> = Object.freeze({
  timeoutMs: 30_000,
  maxMemoryBytes: 128 * 1024 * 1024,
  maxResources: 10_000,
  maxBytesPerCall: 16 * 1024 * 1024,
  maxFieldEntries: 1_000,
  maxFieldBytes: 256 * 1024,
  maxRequestBodyBytes: 16 * 1024 * 1024,
  maxResponseBodyBytes: 64 * 1024 * 1024,
  maxStdoutBytes: 1024 * 1024,
  maxStderrBytes: 1024 * 1024,
  maxPollables: 4_096,
});

/** A bounded, capturing sink for stdout or stderr. */
export class CapturedOutput {
  readonly #limit: number;
  readonly #chunks: Uint8Array[] = [];
  #bytes = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Keeps `data`; false (nothing kept) when it would pass the limit. */
  write(data: Uint8Array): boolean {
    if (this.#bytes + data.length > this.#limit) return false;
    this.#chunks.push(data.slice());
    this.#bytes += data.length;
    return true;
  }

  text(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }
}

export class HostContext {
  readonly limits: Readonly<ComponentLimits>;
  /** `performance.now()` past which every blocking host call ends the instance. */
  readonly deadline: number;
  readonly stdout: CapturedOutput;
  readonly stderr: CapturedOutput;
  #resources = 0;

  constructor(limits: Readonly<ComponentLimits>, now = performance.now()) {
    this.limits = limits;
    this.deadline = now + limits.timeoutMs;
    this.stdout = new CapturedOutput(limits.maxStdoutBytes);
    this.stderr = new CapturedOutput(limits.maxStderrBytes);
  }

  /** Counts a new resource; ends the instance when it would pass `maxResources`. */
  acquire(): void {
    if (this.#resources >= this.limits.maxResources) {
      throw new IsolaError(
        'E_GUEST_OUTPUT_LIMIT',
        `the component holds more than ${this.limits.maxResources} host resources at once: ` +
          'drop streams, fields and pollables when done, or raise maxResources',
        { limit: 'maxResources', value: this.limits.maxResources },
      );
    }
    this.#resources++;
  }

  release(): void {
    this.#resources--;
  }

  get resources(): number {
    return this.#resources;
  }

  /** Ends the instance when its deadline has passed. */
  checkDeadline(now = performance.now()): void {
    if (now >= this.deadline) throw timeout(this.limits.timeoutMs);
  }

  /** Bytes a call may move: `requested` capped by `maxBytesPerCall`. */
  clampBytes(requested: bigint): number {
    const limit = this.limits.maxBytesPerCall;
    return requested > BigInt(limit) ? limit : Number(requested);
  }
}

export function timeout(timeoutMs: number): IsolaError {
  return new IsolaError(
    'E_GUEST_TIMEOUT',
    `the component did not finish its response within ${timeoutMs} ms: make the handler faster or raise timeoutMs`,
    { limit: 'timeoutMs', value: timeoutMs },
  );
}

/** Symbol jco's glue calls when the guest drops a host resource it owned. */
export const DISPOSE: symbol = Symbol.dispose ?? Symbol.for('dispose');

/**
 * The base of every host resource: counted against `maxResources` while the guest holds it.
 * Deliberately light: an instance may create thousands.
 */
export class HostResource {
  readonly ctx: HostContext;
  #disposed = false;

  constructor(ctx: HostContext) {
    ctx.acquire();
    this.ctx = ctx;
  }

  [DISPOSE](): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.ctx.release();
    this.dispose();
  }

  /** What a resource does when the guest drops it; nothing by default. */
  protected dispose(): void {}
}

/**
 * What a host function throws for a WIT `result`'s error case: jco's glue lowers an exception's
 * own `payload` property as the `err` value. Anything else thrown traps the instance.
 */
export class WitError extends Error {
  readonly payload: unknown;

  constructor(payload: unknown) {
    super('WIT error result');
    this.payload = payload;
  }
}
