/**
 * Recycled linear memories, one pool per worker thread. Every `new WebAssembly.Memory` reserves a
 * large virtual region (about 10 GiB with V8's guard regions) whose setup, teardown and garbage
 * collection cost far more than the guest's own work: on this machine ~44 µs of system time per
 * fresh instance, against ~4 µs for an instance handed a memory that was zeroed and kept (see
 * DESIGN.md). So the engine rewrites each module to import its memory and gives every fresh
 * instance a memory from here.
 *
 * A recycled memory is all zeros, so nothing one invocation wrote is visible to the next; the
 * instance re-applies its data segments when it is made. What a recycled memory cannot do is
 * shrink: if an earlier invocation of the same module grew it, the next one starts with the larger
 * size (still within the same maximum), and `memory.size` shows that. So a memory that grew is
 * kept only while it is small (`recycleMaxBytes`); one still at its initial size is kept up to
 * `recycleInitialMaxBytes`, which is what a pre-initialized interpreter needs (Ruby's snapshot
 * starts at ~70 MiB: a fresh memory costs it ~20 ms of page faults, a recycled one ~5 ms of
 * zeroing). Pools idle for `idleMs` are released, so an idle app holds no memory at all.
 *
 * A returned memory is zeroed later, by `clean()`, which the worker calls after it has sent the
 * invocation's result, so zeroing is off the response's path; `take` zeroes one itself only if
 * no clean one is left.
 */

export interface MemoryPoolOptions {
  /** Memories kept per module and maximum. Default 4. */
  perKey: number;
  /** Memories kept in all. Default 64. */
  total: number;
  /** A memory that grew past its initial size is kept only up to this size. Default 16 MiB. */
  recycleMaxBytes: number;
  /** A memory still at its initial size is kept up to this size. Default 256 MiB. */
  recycleInitialMaxBytes: number;
  /** Bytes of memory kept in all, per pool (per worker thread). Default 1 GiB. */
  maxPooledBytes: number;
  /** A pool unused this long is released. Default 10 s. */
  idleMs: number;
}

export const MEMORY_POOL_DEFAULTS: Readonly<MemoryPoolOptions> = Object.freeze({
  perKey: 4,
  total: 64,
  recycleMaxBytes: 16 * 1024 * 1024,
  recycleInitialMaxBytes: 256 * 1024 * 1024,
  maxPooledBytes: 1024 * 1024 * 1024,
  idleMs: 10_000,
});

interface Pool {
  /** Zeroed, ready. */
  free: WebAssembly.Memory[];
  /** Returned, not yet zeroed. */
  dirty: WebAssembly.Memory[];
  lastUsed: number;
}

export class MemoryPool {
  readonly #options: MemoryPoolOptions;
  readonly #pools = new Map<string, Pool>();
  #size = 0;
  #bytes = 0;
  #dirty = false;

  constructor(options: Partial<MemoryPoolOptions> = {}) {
    this.#options = { ...MEMORY_POOL_DEFAULTS, ...options };
  }

  /** A zeroed memory of at least `minPages` with exactly `maxPages` as its maximum. */
  take(key: string, minPages: number, maxPages: number): WebAssembly.Memory {
    const pool = this.#pools.get(key);
    let memory = pool?.free.pop();
    if (memory === undefined) {
      memory = pool?.dirty.pop();
      if (memory !== undefined) new Uint8Array(memory.buffer).fill(0);
    }
    if (memory === undefined) return new WebAssembly.Memory({ initial: minPages, maximum: maxPages });
    this.#size--;
    this.#bytes -= memory.buffer.byteLength;
    return memory;
  }

  /**
   * Keeps `memory` (made with `initialBytes`) for a later `take(key)`, to be zeroed by `clean()`,
   * unless it is too large to keep or the pool is full.
   */
  give(key: string, memory: WebAssembly.Memory, now: number, initialBytes: number): void {
    const { perKey, total, recycleMaxBytes, recycleInitialMaxBytes, maxPooledBytes } = this.#options;
    const bytes = memory.buffer.byteLength;
    const cap = bytes > initialBytes ? recycleMaxBytes : recycleInitialMaxBytes;
    if (bytes > cap || this.#size >= total || this.#bytes + bytes > maxPooledBytes) return;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = { free: [], dirty: [], lastUsed: now };
      this.#pools.set(key, pool);
    }
    pool.lastUsed = now;
    if (pool.free.length + pool.dirty.length >= perKey) return;
    pool.dirty.push(memory);
    this.#size++;
    this.#bytes += bytes;
    this.#dirty = true;
  }

  /** Zeroes every returned memory, making it ready for `take`. */
  clean(): void {
    if (!this.#dirty) return;
    this.#dirty = false;
    for (const pool of this.#pools.values()) {
      for (const memory of pool.dirty) {
        new Uint8Array(memory.buffer).fill(0);
        pool.free.push(memory);
      }
      pool.dirty = [];
    }
  }

  /** Releases the pools of every key starting with `prefix` (a module's digest). */
  forget(prefix: string): void {
    for (const [key, pool] of this.#pools) {
      if (!key.startsWith(prefix)) continue;
      this.#release(key, pool);
    }
  }

  /** Releases pools unused for `idleMs`. */
  sweep(now: number): void {
    for (const [key, pool] of this.#pools) {
      if (now - pool.lastUsed < this.#options.idleMs) continue;
      this.#release(key, pool);
    }
  }

  #release(key: string, pool: Pool): void {
    for (const memory of [...pool.free, ...pool.dirty]) {
      this.#size--;
      this.#bytes -= memory.buffer.byteLength;
    }
    this.#pools.delete(key);
  }

  /** Memories held, for metrics and tests. */
  get size(): number {
    return this.#size;
  }

  get idleMs(): number {
    return this.#options.idleMs;
  }
}
