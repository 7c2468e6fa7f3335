import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { type Wasi, WasiBuilder } from '../context.js';
import { Errno, Fdflags, Filetype, Fstflags, Oflags, Rights } from '../defs.js';
import type { Descriptor, Filestat } from '../descriptor.js';
import { MEMORY_BUNDLE_DEFAULTS, MemoryBundle, type MemoryBundleTransfer } from './bundle.js';
import {
  describeReadOnlyContract,
  errnoOf,
  openRequest,
  readText,
  testLimits,
} from './descriptor-contract.js';

const encoder = new TextEncoder();

function bytesOf(files: Record<string, string>): Record<string, Uint8Array> {
  return Object.fromEntries(Object.entries(files).map(([path, text]) => [path, encoder.encode(text)]));
}

describeReadOnlyContract('memory bundle', (setup) => {
  const root = MemoryBundle.from(bytesOf(setup.files ?? {})).mount(testLimits(setup.limits));
  return { root, dispose: () => root.close() };
});

/** Everything a guest can observe beneath `dir`: each entry's stat and each file's contents. */
function snapshot(dir: Descriptor, prefix = ''): Record<string, { stat: Filestat; text?: string }> {
  const seen: Record<string, { stat: Filestat; text?: string }> = { [prefix || '.']: { stat: dir.stat() } };
  for (const entry of dir.readdir(true)) {
    if (entry.name === '.' || entry.name === '..') continue;
    const path = `${prefix}${entry.name}`;
    if (entry.filetype === Filetype.DIRECTORY) {
      const sub = dir.openAt(entry.name, openRequest({ oflags: Oflags.DIRECTORY }));
      Object.assign(seen, snapshot(sub, `${path}/`));
      sub.close();
    } else {
      seen[path] = { stat: dir.statAt(entry.name, false), text: readText(dir, entry.name) };
    }
  }
  return seen;
}

