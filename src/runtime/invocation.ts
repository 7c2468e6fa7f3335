/**
 * One running invocation as its caller sees it: stdout and stderr as streams that start flowing
 * while the guest runs, and a result (outcome and metrics) that settles exactly once and never
 * rejects. The streams are made only when asked for; until then output is held (within the
 * invocation's maxStdoutBytes/maxStderrBytes), so a caller that just wants the bytes, like
 * `Engine.run`, pays for no stream at all.
 */
import { Readable } from 'node:stream';
import type { InvocationMetrics, Outcome } from './protocol.js';

export interface InvocationResult {
  outcome: Outcome;
  metrics: InvocationMetrics;
}

/** Output of one stream: held chunks until a reader attaches, then a Readable. */
class OutputChannel {
  #held: Uint8Array[] = [];
  #stream: Readable | undefined;
  #ended = false;
  bytes = 0;

  push(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    if (this.#stream !== undefined) this.#stream.push(chunk);
    else this.#held.push(chunk);
  }

  end(): void {
    this.#ended = true;
    this.#stream?.push(null);
  }

  stream(): Readable {
    if (this.#stream === undefined) {
      // Pushed chunks are bounded by the invocation's output limit, so the stream never holds more.
      const stream = new Readable({ read() {} });
      for (const chunk of this.#held) stream.push(chunk);
      this.#held = [];
      if (this.#ended) stream.push(null);
      this.#stream = stream;
    }
    return this.#stream;
  }

  /** Everything written, when no stream was made. */
  collected(): Uint8Array {
    if (this.#held.length === 1) return this.#held[0] as Uint8Array;
    const out = new Uint8Array(this.bytes);
    let offset = 0;
    for (const chunk of this.#held) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

export class Invocation {
  readonly id: number;
  readonly #stdout = new OutputChannel();
  readonly #stderr = new OutputChannel();
  #result: Promise<InvocationResult> | undefined;
  #resolve: ((result: InvocationResult) => void) | undefined;
  #settled: InvocationResult | undefined;

  constructor(id: number) {
    this.id = id;
  }

  /** The outcome and metrics, once the guest has ended. Never rejects. */
  get result(): Promise<InvocationResult> {
    // Made when first asked for: an invocation that ran inline is often read through `settled`.
    if (this.#result === undefined) {
      if (this.#settled !== undefined) this.#result = Promise.resolve(this.#settled);
      else {
        this.#result = new Promise((resolve) => {
          this.#resolve = resolve;
        });
      }
    }
    return this.#result;
  }

  /** The guest's stdout, flowing as it writes; ends when the guest does. */
  get stdout(): Readable {
    return this.#stdout.stream();
  }

  /** The guest's stderr, flowing as it writes; ends when the guest does. */
  get stderr(): Readable {
    return this.#stderr.stream();
  }

  /** @internal Called by the engine as output arrives. */
  output(stream: 1 | 2, chunk: Uint8Array): void {
    (stream === 1 ? this.#stdout : this.#stderr).push(chunk);
  }

  /** @internal Called by the engine once. */
  settle(outcome: Outcome, metrics: Omit<InvocationMetrics, 'stdoutBytes' | 'stderrBytes'>): void {
    this.#stdout.end();
    this.#stderr.end();
    this.#settled = {
      outcome,
      metrics: { ...metrics, stdoutBytes: this.#stdout.bytes, stderrBytes: this.#stderr.bytes },
    };
    this.#resolve?.(this.#settled);
  }

  /**
   * The result, if the invocation has already ended (one that ran inline ends before `invoke`
   * returns): a caller can then take the output with `collected()` and make no stream.
   */
  get settled(): InvocationResult | undefined {
    return this.#settled;
  }

  /** Output held because nobody asked for the streams: all of it, once `settled`. */
  collected(): { stdout: Uint8Array; stderr: Uint8Array } {
    return { stdout: this.#stdout.collected(), stderr: this.#stderr.collected() };
  }
}
