import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { COMPONENTS_DIR, componentFixtureBytes } from '../../../test/fixtures/components/build.js';
import { isIsolaError } from '../../errors.js';
import { SyncKeyValueStore } from '../../kv/key-value-store.js';
import { type KeyValueLimits, resolveKeyValueLimits } from '../../kv/limits.js';
import { SqliteBackend } from '../../kv/sqlite-store.js';
import { ComponentRunner, type RunOptions } from '../run.js';
import { type CompiledComponent, compileComponent, transpileComponent } from '../transpile.js';
import { checkComponentWorld } from '../world.js';
import type { KeyValueGrant } from './keyvalue.js';

const dir = mkdtempSync(join(tmpdir(), 'isola-component-kv-'));
// Transpiled output is content-addressed, so a cache beside the built fixtures is safe to keep.
const cacheDir = join(COMPONENTS_DIR, 'transpiled');
const runner = new ComponentRunner();
let kvCounter: CompiledComponent;
const stores: SyncKeyValueStore[] = [];

before(async () => {
  mkdirSync(cacheDir, { recursive: true });
  kvCounter = await compileComponent(
    await transpileComponent(await componentFixtureBytes('kv-counter'), { cacheDir }),
  );
  await runner.load(kvCounter);
});
after(() => {
  for (const store of stores) store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A store on a SQLite file of its own, as a worker thread holds one. */
function openStore(limits: Partial<KeyValueLimits> = {}): SyncKeyValueStore {
  const path = join(dir, `kv-${stores.length}.sqlite`);
  const store = new SyncKeyValueStore(
    new SqliteBackend({ backend: 'sqlite', path }),
    resolveKeyValueLimits(limits),
  );
  stores.push(store);
  return store;
}

function grant(store: SyncKeyValueStore, app = 'kv-app', labels = ['default']): KeyValueGrant {
  return { store, app, labels };
}

interface CallOptions extends RunOptions {
  method?: string;
  body?: string | Uint8Array;
}

/** Runs `path` on a fresh instance; fails the test when the instance itself fails. */
async function call(path: string, options: CallOptions = {}) {
  const { method = 'GET', body, ...run } = options;
  const request = {
    method,
    url: `http://app.test${path}`,
    headers: [],
    body: typeof body === 'string' ? new TextEncoder().encode(body) : body,
  };
  const result = await runner.handle(kvCounter, request, run);
  if (!result.ok) assert.fail(`${result.error.code}: ${result.error.message}\n${result.stderr}`);
  const text = Buffer.concat(result.response.body).toString('utf8');
  return { status: result.response.status, text, json: () => JSON.parse(text) as unknown };
}

/** The WIT error the fixture reports for `path` (it answers an error result with 500). */
async function witError(path: string, options: CallOptions = {}) {
  const response = await call(path, options);
  assert.equal(response.status, 500, `expected an error result, got ${response.status}: ${response.text}`);
  return (response.json() as { error: { tag: string; val?: unknown } }).error;
}

function text(value: Uint8Array | undefined): string | undefined {
  return value === undefined ? undefined : Buffer.from(value).toString('utf8');
}

describe('wasi:keyvalue', () => {
  test('a counter grows by one per request across fresh instances: its state lives in the store', async () => {
    const store = openStore();
    const grants = { keyValue: grant(store) };
    for (const expected of ['1', '2', '3']) assert.equal((await call('/count', { grants })).text, expected);
    const bucket = store.open('kv-app', 'default');
    assert.equal(text(bucket.get('count')), '3');
    bucket.close();
  });

  test('a value set by one instance is read by the next, is the app’s alone, and delete removes it', async () => {
    const store = openStore();
    const grants = { keyValue: grant(store) };
    const set = await call('/set?key=greeting', { grants, method: 'PUT', body: 'hello' });
    assert.equal(set.status, 204);
    assert.equal((await call('/get?key=greeting', { grants })).text, 'hello');
    const otherApp = { keyValue: grant(store, 'other-app') };
    assert.equal((await call('/get?key=greeting', { grants: otherApp })).status, 404);
    assert.deepEqual((await call('/delete?key=greeting', { grants })).json(), { exists: false });
    assert.equal((await call('/get?key=greeting', { grants })).status, 404);
  });

  test('a label the component was not granted is access-denied, and a granted second label opens', async () => {
    const grants = { keyValue: grant(openStore(), 'kv-app', ['default', 'cache']) };
    assert.deepEqual(await witError('/denied', { grants }), { tag: 'access-denied' });
    assert.deepEqual(await witError('/denied?store=sessions', { grants }), { tag: 'access-denied' });
    assert.equal((await call('/denied?store=cache', { grants })).text, 'opened\n');
  });

  test('a component importing wasi:keyvalue with no store granted gets access-denied, not a crash', async () => {
    assert.deepEqual(await witError('/count'), { tag: 'access-denied' });
    assert.deepEqual(await witError('/count', { grants: {} }), { tag: 'access-denied' });
  });

  test('a value over maxValueBytes is refused as other, with the store’s message naming the limit', async () => {
    const store = openStore({ maxValueBytes: 16 });
    const grants = { keyValue: grant(store) };
    const error = await witError('/set?key=big', { grants, method: 'PUT', body: 'x'.repeat(17) });
    assert.equal(error.tag, 'other');
    assert.equal(
      error.val,
      'a key-value value of 17 bytes is larger than maxValueBytes (16): store less or raise the limit',
    );
    assert.equal((await call('/set?key=big', { grants, method: 'PUT', body: 'x'.repeat(16) })).status, 204);
  });

  test('increment of a value that is not a decimal integer is other, and leaves the value alone', async () => {
    const store = openStore();
    const grants = { keyValue: grant(store) };
    await call('/set?key=word', { grants, method: 'PUT', body: 'twelve' });
    const error = await witError('/count?key=word', { grants });
    assert.equal(error.tag, 'other');
    assert.match(String(error.val), /"word" is not a signed 64-bit decimal integer/);
    assert.equal((await call('/get?key=word', { grants })).text, 'twelve');
  });

  test('a store that fails (here: closed) is other with its message, not a trap', async () => {
    const store = openStore();
    store.close();
    const error = await witError('/count', { grants: { keyValue: grant(store) } });
    assert.equal(error.tag, 'other');
    assert.match(String(error.val), /key-value store is closed/);
  });

  test('cas swaps a value nobody changed, from an absent key and from the value it read', async () => {
    const store = openStore();
    const grants = { keyValue: grant(store) };
    assert.deepEqual((await call('/cas?key=c&value=one', { grants })).json(), { previous: null });
    assert.deepEqual((await call('/cas?key=c&value=two', { grants })).json(), { previous: 'one' });
    assert.equal((await call('/get?key=c', { grants })).text, 'two');
  });

  test('a swap after another write is cas-failed with the current value and a handle whose retry wins', async () => {
    const store = openStore();
    const grants = { keyValue: grant(store) };
    assert.deepEqual((await call('/cas-race?key=r', { grants })).json(), {
      lost: true,
      current: 'written in between',
      now: 'retried',
    });
  });

  test('batch calls set, delete and get several keys at once', async () => {
    const store = openStore();
    const grants = { keyValue: grant(store) };
    assert.deepEqual((await call('/batch?prefix=b-', { grants })).json(), [
      ['b-a', '1'],
      ['b-b', null],
      ['b-c', '3'],
    ]);
  });

  test('a batch naming more keys than maxBatchKeys is other', async () => {
    const grants = { keyValue: grant(openStore({ maxBatchKeys: 2 })) };
    const error = await witError('/batch?prefix=b-', { grants });
    assert.equal(error.tag, 'other');
    assert.match(String(error.val), /larger than maxBatchKeys \(2\)/);
  });

  test('list-keys pages through every key, handing back the cursor it returned', async () => {
    const store = openStore({ maxKeysPerPage: 2 });
    const bucket = store.open('lister', 'default');
    for (const key of ['k1', 'k2', 'k3', 'k4', 'k5']) bucket.set(key, new Uint8Array([1]));
    bucket.close();
    const grants = { keyValue: grant(store, 'lister') };
    assert.deepEqual((await call('/keys', { grants })).json(), {
      pages: [['k1', 'k2'], ['k3', 'k4'], ['k5']],
    });
  });

  test('no bucket stays open after an instance: more instances than maxOpenBuckets all succeed', async () => {
    const store = openStore({ maxOpenBuckets: 2 });
    const grants = { keyValue: grant(store) };
    for (let run = 1; run <= 5; run++) {
      assert.equal((await call('/count', { grants })).text, String(run));
      assert.equal(store.openBuckets, 0);
    }
    // Store refusals leave no bucket open either.
    await witError('/set?key=big', { grants, method: 'PUT', body: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(store.openBuckets, 0);
  });

  test('a component importing wasi:keyvalue at another draft is refused at deploy, naming the version isola serves', () => {
    const world = {
      imports: ['wasi:keyvalue/store@0.2.0-draft', 'wasi:keyvalue/atomics@0.2.0-draft2'],
      exports: ['wasi:http/incoming-handler@0.2.10'],
    };
    assert.throws(
      () => checkComponentWorld(world),
      (error) => {
        assert.ok(isIsolaError(error, 'E_MODULE_UNSUPPORTED_IMPORTS'));
        assert.deepEqual(error.details.unsupported, ['wasi:keyvalue/store@0.2.0-draft']);
        assert.match(
          error.message,
          /wasi:keyvalue\/atomics, wasi:keyvalue\/batch, wasi:keyvalue\/store at 0\.2\.0-draft2/,
        );
        return true;
      },
    );
    const served = {
      ...world,
      imports: ['wasi:keyvalue/store@0.2.0-draft2', 'wasi:keyvalue/batch@0.2.0-draft2'],
    };
    assert.equal(checkComponentWorld(served), 'wasi:http/incoming-handler@0.2.10');
  });
});
