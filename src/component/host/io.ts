/**
 * wasi:io 0.2: `error`, `poll` and `streams`. Streams are backed by a `ByteSource` or a
 * `ByteSink`, so a request body, a file and stdin share one `input-stream`, and a response body,
 * a file and stdout one `output-stream`.
 *
 * An instance runs on one thread and its guest calls block that thread, so a pollable is ready
 * now, ready at a known time (a clock), or never (nothing else can feed it while the guest waits).
 * `poll` sleeps until the earliest time-based pollable, never past the deadline, and ends the
 * instance when the guest waits on nothing that can become ready.
 */
import { IsolaError } from '../../errors.js';
import { type HostContext, HostResource, WitError } from './context.js';

/** wasi:io/error `error`: a debug string, and for filesystem streams the error code behind it. */
export class IoError extends HostResource {
  readonly message: string;
  /** The wasi:filesystem `error-code` this error stands for, when it came from a file. */
  readonly filesystemCode: string | undefined;

  constructor(ctx: HostContext, message: string, filesystemCode?: string) {
    super(ctx);
    this.message = message;
    this.filesystemCode = filesystemCode;
  }

  toDebugString(): string {
    return this.message;
  }
}

/** When a pollable becomes ready: now, at a `performance.now()` time, or never. */
export type Readiness = { kind: 'now' } | { kind: 'at'; time: number } | { kind: 'never' };

const READY_NOW: Readiness = Object.freeze({ kind: 'now' });

/** wasi:io/poll `pollable`. */
export class Pollable extends HostResource {
  readonly #readiness: () => Readiness;

  constructor(ctx: HostContext, readiness: () => Readiness) {
    super(ctx);
    this.#readiness = readiness;
  }

  static ready(ctx: HostContext): Pollable {
    return new Pollable(ctx, () => READY_NOW);
  }

  static at(ctx: HostContext, time: number): Pollable {
    return new Pollable(ctx, () => (performance.now() >= time ? READY_NOW : { kind: 'at', time }));
  }

  readiness(): Readiness {
    return this.#readiness();
  }

  ready(): boolean {
    return this.#readiness().kind === 'now';
  }

  block(): void {
    poll(this.ctx, [this]);
  }
}

/**
 * What an instance's owner runs before its guest sleeps in `poll` (to send response bytes it holds,
 * so that a client is not kept waiting on a guest that waits). Keyed by the instance's context, so
 * no instance can reach another's.
 */
const beforeWaiting = new WeakMap<HostContext, () => void>();

/** Runs `hook` each time the guest of `ctx` is about to sleep in `poll`. */
export function onWaiting(ctx: HostContext, hook: () => void): void {
  beforeWaiting.set(ctx, hook);
}