describe('memory bundle', () => {
  const limits = testLimits();
  const files = { 'index.html': '<h1>hi</h1>', 'static/css/site.css': 'body{}', 'static/app.js': 'go()' };

  it('holds every file back to back in one SharedArrayBuffer and serves them through a read-only mount', () => {
    const bundle = MemoryBundle.from(bytesOf(files));
    const transfer = bundle.toTransfer();
    assert.ok(transfer.buffer instanceof SharedArrayBuffer);
    assert.equal(bundle.byteLength, 11 + 6 + 4);
    assert.deepEqual(
      transfer.files.map(({ path, offset, length }) => [path, offset, length]),
      [
        ['index.html', 0, 11],
        ['static/css/site.css', 11, 6],
        ['static/app.js', 17, 4],
      ],
    );
    const root = bundle.mount(limits);
    assert.equal(root.readOnly, true);
    assert.equal(readText(root, 'static/css/site.css'), 'body{}');
    assert.equal(root.statAt('static', false).nlink, 3n);
    assert.equal(root.statAt('index.html', false).size, 11n);
  });

  it("snapshots the files, so changing the caller's bytes afterwards changes nothing", () => {
    const source = bytesOf({ file: 'keep' });
    const bundle = MemoryBundle.from(source);
    source.file!.fill(0);
    assert.equal(readText(bundle.mount(limits), 'file'), 'keep');
  });

  it('refuses bundled paths that are absolute, climb, run through a file or are also a directory', () => {
    for (const bad of ['/etc/passwd', 'a/../b', 'a/./b', 'a//b']) {
      assert.throws(() => MemoryBundle.from(bytesOf({ [bad]: '' })), { code: 'E_ARGUMENT_INVALID' });
    }
    assert.throws(() => MemoryBundle.from(bytesOf({ a: '', 'a/b': '' })), {
      code: 'E_ARGUMENT_INVALID',
      message: /runs through a file/,
    });
    assert.throws(() => MemoryBundle.from(bytesOf({ 'a/b': '', a: '' })), {
      code: 'E_ARGUMENT_INVALID',
      message: /also the directory/,
    });
  });

  it('refuses more than maxBytes in all with E_APP_FILES_LIMIT, saying what to do', () => {
    assert.equal(MEMORY_BUNDLE_DEFAULTS.maxBytes, 256 * 1024 * 1024);
    const tenBytes = bytesOf({ a: '12345', 'b/c': '67890' });
    assert.equal(MemoryBundle.from(tenBytes, { maxBytes: 10 }).byteLength, 10);
    assert.throws(() => MemoryBundle.from(tenBytes, { maxBytes: 9 }), {
      code: 'E_APP_FILES_LIMIT',
      message: /10 bytes, more than the 9 .*: bundle fewer or smaller files, or raise .*maxBytes/,
    });
    assert.throws(() => MemoryBundle.from(tenBytes, { maxBytes: -1 }), { code: 'E_LIMIT_OUT_OF_RANGE' });
  });

  it('shows every mount the same device, inode numbers and timestamps', () => {
    const bundle = MemoryBundle.from(bytesOf(files), { timeNs: 1_700_000_000_123_456_789n });
    const one = bundle.mount(limits);
    const two = bundle.mount(testLimits({ maxReaddirEntries: 3 }));
    assert.deepEqual(one.statAt('static/app.js', false), two.statAt('static/app.js', false));
    assert.deepEqual(one.stat(), two.stat());
    const stat = one.statAt('static/app.js', false);
    assert.equal(stat.mtim, 1_700_000_000_123_456_789n);
    assert.equal(stat.atim, stat.mtim);
    assert.equal(stat.ctim, stat.mtim);
    assert.equal(two.readdir(true).length, 3, 'each mount keeps the limits it was mounted with');
    assert.notEqual(MemoryBundle.from(bytesOf(files)).mount(limits).stat().dev, one.stat().dev);
  });

  it('survives structuredClone with its bytes shared, not copied: a write on one side shows on the other', () => {
    const bundle = MemoryBundle.from(bytesOf(files));
    const transfer = structuredClone(bundle.toTransfer());
    assert.notEqual(transfer.buffer, bundle.toTransfer().buffer);
    const copy = MemoryBundle.fromTransfer(transfer);
    assert.deepEqual(snapshot(copy.mount(limits)), snapshot(bundle.mount(limits)));
    new Uint8Array(transfer.buffer)[0] = '<'.charCodeAt(0) + 1;
    assert.equal(readText(bundle.mount(limits), 'index.html'), '=h1>hi</h1>');
  });

  it('crosses to a worker thread, which sees the same files, stats and bytes without a copy', async () => {
    const bundle = MemoryBundle.from(bytesOf(files));
    const tsx = import.meta.resolve('tsx/esm/api');
    const modules = [
      new URL('./bundle.ts', import.meta.url).href,
      new URL('../../limits.ts', import.meta.url).href,
    ];
    // Node 20 does not apply tsx to a worker's entry (see src/runtime/spawn-worker.ts): register it first.
    const source = `
      Promise.all([
        import('node:worker_threads'),
        import(${JSON.stringify(tsx)}).then((tsx) => {
          tsx.register();
          return Promise.all(${JSON.stringify(modules)}.map((module) => import(module)));
        }),
      ]).then(([{ parentPort, workerData }, [{ MemoryBundle }, { resolveWasiLimits }]]) => {
        const root = MemoryBundle.fromTransfer(workerData).mount(resolveWasiLimits());
        const file = root.openAt('index.html', { oflags: 0, fdflags: 0, followSymlinks: false, read: true, write: false });
        const buffer = new Uint8Array(64);
        const text = new TextDecoder().decode(buffer.subarray(0, file.read(buffer)));
        new Uint8Array(workerData.buffer)[1] = 'H'.charCodeAt(0);
        parentPort.postMessage({ text, stat: root.statAt('index.html', false) });
      });`;
    const worker = new Worker(source, { eval: true, workerData: bundle.toTransfer() });
    const [reply] = (await once(worker, 'message')) as [{ text: string; stat: Filestat }];
    await once(worker, 'exit');
    assert.equal(reply.text, '<h1>hi</h1>');
    assert.deepEqual(reply.stat, bundle.mount(limits).statAt('index.html', false));
    assert.equal(
      readText(bundle.mount(limits), 'index.html'),
      '<H1>hi</h1>',
      "the worker's write is seen here",
    );
  });

  it('refuses a transfer whose files lie outside its buffer or repeat a path', () => {
    const transfer = MemoryBundle.from(bytesOf({ a: 'abc' })).toTransfer();
    const outside: MemoryBundleTransfer = { ...transfer, files: [{ path: 'a', offset: 1, length: 3 }] };
    assert.throws(() => MemoryBundle.fromTransfer(outside), { code: 'E_ARGUMENT_INVALID', message: /"a"/ });
    const twice: MemoryBundleTransfer = { ...transfer, files: [...transfer.files, ...transfer.files] };
    assert.throws(() => MemoryBundle.fromTransfer(twice), {
      code: 'E_ARGUMENT_INVALID',
      message: /bundled twice/,
    });
  });

  it('stays exactly as built whatever a mount tries, even calls preview1 rights would stop first', () => {
    const bundle = MemoryBundle.from(bytesOf({ file: 'keep', 'dir/x': 'x', 'dir/sub/y': 'y' }));
    const root = bundle.mount(limits);
    const observer = bundle.mount(limits);
    const before = snapshot(observer);
    const file = root.openAt('file', openRequest());
    const dir = root.openAt('dir', openRequest({ oflags: Oflags.DIRECTORY }));
    const data = Uint8Array.of(1);
    const times = { atim: 'now', mtim: 1n } as const;
    const attempts: [string, () => unknown, number][] = [
      ['open for writing', () => root.openAt('file', openRequest({ write: true })), Errno.ROFS],
      ['open with TRUNC', () => root.openAt('file', openRequest({ oflags: Oflags.TRUNC })), Errno.ROFS],
      ['create', () => root.openAt('new', openRequest({ oflags: Oflags.CREAT, write: true })), Errno.ROFS],
      ['open a directory for writing', () => root.openAt('dir', openRequest({ write: true })), Errno.ISDIR],
      ['write', () => file.write(data), Errno.BADF],
      ['pwrite', () => file.pwrite(data, 0n), Errno.BADF],
      ['pwrite far out', () => file.pwrite(data, 1n << 50n), Errno.BADF],
      ['set the size', () => file.setSize(0n), Errno.BADF],
      ['allocate', () => file.allocate(0n, 100n), Errno.BADF],
      ['set file times', () => file.setTimes(times), Errno.BADF],
      ['set directory times', () => dir.setTimes(times), Errno.BADF],
      ['set root times', () => root.setTimes(times), Errno.BADF],
      ['mkdir', () => root.createDirectoryAt('dir/new'), Errno.ROFS],
      ['rmdir', () => dir.removeDirectoryAt('sub'), Errno.ROFS],
      ['unlink', () => root.unlinkFileAt('file'), Errno.ROFS],
      ['unlink below', () => dir.unlinkFileAt('x'), Errno.ROFS],
      ['rename a file', () => root.renameAt('file', dir, 'moved'), Errno.ROFS],
      ['rename a directory', () => root.renameAt('dir', root, 'other'), Errno.ROFS],
      ['rename onto another mount', () => root.renameAt('file', observer, 'x'), Errno.XDEV],
      ['link', () => root.linkAt('file', false, dir, 'hard'), Errno.ROFS],
      ['symlink', () => dir.symlinkAt('x', 'soft'), Errno.ROFS],
      ['set times by path', () => root.setTimesAt('dir/x', false, times), Errno.ROFS],
    ];
    for (const [what, attempt, errno] of attempts) assert.equal(errnoOf(attempt), errno, what);
    file.setFdflags(Fdflags.APPEND);
    assert.equal(
      errnoOf(() => file.write(data)),
      Errno.BADF,
      'append',
    );
    const buffer = new Uint8Array(8);
    assert.equal(file.read(buffer), 4);
    assert.equal(file.pread(buffer, 1n), 3);
    file.close();
    dir.close();
    assert.deepEqual(snapshot(root), before, 'reads change no atime either');
    assert.deepEqual(snapshot(observer), before);
  });
});

