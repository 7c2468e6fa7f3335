/**
 * Compiled modules, content-addressed by the sha256 of their bytes and bounded in size. V8 on
 * Node 20 cannot deserialize a compiled module (DESIGN.md), so there is no code cache on disk:
 * modules are compiled at load (deploy) and kept here, and the request path only looks them up.
 *
 * A loaded module is pinned until it is unloaded; pinned modules are never evicted. Unpinned ones
 * stay cached (a hot reload back to an earlier build, or another tenant loading the same bytes,
 * then costs nothing) until room is needed, least recently used first. Sizes are counted in Wasm
 * bytes, the one measure of compiled code JavaScript can see.
 */
import { IsolaError } from '../errors.js';

export interface CacheEntry<T> {
  digest: string;
  byteLength: number;
  value: T;
}

export class ModuleCache<T> {
  readonly #maxBytes: number;
  readonly #onEvict: (entry: CacheEntry<T>) => void;
  /** Insertion order is recency order: a hit moves its entry to the end. */
  readonly #entries = new Map<string, CacheEntry<T> & { pins: number }>();
  #bytes = 0;

  constructor(maxBytes: number, onEvict: (entry: CacheEntry<T>) => void) {
    this.#maxBytes = maxBytes;
    this.#onEvict = onEvict;
  }

  /** The entry, marked as recently used, or undefined. */
  get(digest: string): CacheEntry<T> | undefined {
    const entry = this.#entries.get(digest);
    if (entry === undefined) return undefined;
    this.#entries.delete(digest);
    this.#entries.set(digest, entry);
    return entry;
  }

  /** The entry without touching its recency (the request path's lookup). */
  peek(digest: string): CacheEntry<T> | undefined {
    return this.#entries.get(digest);
  }

  /**
   * Adds an entry, pinned once, evicting unpinned entries as needed. Throws E_MODULE_CACHE_FULL
   * when pinned modules alone leave no room.
   */
  add(entry: CacheEntry<T>): void {
    this.#makeRoom(entry.byteLength);
    this.#entries.set(entry.digest, { ...entry, pins: 1 });
    this.#bytes += entry.byteLength;
  }

  pin(digest: string): void {
    const entry = this.#entries.get(digest);
    if (entry !== undefined) entry.pins++;
  }

  /** Unpins once; an unpinned entry stays cached until room is needed. */
  unpin(digest: string): void {
    const entry = this.#entries.get(digest);
    if (entry !== undefined && entry.pins > 0) entry.pins--;
  }

  isPinned(digest: string): boolean {
    return (this.#entries.get(digest)?.pins ?? 0) > 0;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  #makeRoom(needed: number): void {
    if (this.#bytes + needed <= this.#maxBytes) return;
    for (const [digest, entry] of this.#entries) {
      if (entry.pins > 0) continue;
      this.#entries.delete(digest);
      this.#bytes -= entry.byteLength;
      this.#onEvict(entry);
      if (this.#bytes + needed <= this.#maxBytes) return;
    }
    throw new IsolaError(
      'E_MODULE_CACHE_FULL',
      `loading this ${needed}-byte module would take loaded modules past moduleCacheBytes (${this.#maxBytes} bytes), ` +
        `and all ${this.#bytes} cached bytes belong to loaded modules: unload some, or raise moduleCacheBytes`,
      { needed, cachedBytes: this.#bytes, maxBytes: this.#maxBytes },
    );
  }
}
