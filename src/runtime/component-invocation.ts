/**
 * One request to a wasi:http component as its caller sees it (`Engine.invokeComponent`): a
 * result that settles exactly once and never rejects, with the outcome, the response when the
 * component produced one, what it wrote to stdout and stderr, and the metrics. The response is
 * whole: the component host runs the handler to its end before anything is answered, so there is
 * nothing to stream yet.
 */
import type { ComponentResponse } from '../component/run.js';
import type { InvocationMetrics, Outcome } from './protocol.js';

export interface ComponentInvocationResult {
  /**
   * `return` (no values) when the component set a complete response; `timeout` at the deadline;
   * `trap`; `limit` when it broke a host limit; `error` when it ended without a valid response
   * (none set, an error-code, an unfinished body: code E_GUEST_TRAP) or the host failed.
   */
  outcome: Outcome;
  /** The component's response: present exactly when `outcome.kind` is `return`. */
  response?: ComponentResponse;
  stdout: Uint8Array;
  stderr: Uint8Array;
  metrics: InvocationMetrics;
}

const NOTHING = new Uint8Array(0);

export class ComponentInvocation {
  readonly id: number;
  readonly result: Promise<ComponentInvocationResult>;
  #resolve!: (result: ComponentInvocationResult) => void;
  readonly #stdout: Uint8Array[] = [];
  readonly #stderr: Uint8Array[] = [];
  #settled = false;

  constructor(id: number) {
    this.id = id;
    this.result = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** @internal Called by the engine as output arrives (within the invocation's output limits). */
  output(stream: 1 | 2, chunk: Uint8Array): void {
    (stream === 1 ? this.#stdout : this.#stderr).push(chunk);
  }

  /** @internal Called by the engine once. */
  settle(
    outcome: Outcome,
    response: ComponentResponse | undefined,
    metrics: Omit<InvocationMetrics, 'stdoutBytes' | 'stderrBytes'>,
  ): void {
    if (this.#settled) return;
    this.#settled = true;
    const stdout = joined(this.#stdout);
    const stderr = joined(this.#stderr);
    const result: ComponentInvocationResult = {
      outcome,
      stdout,
      stderr,
      metrics: { ...metrics, stdoutBytes: stdout.length, stderrBytes: stderr.length },
    };
    if (outcome.kind === 'return' && response !== undefined) result.response = response;
    this.#resolve(result);
  }
}

function joined(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 0) return NOTHING;
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  return Buffer.concat(chunks);
}
