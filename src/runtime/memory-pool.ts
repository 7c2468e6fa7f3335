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
 * size (still within the same maximum), and `memory.size` shows that. Memories that grew past
 * `recycleMaxBytes` are dropped instead of kept, and pools idle for `idleMs` are released, so an
 * idle app holds no memory at all.
 */

export interface MemoryPoolOptions {
  /** Memories kept per module and maximum. Default 4. */
  perKey: number;
  /** Memories kept in all. Default 64. */
  total: number;
  /** A memory larger than this is dropped rather than zeroed and kept. Default 16 MiB. */
  recycleMaxBytes: number;
  /** A pool unused this long is released. Default 10 s. */
  idleMs: number;
}

export const MEMORY_POOL_DEFAULTS: Readonly<MemoryPoolOptions> = Object.freeze({
  perKey: 4,
  total: 64,
  recycleMaxBytes: 16 * 1024 * 1024,
  idleMs: 10_000,
});

interface Pool {
  free: WebAssembly.Memory[];
  lastUsed: number;
}

export class MemoryPool {
  readonly #options: MemoryPoolOptions;
  readonly #pools = new Map<string, Pool>();
  #size = 0;

  constructor(options: Partial<MemoryPoolOptions> = {}) {
    this.#options = { ...MEMORY_POOL_DEFAULTS, ...options };
  }

  /** A zeroed memory of at least `minPages` with exactly `maxPages` as its maximum. */
  take(key: string, minPages: number, maxPages: number): WebAssembly.Memory {
    const pool = this.#pools.get(key);
    const memory = pool?.free.pop();
    if (memory === undefined) return new WebAssembly.Memory({ initial: minPages, maximum: maxPages });
    this.#size--;
    return memory;
  }

  /** Zeroes `memory` and keeps it for the next `take(key)`, unless it is too large or the pool is full. */
  give(key: string, memory: WebAssembly.Memory, now: number): void {
    const { perKey, total, recycleMaxBytes } = this.#options;
    if (memory.buffer.byteLength > recycleMaxBytes || this.#size >= total) return;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = { free: [], lastUsed: now };
      this.#pools.set(key, pool);
    }
    pool.lastUsed = now;
    if (pool.free.length >= perKey) return;
    new Uint8Array(memory.buffer).fill(0);
    pool.free.push(memory);
    this.#size++;
  }

  /** Releases the pools of every key starting with `prefix` (a module's digest). */
  forget(prefix: string): void {
    for (const [key, pool] of this.#pools) {
      if (!key.startsWith(prefix)) continue;
      this.#size -= pool.free.length;
      this.#pools.delete(key);
    }
  }

  /** Releases pools unused for `idleMs`. */
  sweep(now: number): void {
    for (const [key, pool] of this.#pools) {
      if (now - pool.lastUsed < this.#options.idleMs) continue;
      this.#size -= pool.free.length;
      this.#pools.delete(key);
    }
  }

  /** Memories held, for metrics and tests. */
  get size(): number {
    return this.#size;
  }

  get idleMs(): number {
    return this.#options.idleMs;
  }
}
