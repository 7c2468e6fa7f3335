/**
 * The descriptor table of one instance: fd numbers → descriptors with their rights. Capped at
 * `maxOpenDescriptors` (EMFILE past it). New descriptors take the lowest free number, as POSIX
 * does, so a guest that closes and reopens sees stable numbers.
 */
import { Errno, Filetype, RIGHTS_DIRECTORY_BASE, RIGHTS_FILE_BASE, RIGHTS_TTY_BASE } from './defs.js';
import type { Descriptor } from './descriptor.js';
import { fail } from './errno.js';

export interface FdEntry {
  descriptor: Descriptor;
  rightsBase: bigint;
  rightsInheriting: bigint;
  /** Base rights the guest removed with fd_fdstat_set_rights: using one is ENOTCAPABLE. */
  rightsDropped?: bigint;
  /** Set for a preopened directory: the guest path it is mounted at. */
  preopenPath?: string;
}

/** Rights a descriptor of this type can ever hold. */
export function rightsForType(filetype: Filetype): bigint {
  switch (filetype) {
    case Filetype.DIRECTORY:
      return RIGHTS_DIRECTORY_BASE;
    case Filetype.REGULAR_FILE:
      return RIGHTS_FILE_BASE;
    default:
      return RIGHTS_TTY_BASE;
  }
}

export class FdTable {
  readonly #entries: (FdEntry | undefined)[] = [];
  readonly #max: number;
  #open = 0;

  constructor(maxOpenDescriptors: number) {
    this.#max = maxOpenDescriptors;
  }

  /** The entry for `fd`, or EBADF. */
  get(fd: number): FdEntry {
    const entry = this.#entries[fd];
    if (entry === undefined) fail(Errno.BADF);
    return entry;
  }

  /**
   * The entry for `fd` if it holds `rights`. A right the guest dropped is ENOTCAPABLE; one the
   * descriptor never had is EBADF, as POSIX answers a read on a descriptor opened write-only
   * (wasi-testsuite's path_open_read_without_rights expects it).
   */
  checked(fd: number, rights: bigint): FdEntry {
    const entry = this.#entries[fd];
    if (entry === undefined) fail(Errno.BADF);
    const missing = rights & ~entry.rightsBase;
    if (missing !== 0n) fail((missing & (entry.rightsDropped ?? 0n)) !== 0n ? Errno.NOTCAPABLE : Errno.BADF);
    return entry;
  }

  /** Adds at the lowest free number; EMFILE at the cap. */
  insert(entry: FdEntry): number {
    if (this.#open >= this.#max) fail(Errno.MFILE);
    let fd = this.#entries.indexOf(undefined);
    if (fd === -1) fd = this.#entries.length;
    this.#entries[fd] = entry;
    this.#open++;
    return fd;
  }

  /** Removes `fd` and returns its entry; EBADF if not open. */
  remove(fd: number): FdEntry {
    const entry = this.get(fd);
    this.#entries[fd] = undefined;
    this.#open--;
    while (this.#entries.length > 0 && this.#entries[this.#entries.length - 1] === undefined) {
      this.#entries.pop();
    }
    return entry;
  }

  /** fd_renumber: `to` is closed and replaced by `from`; both must be open. */
  renumber(from: number, to: number): void {
    const source = this.get(from);
    const target = this.get(to);
    if (from === to) return;
    target.descriptor.close();
    this.#entries[to] = source;
    this.remove(from);
  }

  /** Every open entry, for closing at the end of an instance. */
  *entries(): IterableIterator<[number, FdEntry]> {
    for (let fd = 0; fd < this.#entries.length; fd++) {
      const entry = this.#entries[fd];
      if (entry !== undefined) yield [fd, entry];
    }
  }

  get size(): number {
    return this.#open;
  }
}