/** Sleeps the thread until `time` (a `performance.now()` value). */
function sleepUntil(time: number): void {
  const ms = time - performance.now();
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** wasi:io/poll `poll`: the indices of the ready pollables, blocking until at least one is. */
export function poll(ctx: HostContext, pollables: readonly Pollable[]): Uint32Array {
  if (pollables.length === 0) {
    throw new IsolaError('E_GUEST_TRAP', 'the component called poll with an empty list, which traps', {});
  }
  if (pollables.length > ctx.limits.maxPollables) {
    throw new IsolaError(
      'E_GUEST_OUTPUT_LIMIT',
      `the component polled ${pollables.length} pollables at once, more than maxPollables (${ctx.limits.maxPollables})`,
      { limit: 'maxPollables', value: ctx.limits.maxPollables },
    );
  }
  for (;;) {
    ctx.checkDeadline();
    const ready: number[] = [];
    let earliest = Number.POSITIVE_INFINITY;
    pollables.forEach((pollable, index) => {
      const readiness = pollable.readiness();
      if (readiness.kind === 'now') ready.push(index);
      else if (readiness.kind === 'at') earliest = Math.min(earliest, readiness.time);
    });
    if (ready.length > 0) return Uint32Array.from(ready);
    if (earliest === Number.POSITIVE_INFINITY) {
      throw new IsolaError(
        'E_GUEST_TRAP',
        'the component waits on pollables that can never become ready (nothing else runs while it waits): ' +
          'it would hang until its deadline',
        {},
      );
    }
    beforeWaiting.get(ctx)?.();
    sleepUntil(Math.min(earliest, ctx.deadline));
  }
}

/** Where an input stream's bytes come from. */
export interface ByteSource {
  /** Up to `max` bytes; an empty array when none are available yet; `null` at the end. */
  read(max: number): Uint8Array | null;
  /** When a read would return something (bytes or the end). */
  readiness(): Readiness;
  /** The guest dropped the stream. */
  close?(): void;
}

/** Where an output stream's bytes go. */
export interface ByteSink {
  /** Bytes the sink accepts now (wasi `check-write`). */
  capacity(): number;
  /** Takes `data`; throws `WitError` with a stream-error payload to refuse it. */
  write(data: Uint8Array): void;
  close?(): void;
}

export const STREAM_CLOSED = Object.freeze({ tag: 'closed' });

/** A stream error of `last-operation-failed`, carrying an `IoError`. */
export function lastOperationFailed(ctx: HostContext, message: string, filesystemCode?: string): WitError {
  return new WitError({ tag: 'last-operation-failed', val: new IoError(ctx, message, filesystemCode) });
}

/** A source with no bytes: stdin, an empty body. */
export const EMPTY_SOURCE: ByteSource = Object.freeze({
  read: () => null,
  readiness: () => READY_NOW,
});

/** A source over chunks that are all present, handed out without copying where they fit. */
export class ChunksSource implements ByteSource {
  readonly #chunks: Uint8Array[];
  #index = 0;
  #offset = 0;

  constructor(chunks: readonly Uint8Array[]) {
    this.#chunks = chunks.filter((chunk) => chunk.length > 0);
  }

  read(max: number): Uint8Array | null {
    const chunk = this.#chunks[this.#index];
    if (chunk === undefined) return null;
    const end = Math.min(chunk.length, this.#offset + max);
    const out = chunk.subarray(this.#offset, end);
    this.#offset = end;
    if (end === chunk.length) {
      this.#index++;
      this.#offset = 0;
    }
    return out;
  }

  readiness(): Readiness {
    return READY_NOW;
  }
}

/** wasi:io/streams `input-stream`. */
export class InputStream extends HostResource {
  readonly #source: ByteSource;
  #closed = false;

  constructor(ctx: HostContext, source: ByteSource) {
    super(ctx);
    this.#source = source;
  }

  read(len: bigint): Uint8Array {
    if (this.#closed) throw new WitError(STREAM_CLOSED);
    const bytes = this.#source.read(this.ctx.clampBytes(len));
    if (bytes === null) {
      this.#closed = true;
      throw new WitError(STREAM_CLOSED);
    }
    return bytes;
  }

  blockingRead(len: bigint): Uint8Array {
    if (len > 0n) this.#waitReadable();
    return this.read(len);
  }

  skip(len: bigint): bigint {
    return BigInt(this.read(len).length);
  }

  blockingSkip(len: bigint): bigint {
    return BigInt(this.blockingRead(len).length);
  }

  subscribe(): Pollable {
    return new Pollable(this.ctx, () => (this.#closed ? READY_NOW : this.#source.readiness()));
  }

  #waitReadable(): void {
    if (!this.#closed && this.#source.readiness().kind !== 'now') poll(this.ctx, [this.subscribe()]);
  }

  protected override dispose(): void {
    this.#source.close?.();
  }
}

/** wasi:io/streams `output-stream`. */
export class OutputStream extends HostResource {
  readonly #sink: ByteSink;

  constructor(ctx: HostContext, sink: ByteSink) {
    super(ctx);
    this.#sink = sink;
  }

  checkWrite(): bigint {
    return BigInt(Math.min(this.#sink.capacity(), this.ctx.limits.maxBytesPerCall));
  }

  write(contents: Uint8Array): void {
    if (contents.length > this.ctx.limits.maxBytesPerCall) {
      throw new IsolaError(
        'E_GUEST_OUTPUT_LIMIT',
        `the component wrote ${contents.length} bytes in one call, more than maxBytesPerCall ` +
          `(${this.ctx.limits.maxBytesPerCall}) and more than check-write permitted`,
        { limit: 'maxBytesPerCall', value: this.ctx.limits.maxBytesPerCall },
      );
    }
    this.#sink.write(contents);
  }

  blockingWriteAndFlush(contents: Uint8Array): void {
    this.write(contents);
  }

  flush(): void {}

  blockingFlush(): void {}

  subscribe(): Pollable {
    return Pollable.ready(this.ctx);
  }

  writeZeroes(len: bigint): void {
    this.write(new Uint8Array(this.ctx.clampBytes(len)));
  }

  blockingWriteZeroesAndFlush(len: bigint): void {
    this.writeZeroes(len);
  }

  splice(source: InputStream, len: bigint): bigint {
    const max = BigInt(Math.min(Number(this.checkWrite()), this.ctx.clampBytes(len)));
    const bytes = source.read(max);
    this.write(bytes);
    return BigInt(bytes.length);
  }

  blockingSplice(source: InputStream, len: bigint): bigint {
    const max = BigInt(Math.min(Number(this.checkWrite()), this.ctx.clampBytes(len)));
    const bytes = source.blockingRead(max);
    this.write(bytes);
    return BigInt(bytes.length);
  }

  protected override dispose(): void {
    this.#sink.close?.();
  }
}

/** The `wasi:io/*` import objects of one instance. */
export function ioImports(ctx: HostContext): Record<string, Record<string, unknown>> {
  return {
    'wasi:io/error': { Error: IoError },
    'wasi:io/poll': { Pollable, poll: (pollables: Pollable[]) => poll(ctx, pollables) },
    'wasi:io/streams': { InputStream, OutputStream },
  };
}
