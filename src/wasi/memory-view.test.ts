import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Errno } from './defs.js';
import { errnoOf } from './fs/descriptor-contract.js';
import { GuestMemory, type StringBlock, stringBlock } from './memory-view.js';

describe('GuestMemory', () => {
  it('reads and writes little-endian values', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const view = new GuestMemory(memory);
    view.setU64(8, 0x0102030405060708n);
    assert.equal(view.getU8(8), 0x08);
    assert.equal(view.getU32(12), 0x01020304);
    assert.equal(view.getU64(8), 0x0102030405060708n);
  });

  it('answers EFAULT for a pointer past the end, never a host RangeError', () => {
    const view = new GuestMemory(new WebAssembly.Memory({ initial: 1 }));
    assert.equal(
      errnoOf(() => view.getU32(65_533)),
      Errno.FAULT,
    );
    assert.equal(
      errnoOf(() => view.bytes(65_000, 1000)),
      Errno.FAULT,
    );
    // A negative i32 is a large u32 address, still out of range.
    assert.equal(
      errnoOf(() => view.setU8(-1, 0)),
      Errno.FAULT,
    );
  });

  it('follows the buffer after the guest grows its memory', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
    const view = new GuestMemory(memory);
    view.setU8(10, 7);
    memory.grow(1);
    view.setU32(70_000, 42);
    assert.equal(view.getU32(70_000), 42);
    assert.equal(view.getU8(10), 7);
  });

  it('decodes UTF-8 strings and answers EILSEQ for invalid bytes', () => {
    const view = new GuestMemory(new WebAssembly.Memory({ initial: 1 }));
    view.write(0, new TextEncoder().encode('héllo'));
    assert.equal(view.string(0, 6), 'héllo');
    view.write(100, new Uint8Array([0xff, 0xfe]));
    assert.equal(
      errnoOf(() => view.string(100, 2)),
      Errno.ILSEQ,
    );
  });

  it('bounds the bytes an iovec list copies in one call', () => {
    const view = new GuestMemory(new WebAssembly.Memory({ initial: 1 }));
    // Three iovecs of 1000 bytes each at 1000, 2000, 3000.
    for (let i = 0; i < 3; i++) {
      view.setU32(i * 8, 1000 * (i + 1));
      view.setU32(i * 8 + 4, 1000);
    }
    const views = view.iovecs(0, 3, 2500);
    assert.deepEqual(
      views.map((v) => v.length),
      [1000, 1000, 500],
    );
  });
});

describe('stringBlock', () => {
  const strings = (block: StringBlock) =>
    block.offsets.map((offset) => {
      const end = block.bytes.indexOf(0, offset);
      return Buffer.from(block.bytes.subarray(offset, end)).toString('utf8');
    });

  it('puts each text, ASCII or not, empty ones included, behind the one before it, each ended by a NUL', () => {
    const ascii = stringBlock(['A=1', '', 'PATH_INFO=/x']);
    assert.deepEqual(strings(ascii), ['A=1', '', 'PATH_INFO=/x']);
    assert.equal(ascii.bytes.length, 3 + 1 + 1 + 12 + 1);
    const wide = stringBlock(['Ä=ö', 'b', '日本=語']);
    assert.deepEqual(strings(wide), ['Ä=ö', 'b', '日本=語']);
    assert.deepEqual(wide.offsets, [0, 6, 8]);
    assert.deepEqual(stringBlock([]), { bytes: new Uint8Array(0), offsets: [] });
  });
});
