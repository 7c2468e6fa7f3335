import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fixtureBytes } from '../../../test/fixtures/paths.js';
import { createStore, openSyncStore } from '../../kv/create-store.js';
import type { KeyValueStore, SyncKeyValueStore } from '../../kv/key-value-store.js';
import { kvError } from '../../kv/kv-error.js';
import type { SyncKeyValueBucket } from '../../kv/store.js';
import { WasiBuilder } from '../context.js';
import { Errno, Fdflags, Filetype, Oflags, Whence } from '../defs.js';
import type { Descriptor } from '../descriptor.js';
import { CaptureSink } from '../stdio.js';
import { errnoOf, openRequest, readText, testLimits, writeText } from './descriptor-contract.js';
import {
  createKeyValueDirectory,
  type KeyValueDirectoryBucket,
  type KeyValueDirectoryOptions,
  type KeyValueStoreFailure,
} from './kv-directory.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CREATE = openRequest({ oflags: Oflags.CREAT, write: true });

const dir = mkdtempSync(join(tmpdir(), 'isola-kv-directory-'));
let asyncStore: KeyValueStore;
/** The worker-side store every test uses, on the main thread (SQLite is synchronous there too). */
let store: SyncKeyValueStore;
let guest: WebAssembly.Module;

before(async () => {
  asyncStore = await createStore({ backend: 'sqlite', path: join(dir, 'kv.sqlite') });
  store = openSyncStore(await asyncStore.workerHandle());
  guest = await WebAssembly.compile(fixtureBytes('kv-file-ops'));
});
after(async () => {
  store?.close();
  await asyncStore?.close();
  rmSync(dir, { recursive: true, force: true });
});

let apps = 0;
/** A bucket of an app of its own, holding `values`. */
function freshBucket(values: Record<string, string> = {}): SyncKeyValueBucket {
  apps += 1;
  const bucket = store.open(`kv-directory-${apps}`, 'default');
  for (const [key, value] of Object.entries(values)) bucket.set(key, encoder.encode(value));
  return bucket;
}

function stored(bucket: KeyValueDirectoryBucket, key: string): string | undefined {
  const value = bucket.get(key);
  return value === undefined ? undefined : decoder.decode(value);
}

function mount(bucket: KeyValueDirectoryBucket, options: Partial<KeyValueDirectoryOptions> = {}): Descriptor {
  return createKeyValueDirectory(bucket, { limits: testLimits(), ...options });
}

function names(root: Descriptor): string[] {
  return root.readdir(true).map((entry) => entry.name);
}

/** Runs the kv-file-ops fixture with `args` on `bucket` mounted at /kv; one build is one request. */
function runGuest(
  bucket: KeyValueDirectoryBucket,
  args: string[],
  options: Partial<KeyValueDirectoryOptions> = {},
): { exitCode: number; stdout: string; stderr: string } {
  const stdout = new CaptureSink(1 << 20);
  const stderr = new CaptureSink(1 << 20);
  const wasi = new WasiBuilder()
    .args(['kv-file-ops.wasm', ...args])
    .stdout(stdout)
    .stderr(stderr)
    .preopen('/kv', (limits) => createKeyValueDirectory(bucket, { limits, ...options }))
    .build();
  const exitCode = wasi.start(new WebAssembly.Instance(guest, wasi.imports));
  return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
}

function lines(result: { exitCode: number; stdout: string; stderr: string }): string[] {
  assert.equal(result.exitCode, 0, result.stderr);
  return result.stdout.trimEnd().split('\n');
}

/** A bucket whose every call fails as a store that cannot be reached does. */
function unreachableBucket(id = { app: 'unreachable', label: 'default' }): KeyValueDirectoryBucket {
  const down = (): never => {
    throw kvError('E_KV_UNAVAILABLE', 'the key-value store did not answer in time', { ...id });
  };
  return { id, get: down, set: down, delete: down, exists: down, listKeys: down };
}

