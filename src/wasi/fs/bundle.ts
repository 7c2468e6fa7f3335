/**
 * `MemoryBundle`: an app's bundled files, snapshotted once at deploy and mounted read-only by every
 * instance at no per-instance cost. The bytes of all files sit back to back in one
 * SharedArrayBuffer, so a bundle crosses to a worker thread (`toTransfer()` / `fromTransfer()`)
 * without copying them; the node tree (directories, inode numbers, timestamps) is built once per
 * bundle and per thread, and a mount is O(1). A bundle never changes: nothing in it offers a way to
 * write, and the tree behind its mounts is frozen.
 */
import { IsolaError } from '../../errors.js';
import type { WasiLimits } from '../../limits.js';
import type { Descriptor } from '../descriptor.js';
import { SharedMemoryTree } from './memory-fs.js';

export interface MemoryBundleLimits {
  /** Bytes all the files of one bundle may hold together. Default 256 MiB. */
  maxBytes: number;
}

export const MEMORY_BUNDLE_DEFAULTS: Readonly<MemoryBundleLimits> = Object.freeze({
  maxBytes: 256 * 1024 * 1024,
});

export interface MemoryBundleOptions extends Partial<MemoryBundleLimits> {
  /** Every file's and directory's atime, mtime and ctime, in ns since the epoch. Default: now. */
  timeNs?: bigint;
}

/** Where one file's bytes are in the bundle's buffer. */
export interface BundledFile {
  /** Relative path, as given to `MemoryBundle.from`. */
  readonly path: string;
  readonly offset: number;
  readonly length: number;
}

/** A bundle as a structured-clonable value: `postMessage` shares `buffer`, it does not copy it. */
export interface MemoryBundleTransfer {
  readonly buffer: SharedArrayBuffer;
  /** In the order the tree was built, so a rebuilt tree numbers its inodes the same. */
  readonly files: readonly BundledFile[];
  readonly dev: bigint;
  readonly timeNs: bigint;
}

export class MemoryBundle {
  readonly #transfer: MemoryBundleTransfer;
  readonly #tree: SharedMemoryTree;

  private constructor(
    buffer: SharedArrayBuffer,
    files: readonly BundledFile[],
    identity: { dev?: bigint; timeNs?: bigint },
  ) {
    const bytes = new Uint8Array(buffer);
    this.#tree = new SharedMemoryTree(
      files.map((file) => [file.path, bytes.subarray(file.offset, file.offset + file.length)] as const),
      identity,
    );
    this.#transfer = Object.freeze({
      buffer,
      files: Object.freeze(files),
      dev: this.#tree.dev,
      timeNs: this.#tree.timeNs,
    });
  }

  /**
   * Snapshots `files` (relative paths, directories implied) into one shared buffer. A path that is
   * absolute, climbs, or runs through a file is E_ARGUMENT_INVALID; more than `maxBytes` in all is
   * E_APP_FILES_LIMIT.
   */
  static from(files: Record<string, Uint8Array>, options: MemoryBundleOptions = {}): MemoryBundle {
    const maxBytes = options.maxBytes ?? MEMORY_BUNDLE_DEFAULTS.maxBytes;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new IsolaError(
        'E_LIMIT_OUT_OF_RANGE',
        `a bundle's maxBytes must be a whole number of bytes, not ${maxBytes}`,
        { limit: 'maxBytes', value: maxBytes },
      );
    }
    const entries = Object.entries(files);
    let total = 0;
    for (const [, bytes] of entries) total += bytes.length;
    if (total > maxBytes) {
      throw new IsolaError(
        'E_APP_FILES_LIMIT',
        `the app's files come to ${total} bytes, more than the ${maxBytes} an in-memory bundle may hold: ` +
          'bundle fewer or smaller files, or raise the bundle limit maxBytes',
        { bytes: total, maxBytes },
      );
    }
    const buffer = new SharedArrayBuffer(total);
    const view = new Uint8Array(buffer);
    let offset = 0;
    const index = entries.map(([path, bytes]): BundledFile => {
      view.set(bytes, offset);
      const file = Object.freeze({ path, offset, length: bytes.length });
      offset += bytes.length;
      return file;
    });
    return new MemoryBundle(buffer, index, { timeNs: options.timeNs });
  }

  /** Rebuilds, in any thread, a bundle equal to the one `transfer` came from, sharing its bytes. */
  static fromTransfer(transfer: MemoryBundleTransfer): MemoryBundle {
    const { buffer } = transfer;
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new IsolaError('E_ARGUMENT_INVALID', 'a bundle transfer must hold a SharedArrayBuffer', {});
    }
    const files = transfer.files.map(({ path, offset, length }): BundledFile => {
      const inside =
        Number.isSafeInteger(offset) &&
        Number.isSafeInteger(length) &&
        offset >= 0 &&
        length >= 0 &&
        offset + length <= buffer.byteLength;
      if (!inside) {
        throw new IsolaError(
          'E_ARGUMENT_INVALID',
          `bundled file "${path}" lies outside the bundle's buffer: pass what toTransfer() returned`,
          { path, offset, length, byteLength: buffer.byteLength },
        );
      }
      return Object.freeze({ path, offset, length });
    });
    return new MemoryBundle(buffer, files, { dev: transfer.dev, timeNs: transfer.timeNs });
  }

  /** Bytes all the files hold together. */
  get byteLength(): number {
    return this.#transfer.buffer.byteLength;
  }

  /** The value to post to another thread; the same object on every call. */
  toTransfer(): MemoryBundleTransfer {
    return this.#transfer;
  }

  /** A read-only root directory descriptor for one instance: O(1), shares the tree and bytes. */
  mount(limits: WasiLimits): Descriptor {
    return this.#tree.mount(limits);
  }
}
