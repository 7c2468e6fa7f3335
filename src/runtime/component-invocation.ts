/**
 * One request to a wasi:http component as its caller sees it (`Engine.invokeComponent`). The
 * response streams: `head` settles as soon as the component has set its response (status and
 * headers), and `body()` yields the body's bytes as the component writes them. `result` settles
 * exactly once and never rejects, with the outcome, what the component wrote to stdout and
 * stderr, and the metrics; when nothing read `body()`, it also holds the whole response, so a
 * caller that wants it whole simply awaits `result`.
 *
 * A component can fail after its head was sent (a trap, its deadline, a limit): `body()` then
 * throws once the bytes written before are read, so a cut body is never taken for a whole one.
 */
import type { ComponentResponse } from '../component/run.js';
import { IsolaError } from '../errors.js';
import type { InvocationMetrics, Outcome, ResponseHead, ResponseRest } from './protocol.js';

export type { ResponseHead } from './protocol.js';

export interface ComponentInvocationResult {
  /**
   * `return` (no values) when the component set a complete response; `timeout` at the deadline;
   * `trap`; `limit` when it broke a host limit; `error` when it ended without a valid response
   * (none set, an error-code, an unfinished body: code E_GUEST_TRAP) or the host failed.
   */
  outcome: Outcome;
  /**
   * The component's response: present exactly when `outcome.kind` is `return`. Its `body` holds
   * the chunks when `body()` was never called, and is empty when they went to its reader.
   */
  response?: ComponentResponse;
  stdout: Uint8Array;
  stderr: Uint8Array;
  metrics: InvocationMetrics;
}

const NOTHING = new Uint8Array(0);

export class ComponentInvocation {
  readonly id: number;
  readonly result: Promise<ComponentInvocationResult>;
  /** The response head once the component sets it; undefined when it ended without sending one. */
  readonly head: Promise<ResponseHead | undefined>;
  #resolve!: (result: ComponentInvocationResult) => void;
  #resolveHead!: (head: ResponseHead | undefined) => void;
  #head: ResponseHead | undefined;
  readonly #stdout: Uint8Array[] = [];
  readonly #stderr: Uint8Array[] = [];
  /** Body chunks not read yet (all of them while nobody reads `body()`). */
  readonly #chunks: Uint8Array[] = [];
  #reading = false;
  /** Wakes the body's reader when a chunk arrives or the invocation ends. */
  #wake: (() => void) | undefined;
  #settled: ComponentInvocationResult | undefined;

  constructor(id: number) {
    this.id = id;
    this.result = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    this.head = new Promise((resolve) => {
      this.#resolveHead = resolve;
    });
  }

  /** The result, once the invocation has ended. */
  get settled(): ComponentInvocationResult | undefined {
    return this.#settled;
  }

  /**
   * The response body as it arrives, for one reader: it ends when the component has finished a
   * complete response, and throws an IsolaError (the outcome in `details.outcome`) when it ended
   * any other way.
   */
  body(): AsyncIterable<Uint8Array> {
    if (this.#reading) throw new Error("a component invocation's body can be read once");
    this.#reading = true;
    return this.#read();
  }

  async *#read(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk !== undefined) {
        yield chunk;
        continue;
      }
      const settled = this.#settled;
      if (settled !== undefined) {
        if (settled.outcome.kind === 'return') return;
        throw cutOff(settled.outcome, this.#head !== undefined);
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /** @internal Called by the engine as output arrives (within the invocation's output limits). */
  output(stream: 1 | 2, chunk: Uint8Array): void {
    (stream === 1 ? this.#stdout : this.#stderr).push(chunk);
  }

  /** @internal Called by the engine when the component's head arrives, before any of its body. */
  respond(head: ResponseHead): void {
    if (this.#settled !== undefined || this.#head !== undefined) return;
    this.#head = head;
    this.#resolveHead(head);
  }

  /** @internal Called by the engine as the body arrives (within maxResponseBodyBytes, counted by the worker). */
  bodyChunk(chunk: Uint8Array): void {
    if (this.#settled !== undefined || this.#head === undefined) return;
    this.#chunks.push(chunk);
    this.#wakeReader();
  }

  /** @internal Called by the engine once, with what of the response was not streamed before. */
  settle(
    outcome: Outcome,
    rest: ResponseRest | undefined,
    metrics: Omit<InvocationMetrics, 'stdoutBytes' | 'stderrBytes'>,
  ): void {
    if (this.#settled !== undefined) return;
    if (outcome.kind === 'return' && rest !== undefined) {
      if (rest.head !== undefined) this.respond(rest.head);
      if (rest.body !== undefined) this.bodyChunk(rest.body);
    }
    const stdout = joined(this.#stdout);
    const stderr = joined(this.#stderr);
    const result: ComponentInvocationResult = {
      outcome,
      stdout,
      stderr,
      metrics: { ...metrics, stdoutBytes: stdout.length, stderrBytes: stderr.length },
    };
    const head = this.#head;
    if (outcome.kind === 'return' && head !== undefined) {
      result.response = {
        status: head.status,
        headers: head.headers,
        body: this.#reading ? [] : [...this.#chunks],
        trailersIgnored: rest?.trailersIgnored ?? false,
      };
    }
    this.#settled = result;
    if (head === undefined) this.#resolveHead(undefined);
    this.#wakeReader();
    this.#resolve(result);
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** Why a body was cut off, as the error its reader sees. */
function cutOff(outcome: Outcome, headSent: boolean): IsolaError {
  const cause = outcome.kind === 'error' ? IsolaError.fromJSON(outcome.error) : undefined;
  const code =
    cause?.code ??
    (outcome.kind === 'timeout'
      ? 'E_GUEST_TIMEOUT'
      : outcome.kind === 'limit'
        ? outcome.limit === 'maxStdinBytes'
          ? 'E_GUEST_INPUT_LIMIT'
          : 'E_GUEST_OUTPUT_LIMIT'
        : 'E_GUEST_TRAP');
  return new IsolaError(
    code,
    headSent
      ? `the component's response was cut off: it ended with ${outcome.kind} after sending its head`
      : `the component ended with ${outcome.kind} without a response`,
    { outcome },
    { cause },
  );
}

function joined(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 0) return NOTHING;
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  return Buffer.concat(chunks);
}