/** A guest calling preview1 functions directly, with its strings and buffers in a 64 KiB memory. */
class Guest {
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  readonly #call: Record<string, (...args: (number | bigint)[]) => number>;
  #next = 1024;

  constructor(wasi: Wasi) {
    const memory = new WebAssembly.Memory({ initial: 1 });
    wasi.bind(memory);
    this.#view = new DataView(memory.buffer);
    this.#bytes = new Uint8Array(memory.buffer);
    this.#call = wasi.preview1 as unknown as Record<string, (...args: (number | bigint)[]) => number>;
  }

  /** Calls `name` with each string argument replaced by its (pointer, length) pair. */
  call(name: string, ...args: (number | bigint | string)[]): number {
    this.#next = 1024;
    const flat = args.flatMap((arg) => (typeof arg === 'string' ? this.#string(arg) : [arg]));
    return this.#call[name]!(...flat);
  }

  #string(text: string): [number, number] {
    const bytes = encoder.encode(text);
    const ptr = this.#next;
    this.#bytes.set(bytes, ptr);
    this.#next += bytes.length;
    return [ptr, bytes.length];
  }

  /** path_open from fd 3; returns [errno, fd]. */
  open(path: string, oflags: number, rights: bigint, fdflags = 0): [number, number] {
    const errno = this.call('path_open', 3, 0, path, oflags, rights, 0n, fdflags, 0);
    return [errno, this.#view.getUint32(0, true)];
  }

  /** fd_read into one 256-byte iovec; returns [errno, text]. */
  read(fd: number): [number, string] {
    this.#view.setUint32(16, 512, true);
    this.#view.setUint32(20, 256, true);
    this.#view.setUint32(8, 0, true);
    const errno = this.call('fd_read', fd, 16, 1, 8);
    const count = this.#view.getUint32(8, true);
    return [errno, new TextDecoder().decode(this.#bytes.subarray(512, 512 + count))];
  }

  /** fd_write of one byte from one iovec. */
  write(name: 'fd_write' | 'fd_pwrite', fd: number): number {
    this.#view.setUint32(16, 512, true);
    this.#view.setUint32(20, 1, true);
    return name === 'fd_write' ? this.call(name, fd, 16, 1, 8) : this.call(name, fd, 16, 1, 0n, 8);
  }

  /** path_filestat_get's 64 bytes, and the file's contents when it is one. */
  observe(path: string): string {
    const errno = this.call('path_filestat_get', 3, 0, path, 64);
    const stat = Buffer.from(this.#bytes.subarray(64, 128)).toString('hex');
    const [, fd] = this.open(path, 0, Rights.FD_READ);
    const [, text] = this.read(fd);
    this.call('fd_close', fd);
    return `${errno} ${stat} ${text}`;
  }
}

/** Every preview1 call that writes, tried on fd 3 and on a file opened from it; returns each errno. */
function tryEveryWrite(guest: Guest): Record<string, number> {
  const tried: Record<string, number> = {};
  tried.openForWriting = guest.open('file', 0, Rights.FD_READ | Rights.FD_WRITE)[0];
  tried.openTruncating = guest.open('file', Oflags.TRUNC, Rights.FD_READ)[0];
  tried.create = guest.open('new', Oflags.CREAT, Rights.FD_READ)[0];
  tried.openAppending = guest.open('file', 0, Rights.FD_READ, Fdflags.APPEND)[0];
  const [, fd] = guest.open('file', 0, Rights.FD_READ | Rights.FD_SEEK);
  tried.fd_write = guest.write('fd_write', fd);
  tried.fd_pwrite = guest.write('fd_pwrite', fd);
  tried.fd_allocate = guest.call('fd_allocate', fd, 0n, 10n);
  tried.fd_filestat_set_size = guest.call('fd_filestat_set_size', fd, 0n);
  tried.fd_filestat_set_times = guest.call('fd_filestat_set_times', fd, 0n, 0n, Fstflags.MTIM_NOW);
  tried.fd_filestat_set_times_dir = guest.call('fd_filestat_set_times', 3, 0n, 0n, Fstflags.ATIM_NOW);
  tried.fd_fdstat_set_rights = guest.call('fd_fdstat_set_rights', fd, ~0n, ~0n);
  tried.fd_fdstat_set_flags = guest.call('fd_fdstat_set_flags', fd, Fdflags.APPEND);
  tried.fd_datasync = guest.call('fd_datasync', fd);
  tried.fd_read = guest.read(fd)[0];
  tried.path_create_directory = guest.call('path_create_directory', 3, 'new');
  tried.path_remove_directory = guest.call('path_remove_directory', 3, 'dir');
  tried.path_unlink_file = guest.call('path_unlink_file', 3, 'file');
  tried.path_rename = guest.call('path_rename', 3, 'file', 3, 'moved');
  tried.path_link = guest.call('path_link', 3, 0, 'file', 3, 'hard');
  tried.path_symlink = guest.call('path_symlink', 'file', 3, 'soft');
  tried.path_filestat_set_times = guest.call(
    'path_filestat_set_times',
    3,
    0,
    'file',
    0n,
    0n,
    Fstflags.MTIM_NOW,
  );
  tried.fd_close = guest.call('fd_close', fd);
  return tried;
}

describe('memory bundle mounted by WasiBuilder.preopenBundle', () => {
  const files = { file: 'keep', 'dir/x': 'x' };
  const hostDir = mkdtempSync(join(tmpdir(), 'isola-bundle-'));
  after(() => rmSync(hostDir, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(hostDir, path)), { recursive: true });
    writeFileSync(join(hostDir, path), text);
  }

  it('gives two instances one unchanged bundle after one tries every writing call, with the errnos a read-only host directory gives', () => {
    const builder = new WasiBuilder().preopenBundle('/static', MemoryBundle.from(bytesOf(files)));
    const writer = new Guest(builder.build());
    const reader = new Guest(builder.build());
    const paths = ['.', 'file', 'dir', 'dir/x'];
    const before = paths.map((path) => reader.observe(path));
    assert.match(before[1]!, /^0 .* keep$/);

    const fromBundle = tryEveryWrite(writer);
    const host = new Guest(new WasiBuilder().preopenDir(hostDir, '/static', { readOnly: true }).build());
    assert.deepEqual(fromBundle, tryEveryWrite(host));
    const allowed = ['openAppending', 'fd_fdstat_set_flags', 'fd_read', 'fd_close'];
    for (const [call, errno] of Object.entries(fromBundle)) {
      assert.equal(errno === Errno.SUCCESS, allowed.includes(call), `${call} returned ${errno}`);
    }

    assert.deepEqual(
      paths.map((path) => reader.observe(path)),
      before,
    );
    assert.deepEqual(
      paths.map((path) => writer.observe(path)),
      before,
    );
  });
});
