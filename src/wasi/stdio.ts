/**
 * Standard streams. Stdin reads from an `InputSource`; stdout and stderr write to an
 * `OutputSink`. Sources and sinks are synchronous because preview1 calls are: a guest's
 * fd_read returns only once bytes are there. Capturing sinks are capped: going past the cap is a
 * broken limit and ends the instance with E_GUEST_OUTPUT_LIMIT, never an unbounded buffer.
 */
import { readSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { IsolaError } from '../errors.js';
import { Errno, Fdflags, Filetype } from './defs.js';
import { Descriptor, type Filestat } from './descriptor.js';
import { fail, hostCall } from './errno.js';

export interface InputSource {
  /** Fills up to `buffer.length` bytes; returns 0 at end of input. May block. */
  read(buffer: Uint8Array): number;
  /** Bytes readable now without blocking, or null when unknown/would block (for poll_oneoff). */
  available(): bigint | null;
  /** Whether the source is a terminal (stdin's filetype is then a character device). */
  readonly isTerminal: boolean;
}

export interface OutputSink {
  /** Writes all of `data` or throws. */
  write(data: Uint8Array): void;
  readonly isTerminal: boolean;
}

/** Stdin that is at end of input from the start: the builder's default. */
export const emptySource: InputSource = Object.freeze({
  read: () => 0,
  available: () => 0n,
  isTerminal: false,
});

/** Stdin served from bytes held in memory. */
export function bytesSource(bytes: Uint8Array): InputSource {
  let offset = 0;
  return {
    read(buffer) {
      const n = Math.min(buffer.length, bytes.length - offset);
      buffer.set(bytes.subarray(offset, offset + n));
      offset += n;
      return n;
    },
    available: () => BigInt(bytes.length - offset),
    isTerminal: false,
  };
}

/** Stdin read from a host file descriptor (e.g. 0 for the process's own stdin). */
export function fdSource(fd: number): InputSource {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  return {
    read(buffer) {
      for (;;) {
        try {
          return readSync(fd, buffer, 0, buffer.length, null);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'EOF') return 0;
          // A non-blocking host stdin: wait briefly and retry so the guest sees a blocking read.
          if (code === 'EAGAIN') Atomics.wait(sleeper, 0, 0, 5);
          else throw error;
        }
      }
    },
    available: () => null,
    isTerminal: isatty(fd),
  };
}

/** Writes pass through to a host file descriptor (e.g. 1 and 2 for the process's own). */
export function fdSink(fd: number): OutputSink {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  return {
    write(data) {
      let offset = 0;
      while (offset < data.length) {
        try {
          offset += writeSync(fd, data, offset, data.length - offset);
        } catch (error) {
          // A non-blocking pipe that is full (Node makes stdio pipes non-blocking once it opens
          // process.stdout): wait for the reader, so the guest sees a blocking write.
          if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
          Atomics.wait(sleeper, 0, 0, 5);
        }
      }
    },
    isTerminal: isatty(fd),
  };
}

/** Discards everything written. */
export const nullSink: OutputSink = Object.freeze({ write: () => {}, isTerminal: false });

/** Keeps what is written, up to `limit` bytes; past that the write ends the instance. */
export class CaptureSink implements OutputSink {
  readonly isTerminal = false;
  readonly #limit: number;
  readonly #name: string;
  #chunks: Uint8Array[] = [];
  #size = 0;

  constructor(limit: number, name = 'output') {
    this.#limit = limit;
    this.#name = name;
  }

  write(data: Uint8Array): void {
    if (this.#size + data.length > this.#limit) {
      throw new IsolaError(
        'E_GUEST_OUTPUT_LIMIT',
        `guest wrote more than ${this.#limit} bytes to ${this.#name}; raise the limit or write less`,
        { stream: this.#name, limit: this.#limit },
      );
    }
    this.#chunks.push(data.slice());
    this.#size += data.length;
  }

  get size(): number {
    return this.#size;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let offset = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    this.#chunks = [out];
    return out;
  }

  text(): string {
    return new TextDecoder().decode(this.bytes());
  }
}

/** Calls `onChunk` with a copy of every write: for streaming output to a log or a socket. */
export function callbackSink(onChunk: (chunk: Uint8Array) => void): OutputSink {
  return { write: (data) => onChunk(data.slice()), isTerminal: false };
}

/** What fd 0, 1 and 2 share: a type (terminal or not) and changeable APPEND/NONBLOCK flags. */
abstract class StdioDescriptor extends Descriptor {
  readonly filetype: Filetype;
  protected flags = 0;

  constructor(isTerminal: boolean) {
    super();
    this.filetype = isTerminal ? Filetype.CHARACTER_DEVICE : Filetype.UNKNOWN;
  }
  override fdflags(): number {
    return this.flags;
  }
  override setFdflags(flags: number): void {
    if (flags & ~(Fdflags.APPEND | Fdflags.NONBLOCK)) fail(Errno.NOTSUP);
    this.flags = flags;
  }
  override stat(): Filestat {
    return {
      dev: 0n,
      ino: 0n,
      filetype: this.filetype,
      nlink: 1n,
      size: 0n,
      atim: 0n,
      mtim: 0n,
      ctim: 0n,
    };
  }
}

/** fd 0. */
export class StdinDescriptor extends StdioDescriptor {
  readonly #source: InputSource;

  constructor(source: InputSource) {
    super(source.isTerminal);
    this.#source = source;
  }
  override read(buffer: Uint8Array): number {
    if (this.flags & Fdflags.NONBLOCK && this.#source.available() === null) fail(Errno.AGAIN);
    return hostCall(() => this.#source.read(buffer));
  }
  override readable(): bigint | null {
    return this.#source.available();
  }
  override writable(): boolean {
    return false;
  }
}

/** fd 1 and fd 2, each with a cap on the bytes the instance may write (maxStdoutBytes/maxStderrBytes). */
export class OutputDescriptor extends StdioDescriptor {
  readonly #sink: OutputSink;
  readonly #limit: number;
  readonly #name: string;
  #written = 0;

  constructor(sink: OutputSink, limit: number, name: 'stdout' | 'stderr') {
    super(sink.isTerminal);
    this.#sink = sink;
    this.#limit = limit;
    this.#name = name;
  }
  override write(data: Uint8Array): number {
    if (this.#written + data.length > this.#limit) {
      const limit = this.#name === 'stdout' ? 'maxStdoutBytes' : 'maxStderrBytes';
      throw new IsolaError(
        'E_GUEST_OUTPUT_LIMIT',
        `guest wrote more than ${this.#limit} bytes to ${this.#name}: raise ${limit} or write less`,
        { stream: this.#name, limit: this.#limit },
      );
    }
    this.#written += data.length;
    // A host failure (EPIPE when the reader went away, EIO) is the guest's errno to handle.
    hostCall(() => this.#sink.write(data));
    return data.length;
  }
  override readable(): bigint | null {
    return null;
  }
}