describe('key-value directory, the descriptor contract for a flat directory of files', () => {
  it('writes, seeks, tells and reads back what was written', () => {
    const root = mount(freshBucket());
    const file = root.openAt('file', CREATE);
    assert.equal(file.filetype, Filetype.REGULAR_FILE);
    assert.equal(file.write(new Uint8Array(100).fill(7)), 100);
    assert.equal(file.tell(), 100n);
    assert.equal(file.seek(-50n, Whence.CUR), 50n);
    assert.equal(file.seek(1000n, Whence.SET), 1000n);
    assert.equal(
      errnoOf(() => file.seek(-2000n, Whence.CUR)),
      Errno.INVAL,
    );
    assert.equal(file.seek(0n, Whence.END), 100n);
    file.seek(0n, Whence.SET);
    const buffer = new Uint8Array(200);
    assert.equal(file.read(buffer), 100);
    assert.equal(file.read(buffer), 0);
    file.close();
  });

  it('reads and writes at an offset without moving the position', () => {
    const root = mount(freshBucket());
    const file = root.openAt('file', CREATE);
    assert.equal(file.pwrite(Uint8Array.of(0, 1, 2, 3), 0n), 4);
    assert.equal(file.pwrite(Uint8Array.of(1, 0), 2n), 2);
    const buffer = new Uint8Array(4);
    assert.equal(file.pread(buffer, 0n), 4);
    assert.deepEqual([...buffer], [0, 1, 1, 0]);
    assert.equal(file.pread(buffer, 10n), 0);
    assert.equal(file.tell(), 0n);
    file.close();
  });

  it('appends at the end with APPEND, which can be switched off, but not the sync flags', () => {
    const bucket = freshBucket({ file: 'ab' });
    const root = mount(bucket);
    const file = root.openAt('file', openRequest({ write: true, fdflags: Fdflags.APPEND }));
    file.write(encoder.encode('cd'));
    file.pwrite(encoder.encode('ef'), 0n);
    file.setFdflags(0);
    file.pwrite(encoder.encode('A'), 0n);
    assert.equal(
      errnoOf(() => file.setFdflags(Fdflags.SYNC)),
      Errno.NOTSUP,
    );
    file.close();
    assert.equal(stored(bucket, 'file'), 'Abcdef');
  });

  it('sets the size, and allocate grows a file but never shrinks it', () => {
    const bucket = freshBucket();
    const root = mount(bucket);
    const file = root.openAt('file', CREATE);
    file.setSize(100n);
    file.allocate(90n, 20n);
    assert.equal(file.stat().size, 110n);
    file.setSize(3n);
    file.setSize(6n);
    const buffer = new Uint8Array(6).fill(9);
    assert.equal(file.pread(buffer, 0n), 6);
    assert.deepEqual([...buffer], [0, 0, 0, 0, 0, 0]);
    assert.equal(
      errnoOf(() => file.advise(0n, 0n, 9)),
      Errno.INVAL,
    );
    file.close();
    assert.equal(bucket.get('file')?.length, 6);
  });

  it('honours CREAT, EXCL, TRUNC and DIRECTORY', () => {
    const bucket = freshBucket({ file: 'content' });
    const root = mount(bucket);
    const exclusive = openRequest({ oflags: Oflags.CREAT | Oflags.EXCL, write: true });
    assert.equal(
      errnoOf(() => root.openAt('file', exclusive)),
      Errno.EXIST,
    );
    assert.equal(
      errnoOf(() => root.openAt('missing', openRequest())),
      Errno.NOENT,
    );
    assert.equal(
      errnoOf(() => root.openAt('file', openRequest({ oflags: Oflags.DIRECTORY }))),
      Errno.NOTDIR,
    );
    assert.equal(
      errnoOf(() => root.openAt('new', openRequest({ oflags: Oflags.CREAT | Oflags.DIRECTORY }))),
      Errno.INVAL,
    );
    root.openAt('file', openRequest({ oflags: Oflags.TRUNC, read: false })).close();
    assert.equal(root.statAt('file', false).size, 0n);
    root.openAt('fresh', exclusive).close();
    assert.equal(stored(bucket, 'fresh'), '');
  });

  it('opens `.` as a directory descriptor, never for writing, and refuses writes through a reader', () => {
    const root = mount(freshBucket({ file: 'abc' }));
    const self = root.openAt('.', openRequest({ fdflags: Fdflags.NONBLOCK }));
    assert.equal(self.filetype, Filetype.DIRECTORY);
    assert.deepEqual(names(self), ['.', '..', 'file']);
    assert.equal(readText(self, 'file'), 'abc');
    self.close();
    assert.equal(
      errnoOf(() => root.openAt('.', openRequest({ write: true }))),
      Errno.ISDIR,
    );
    const reader = root.openAt('file', openRequest());
    assert.equal(
      errnoOf(() => reader.write(Uint8Array.of(1))),
      Errno.BADF,
    );
    reader.close();
  });

  it('fails file calls on the directory with the errno POSIX gives', () => {
    const root = mount(freshBucket());
    const buffer = new Uint8Array(4);
    assert.equal(
      errnoOf(() => root.read(buffer)),
      Errno.ISDIR,
    );
    assert.equal(
      errnoOf(() => root.write(buffer)),
      Errno.ISDIR,
    );
    assert.equal(
      errnoOf(() => root.seek(0n, Whence.CUR)),
      Errno.ISDIR,
    );
    assert.equal(
      errnoOf(() => root.setSize(0n)),
      Errno.ISDIR,
    );
  });

  it('resolves `.`, `..` and slashes, and walks into no key as a directory', () => {
    const root = mount(freshBucket({ file: 'flat' }));
    assert.equal(readText(root, './/file'), 'flat');
    assert.equal(
      errnoOf(() => root.openAt('file/../file', openRequest())),
      Errno.NOTDIR,
    );
    assert.equal(
      errnoOf(() => root.openAt('missing/../file', openRequest())),
      Errno.NOENT,
    );
    assert.equal(
      errnoOf(() => root.openAt('file\0', openRequest())),
      Errno.INVAL,
    );
    assert.equal(
      errnoOf(() => root.openAt('/file', openRequest())),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.statAt('..', false)),
      Errno.PERM,
    );
  });

  it('says ENOTDIR for a file named with a trailing slash, EISDIR for unlinking the directory', () => {
    const root = mount(freshBucket({ file: '' }));
    assert.equal(
      errnoOf(() => root.openAt('file/', openRequest())),
      Errno.NOTDIR,
    );
    assert.equal(
      errnoOf(() => root.statAt('file/', false)),
      Errno.NOTDIR,
    );
    assert.equal(
      errnoOf(() => root.unlinkFileAt('file/')),
      Errno.NOTDIR,
    );
    assert.equal(
      errnoOf(() => root.openAt('new/', CREATE)),
      Errno.ISDIR,
    );
    assert.equal(
      errnoOf(() => root.unlinkFileAt('.')),
      Errno.ISDIR,
    );
    assert.equal(root.statAt('./', false).filetype, Filetype.DIRECTORY);
  });

  it('keeps the listing it read until asked to refresh, and lists at most maxReaddirEntries entries', () => {
    const root = mount(freshBucket(), { limits: testLimits({ maxReaddirEntries: 5 }) });
    const first = root.readdir(true);
    writeText(root, 'late', '');
    assert.equal(root.readdir(false), first);
    assert.deepEqual(names(root), ['.', '..', 'late']);
    for (let i = 0; i < 10; i++) writeText(root, `f${i}`, '');
    assert.equal(root.readdir(true).length, 5);
  });

  it('names a path longer than maxPathBytes ENAMETOOLONG', () => {
    const root = mount(freshBucket(), { limits: testLimits({ maxPathBytes: 16 }) });
    assert.equal(
      errnoOf(() => root.statAt('é'.repeat(9), false)),
      Errno.NAMETOOLONG,
    );
    assert.equal(
      errnoOf(() => root.statAt('x'.repeat(16), false)),
      Errno.NOENT,
    );
  });

  it('renames within the mount, over an existing key too, and not across mounts (EXDEV)', () => {
    const bucket = freshBucket({ a: 'a', b: 'b' });
    const root = mount(bucket);
    root.renameAt('a', root, 'b');
    assert.equal(stored(bucket, 'a'), undefined);
    assert.equal(stored(bucket, 'b'), 'a');
    root.renameAt('b', root, 'b');
    assert.equal(stored(bucket, 'b'), 'a');
    assert.equal(
      errnoOf(() => root.renameAt('missing', root, 'x')),
      Errno.NOENT,
    );
    assert.equal(
      errnoOf(() => root.renameAt('b', root, 'x/')),
      Errno.NOTDIR,
    );
    assert.equal(
      errnoOf(() => root.renameAt('.', root, 'x')),
      Errno.BUSY,
    );
    assert.equal(
      errnoOf(() => root.renameAt('b', mount(bucket), 'x')),
      Errno.XDEV,
    );
    const self = root.openAt('.', openRequest());
    root.renameAt('b', self, 'c');
    assert.equal(stored(bucket, 'c'), 'a');
  });

  it('has no subdirectories, hard links or symlinks: EPERM, or EEXIST where the name is taken', () => {
    const root = mount(freshBucket({ file: 'f' }));
    assert.equal(
      errnoOf(() => root.createDirectoryAt('dir')),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.createDirectoryAt('file')),
      Errno.EXIST,
    );
    assert.equal(
      errnoOf(() => root.removeDirectoryAt('file')),
      Errno.NOTDIR,
    );
    assert.equal(
      errnoOf(() => root.removeDirectoryAt('missing')),
      Errno.NOENT,
    );
    assert.equal(
      errnoOf(() => root.linkAt('file', false, root, 'hard')),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.linkAt('file', false, root, 'file')),
      Errno.EXIST,
    );
    assert.equal(
      errnoOf(() => root.linkAt('missing', false, root, 'hard')),
      Errno.NOENT,
    );
    assert.equal(
      errnoOf(() => root.symlinkAt('file', 'soft')),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.symlinkAt('file', 'file')),
      Errno.EXIST,
    );
    assert.equal(
      errnoOf(() => root.symlinkAt('/', 'soft')),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.readlinkAt('file')),
      Errno.INVAL,
    );
    assert.equal(
      errnoOf(() => root.readlinkAt('missing')),
      Errno.NOENT,
    );
  });

  it('refuses every change beneath a read-only mount: EROFS for paths, EBADF through descriptors', () => {
    const bucket = freshBucket({ file: 'keep' });
    const root = mount(bucket, { readOnly: true });
    assert.equal(root.readOnly, true);
    assert.equal(readText(root, 'file'), 'keep');
    assert.deepEqual(names(root), ['.', '..', 'file']);
    for (const change of [
      () => root.openAt('file', openRequest({ write: true })),
      () => root.openAt('file', openRequest({ oflags: Oflags.TRUNC })),
      () => root.openAt('new', openRequest({ oflags: Oflags.CREAT })),
      () => root.createDirectoryAt('new'),
      () => root.removeDirectoryAt('file'),
      () => root.unlinkFileAt('file'),
      () => root.renameAt('file', root, 'moved'),
      () => root.linkAt('file', false, root, 'hard'),
      () => root.symlinkAt('file', 'soft'),
      () => root.setTimesAt('file', false, { atim: 'now', mtim: 'now' }),
    ]) {
      assert.equal(errnoOf(change), Errno.ROFS, String(change));
    }
    assert.equal(
      errnoOf(() => root.openAt('file', openRequest({ oflags: Oflags.CREAT | Oflags.EXCL }))),
      Errno.EXIST,
    );
    const file = root.openAt('file', openRequest());
    const data = Uint8Array.of(1);
    for (const change of [
      () => file.write(data),
      () => file.pwrite(data, 1n << 60n),
      () => file.setSize(0n),
      () => file.allocate(0n, 10n),
      () => file.setTimes({ atim: 'now', mtim: undefined }),
      () => root.setTimes({ atim: 'now', mtim: undefined }),
    ]) {
      assert.equal(errnoOf(change), Errno.BADF, String(change));
    }
    file.close();
    assert.equal(stored(bucket, 'file'), 'keep');
  });
});

