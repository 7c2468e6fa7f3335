import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WasiBuilder } from './context.js';
import { Errno, Filetype } from './defs.js';
import { Descriptor, type Filestat } from './descriptor.js';
import { fail } from './errno.js';

/** A directory whose close fails with `errno`, or throws a host error, and records that it ran. */
class ClosingDirectory extends Descriptor {
  readonly filetype = Filetype.DIRECTORY;
  readonly #closed: string[];
  readonly #name: string;
  readonly #failure: 'errno' | 'host' | undefined;

  constructor(closed: string[], name: string, failure?: 'errno' | 'host') {
    super();
    this.#closed = closed;
    this.#name = name;
    this.#failure = failure;
  }

  stat(): Filestat {
    return fail(Errno.NOTSUP);
  }

  override close(): void {
    this.#closed.push(this.#name);
    if (this.#failure === 'errno') fail(Errno.IO);
    if (this.#failure === 'host') throw new Error('host bug');
  }
}

describe('Wasi.close', () => {
  test('closes every descriptor, though one of them fails with an errno', () => {
    const closed: string[] = [];
    const wasi = new WasiBuilder()
      .preopen('/a', () => new ClosingDirectory(closed, 'a', 'errno'))
      .preopen('/b', () => new ClosingDirectory(closed, 'b'))
      .build();
    wasi.close();
    assert.deepEqual(closed, ['a', 'b']);
  });

  test('surfaces a host error, after closing the rest', () => {
    const closed: string[] = [];
    const wasi = new WasiBuilder()
      .preopen('/a', () => new ClosingDirectory(closed, 'a', 'host'))
      .preopen('/b', () => new ClosingDirectory(closed, 'b'))
      .build();
    assert.throws(() => wasi.close(), /host bug/);
    assert.deepEqual(closed, ['a', 'b']);
  });
});