describe('key-value directory', () => {
  it('lets a guest write a key, read it back, list the directory and unlink a key', () => {
    const bucket = freshBucket({ old: 'stale' });
    const output = lines(
      runGuest(
        bucket,
        [
          ['put', 'greeting', 'hello'],
          ['get', 'greeting'],
          ['append', 'greeting', ', world'],
          ['stat', 'greeting'],
          ['ls'],
          ['rm', 'old'],
          ['rm', 'old'],
          ['get', 'old'],
          ['mv', 'greeting', 'moved'],
          ['mkdir', 'sub'],
          ['ls'],
        ].flat(),
      ),
    );
    assert.deepEqual(output, [
      'put greeting -> SUCCESS',
      'get greeting = hello',
      'append greeting -> SUCCESS',
      'stat greeting: file of 12 bytes',
      'ls: . .. greeting old',
      'rm old -> SUCCESS',
      'rm old -> NOENT',
      'get old -> NOENT',
      'mv greeting moved -> SUCCESS',
      'mkdir sub -> PERM',
      'ls: . .. moved',
    ]);
    assert.equal(stored(bucket, 'moved'), 'hello, world');
    assert.equal(bucket.exists('old'), false);
  });

  it('keeps values from one request to the next, each with a context of its own', () => {
    const bucket = freshBucket();
    assert.deepEqual(lines(runGuest(bucket, ['put', 'visits', '1', 'leave', 'unclosed', 'kept'])), [
      'put visits -> SUCCESS',
      'leave unclosed -> SUCCESS',
    ]);
    assert.deepEqual(lines(runGuest(bucket, ['get', 'visits', 'get', 'unclosed', 'ls'])), [
      'get visits = 1',
      'get unclosed = kept',
      'ls: . .. unclosed visits',
    ]);
  });

  // The preview1 layer refuses first: a read-only preopen lacks the rights to write (EPERM), as
  // the other read-only mounts do.
  it('serves a read-only mount to a guest and refuses its writes as other read-only mounts do', () => {
    const bucket = freshBucket({ config: 'on' });
    const output = lines(
      runGuest(bucket, ['get', 'config', 'put', 'config', 'off', 'put', 'new', 'x', 'rm', 'config', 'ls'], {
        readOnly: true,
      }),
    );
    assert.deepEqual(output, [
      'get config = on',
      'put config -> PERM',
      'put new -> PERM',
      'rm config -> PERM',
      'ls: . .. config',
    ]);
    assert.equal(stored(bucket, 'config'), 'on');
  });

  it('fails the write that would take a value past maxValueBytes with EFBIG', () => {
    const bucket = freshBucket();
    const storeLimits = { maxKeyBytes: 256, maxValueBytes: 2500 };
    assert.deepEqual(
      lines(runGuest(bucket, ['fill', 'big', '5000', 'fill', 'small', '2000'], { storeLimits })),
      ['fill big -> FBIG after 2000 bytes', 'fill small -> SUCCESS'],
    );
    // What was written before the refused write is kept, as on a full disk.
    assert.equal(bucket.get('big')?.length, 2000);
    const root = mount(bucket, { storeLimits });
    const file = root.openAt('exact', CREATE);
    assert.equal(file.write(new Uint8Array(2500)), 2500);
    assert.equal(
      errnoOf(() => file.write(Uint8Array.of(1))),
      Errno.FBIG,
    );
    assert.equal(
      errnoOf(() => file.setSize(2501n)),
      Errno.FBIG,
    );
    assert.equal(
      errnoOf(() => file.pwrite(Uint8Array.of(1), 1n << 40n)),
      Errno.FBIG,
    );
    file.close();
    assert.equal(bucket.get('exact')?.length, 2500);
  });

  it('hides keys that cannot be file names, and no path reaches them', () => {
    const long = 'k'.repeat(256);
    const bucket = freshBucket({
      visible: 'v',
      'a/b': 'slash',
      'nul\0x': 'nul',
      '.': 'dot',
      '..': 'dotdot',
      '': 'empty',
      [long]: 'long',
    });
    const root = mount(bucket);
    assert.deepEqual(names(root), ['.', '..', 'visible']);
    assert.equal(
      errnoOf(() => root.openAt('a/b', openRequest())),
      Errno.NOENT,
    );
    assert.equal(
      errnoOf(() => root.openAt('nul\0x', openRequest())),
      Errno.INVAL,
    );
    assert.equal(root.statAt('.', false).filetype, Filetype.DIRECTORY);
    assert.equal(
      errnoOf(() => root.statAt(long, false)),
      Errno.NAMETOOLONG,
    );
    assert.deepEqual(lines(runGuest(bucket, ['ls', 'get', 'a/b', 'get', '..'])), [
      'ls: . .. visible',
      'get a/b -> NOENT',
      'get .. -> PERM',
    ]);
  });

  it('names a key longer than the store allows ENAMETOOLONG', () => {
    const root = mount(freshBucket(), { storeLimits: { maxKeyBytes: 8, maxValueBytes: 100 } });
    assert.equal(
      errnoOf(() => root.openAt('123456789', CREATE)),
      Errno.NAMETOOLONG,
    );
    root.openAt('12345678', CREATE).close();
  });

  it('serves reads from the value read at open and makes writes visible at close or sync', () => {
    const bucket = freshBucket({ key: 'old' });
    const root = mount(bucket);
    const reader = root.openAt('key', openRequest());
    const writer = root.openAt('key', openRequest({ oflags: Oflags.TRUNC, write: true }));
    writer.write(encoder.encode('new'));
    assert.equal(stored(bucket, 'key'), 'old');
    writer.sync();
    assert.equal(stored(bucket, 'key'), 'new');
    writer.write(encoder.encode('er'));
    writer.datasync();
    assert.equal(stored(bucket, 'key'), 'newer');
    const buffer = new Uint8Array(8);
    assert.equal(decoder.decode(buffer.subarray(0, reader.read(buffer))), 'old');
    reader.close();
    writer.close();
    const created = root.openAt('created', CREATE);
    assert.equal(
      errnoOf(() => root.statAt('created', false)),
      Errno.NOENT,
    );
    created.close();
    assert.equal(stored(bucket, 'created'), '');
  });

  it('sets nothing when a file opened for writing was not changed', () => {
    const calls: string[] = [];
    const bucket = freshBucket({ key: 'same' });
    const counting: KeyValueDirectoryBucket = {
      id: bucket.id,
      get: (key) => bucket.get(key),
      exists: (key) => bucket.exists(key),
      delete: (key) => bucket.delete(key),
      listKeys: (options) => bucket.listKeys(options),
      set: (key, value) => {
        calls.push(key);
        bucket.set(key, value);
      },
    };
    const file = mount(counting).openAt('key', openRequest({ write: true }));
    file.sync();
    file.close();
    assert.deepEqual(calls, []);
  });

  it('pages through the listing and lists a key the store repeats once', () => {
    const bucket = freshBucket({ a: '', b: '', c: '', d: '', e: '' });
    // Pages of two, each listed twice, as Redis's SCAN may during a rehash.
    const repeating: KeyValueDirectoryBucket = {
      id: bucket.id,
      get: (key) => bucket.get(key),
      set: (key, value) => bucket.set(key, value),
      exists: (key) => bucket.exists(key),
      delete: (key) => bucket.delete(key),
      listKeys: (options) => {
        const page = bucket.listKeys({ ...options, limit: 2 });
        return { keys: [...page.keys, ...page.keys], cursor: page.cursor };
      },
    };
    assert.deepEqual(names(mount(repeating)), ['.', '..', 'a', 'b', 'c', 'd', 'e']);
  });

  it('numbers each key by a hash of it, the same in every mount, and reports the mount time', () => {
    const bucket = freshBucket({ a: 'a', b: 'bb' });
    const before = BigInt(Date.now() - 1) * 1_000_000n;
    const root = mount(bucket);
    const a = root.statAt('a', false);
    const b = root.statAt('b', false);
    assert.notEqual(a.ino, b.ino);
    assert.notEqual(a.ino, root.stat().ino);
    assert.equal(a.dev, root.stat().dev);
    assert.equal(a.nlink, 1n);
    assert.equal(b.size, 2n);
    assert.equal(a.filetype, Filetype.REGULAR_FILE);
    assert.equal(mount(bucket).statAt('a', false).ino, a.ino);
    const byName = new Map(root.readdir(true).map((entry) => [entry.name, entry]));
    assert.equal(byName.get('a')!.ino, a.ino);
    assert.equal(byName.get('.')!.ino, root.stat().ino);
    assert.ok(a.mtim >= before && a.mtim === b.mtim && a.atim === a.ctim);
    assert.equal(root.statAt('a', false).mtim, a.mtim, 'timestamps do not move within a mount');
    const file = root.openAt('a', openRequest({ write: true }));
    assert.equal(
      errnoOf(() => file.setTimes({ atim: 'now', mtim: 'now' })),
      Errno.NOTSUP,
    );
    file.close();
  });

  it('caps what the open files of a mount buffer together: ENOMEM at open, ENOSPC at a write', () => {
    const bucket = freshBucket({ ten: '0123456789' });
    const root = mount(bucket, { maxBufferedBytes: 16 });
    const first = root.openAt('ten', openRequest());
    assert.equal(
      errnoOf(() => root.openAt('ten', openRequest())),
      Errno.NOMEM,
    );
    const writer = root.openAt('new', CREATE);
    assert.equal(writer.write(new Uint8Array(6)), 6);
    assert.equal(
      errnoOf(() => writer.write(Uint8Array.of(1))),
      Errno.NOSPC,
    );
    first.close();
    assert.equal(writer.write(Uint8Array.of(1)), 1);
    writer.close();
    root.openAt('ten', openRequest()).close();
  });

  it('gives the guest EIO for a store failure and tells the host which call failed', () => {
    const failures: KeyValueStoreFailure[] = [];
    const onStoreError = (failure: KeyValueStoreFailure) => failures.push(failure);
    const root = mount(unreachableBucket(), { onStoreError });
    assert.equal(
      errnoOf(() => root.openAt('key', openRequest())),
      Errno.IO,
    );
    assert.equal(
      errnoOf(() => root.readdir(true)),
      Errno.IO,
    );
    assert.deepEqual(
      failures.map(({ error, operation, key, errno }) => [error.code, operation, key, errno]),
      [
        ['E_KV_UNAVAILABLE', 'get', 'key', Errno.IO],
        ['E_KV_UNAVAILABLE', 'listKeys', undefined, Errno.IO],
      ],
    );
    assert.deepEqual(failures[0]!.bucket, { app: 'unreachable', label: 'default' });
  });

  it('fails fd_sync and fd_close with EIO when the value cannot be set, and keeps it for a retry until close', () => {
    const failures: KeyValueStoreFailure[] = [];
    const bucket = freshBucket();
    let reachable = true;
    const flaky: KeyValueDirectoryBucket = {
      ...unreachableBucket(bucket.id),
      get: (key) => bucket.get(key),
      set: (key, value) => {
        if (!reachable) throw kvError('E_KV_BACKEND_FAILED', 'disk full');
        bucket.set(key, value);
      },
    };
    const file = mount(flaky, { onStoreError: (failure) => failures.push(failure) }).openAt('key', CREATE);
    file.write(encoder.encode('value'));
    reachable = false;
    assert.equal(
      errnoOf(() => file.sync()),
      Errno.IO,
    );
    reachable = true;
    file.close();
    assert.equal(stored(bucket, 'key'), 'value');
    const again = mount(flaky, { onStoreError: (failure) => failures.push(failure) }).openAt('key', CREATE);
    again.write(encoder.encode('lost'));
    reachable = false;
    assert.equal(
      errnoOf(() => again.close()),
      Errno.IO,
    );
    again.close();
    assert.equal(stored(bucket, 'key'), 'value');
    assert.deepEqual(
      failures.map((failure) => [failure.error.code, failure.operation]),
      [
        ['E_KV_BACKEND_FAILED', 'set'],
        ['E_KV_BACKEND_FAILED', 'set'],
      ],
    );
  });

  it('shows a closed bucket to the guest as EIO', () => {
    const failures: KeyValueStoreFailure[] = [];
    const bucket = freshBucket();
    bucket.close();
    const output = lines(
      runGuest(bucket, ['put', 'k', 'v', 'ls'], { onStoreError: (failure) => failures.push(failure) }),
    );
    assert.deepEqual(output, ['put k -> IO', 'ls -> IO']);
    assert.ok(failures.every((failure) => failure.error.code === 'E_KV_CLOSED'));
  });

  it('warns the process of a store failure when no one else is told', async () => {
    const warnings: Error[] = [];
    const listener = (warning: Error) => warnings.push(warning);
    process.on('warning', listener);
    try {
      assert.equal(
        errnoOf(() => mount(unreachableBucket()).openAt('key', openRequest())),
        Errno.IO,
      );
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', listener);
    }
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.name, 'IsolaKeyValueWarning');
    assert.match(warnings[0]!.message, /get of "key" in unreachable\/default failed, the guest got io/);
  });

  it('rethrows an error the store layer does not define, ending the instance', () => {
    const broken: KeyValueDirectoryBucket = {
      ...unreachableBucket(),
      get: () => {
        throw new TypeError('a bug');
      },
      listKeys: () => {
        throw kvError('E_KV_CURSOR_INVALID', 'a cursor this module got wrong');
      },
    };
    const root = mount(broken, { onStoreError: () => assert.fail('not a store failure') });
    assert.throws(() => root.openAt('key', openRequest()), TypeError);
    assert.throws(() => root.readdir(true), { code: 'E_KV_CURSOR_INVALID' });
  });
});
