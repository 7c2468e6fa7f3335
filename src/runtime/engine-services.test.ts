/**
 * The engine's host services end to end, on real worker threads: key-value stores (SQLite and a
 * real Redis) reached by preview1 guests as /kv directories and by components with wasi:keyvalue,
 * and components' outgoing requests checked and sent on the main thread (host-call.ts) to a real
 * local HTTP server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { componentFixtureBytes } from '../../test/fixtures/components/build.js';
import { fixtureBytes } from '../../test/fixtures/paths.js';
import { createStore, type KeyValueConfig, type KeyValueStore } from '../kv/index.js';
import { type RedisTestServer, startRedisServer } from '../kv/redis-test-server.js';
import {
  AllowList,
  type OutboundLogEntry,
  OutboundPolicy,
  resolveOutboundLimits,
} from '../outbound/index.js';
import { Engine, type LoadedComponent, type LoadedModule } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'isola-engine-services-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const decoder = new TextDecoder();

async function engineWith(config: KeyValueConfig): Promise<{ engine: Engine; store: KeyValueStore }> {
  const store = await createStore(config);
  const engine = new Engine({ workers: 2, spareWorkers: 0, keyValue: await store.workerConnector() });
  return { engine, store };
}

async function get(engine: Engine, component: LoadedComponent, path: string, grants = {}) {
  const result = await engine.invokeComponent(component, {
    method: 'GET',
    url: `http://app.test${path}`,
    headers: [],
    ...grants,
  }).result;
  assert.equal(result.outcome.kind, 'return', JSON.stringify(result.outcome));
  const response = result.response!;
  return { status: response.status, text: decoder.decode(Buffer.concat(response.body)) };
}

for (const backend of ['sqlite', 'redis'] as const) {
  describe(`key-value stores on ${backend}`, () => {
    let redis: RedisTestServer | undefined;
    let engine: Engine;
    let store: KeyValueStore;
    let visits: LoadedModule;
    let counter: LoadedComponent;

    before(async () => {
      if (backend === 'redis') redis = await startRedisServer();
      ({ engine, store } = await engineWith(
        redis === undefined
          ? { backend: 'sqlite', path: join(dir, 'kv.sqlite') }
          : { backend: 'redis', url: redis.url },
      ));
      visits = await engine.load(fixtureBytes('kv-visits'));
      counter = await engine.loadComponent(await componentFixtureBytes('kv-counter'), {
        cacheDir: join(dir, 'components'),
      });
    });
    after(async () => {
      await engine.close();
      await store.close();
      await redis?.stop();
    });

    it('a preview1 guest counts through /kv/default, and every worker sees the same store', async () => {
      const grant = [{ app: 'visits-app', label: 'default', guestPath: '/kv/default', readOnly: false }];
      const counts: string[] = [];
      // One at a time: the guest's read-then-write is not atomic, as the mount's docs say.
      for (let i = 0; i < 6; i++) {
        const run = await engine.run(visits, { args: ['kv-visits'], keyValue: grant });
        assert.deepEqual(run.outcome, { kind: 'exit', code: 0 }, decoder.decode(run.stderr));
        counts.push(decoder.decode(run.stdout).trim());
      }
      assert.deepEqual(counts, ['1', '2', '3', '4', '5', '6']);
      // The main thread's store holds what the guests wrote, in the app's own bucket.
      const bucket = store.open('visits-app', 'default');
      assert.equal(decoder.decode(await bucket.get('visits')), '6');
      await bucket.set('note', new TextEncoder().encode('left by the host'));
      bucket.close();
      const run = await engine.run(visits, { args: ['kv-visits', 'note'], keyValue: grant });
      assert.equal(decoder.decode(run.stdout), '7\nleft by the host');
    });

    it('a read-only grant lets the guest read but not write', async () => {
      const grant = [{ app: 'visits-app', label: 'default', guestPath: '/kv/default', readOnly: true }];
      const run = await engine.run(visits, { args: ['kv-visits'], keyValue: grant });
      assert.deepEqual(run.outcome, { kind: 'exit', code: 1 });
      assert.match(decoder.decode(run.stderr), /open \/kv\/default\/visits for writing: /);
      const bucket = store.open('visits-app', 'default');
      assert.equal(decoder.decode(await bucket.get('visits')), '7');
      bucket.close();
    });

    it('a component counts with wasi:keyvalue atomics across fresh instances on both workers', async () => {
      const grants = { keyValue: { app: 'counter-app', labels: ['default'] } };
      const results = await Promise.all(
        Array.from({ length: 12 }, () => get(engine, counter, '/count?key=hits', grants)),
      );
      const counts = results.map((result) => Number(result.text)).sort((a, b) => a - b);
      assert.deepEqual(
        counts,
        Array.from({ length: 12 }, (_, i) => i + 1),
      );
      // Apps are namespaced: the preview1 app's bucket does not hold this key.
      const other = store.open('visits-app', 'default');
      assert.equal(await other.get('hits'), undefined);
      other.close();
    });

    it('a component opening a store it was not granted gets access-denied', async () => {
      const denied = await get(engine, counter, '/denied', {
        keyValue: { app: 'counter-app', labels: ['default'] },
      });
      assert.match(denied.text, /access-denied/);
      const none = await get(engine, counter, '/count');
      assert.equal(none.status, 500);
      assert.match(none.text, /access-denied/);
    });
  });
}

describe('key-value grants on an engine without a store', () => {
  it('are refused before anything runs, naming the fix', async () => {
    const engine = new Engine({ workers: 1, spareWorkers: 0 });
    try {
      const visits = await engine.load(fixtureBytes('kv-visits'));
      assert.throws(
        () =>
          engine.invoke(visits, {
            keyValue: [{ app: 'a', label: 'default', guestPath: '/kv/default', readOnly: false }],
          }),
        /engine has none: create the engine with a store \(EngineOptions\.keyValue\)/,
      );
    } finally {
      await engine.close();
    }
  });
});

describe('outbound requests from a component', () => {
  let engine: Engine;
  let fetcher: LoadedComponent;
  let upstream: Server;
  let origin: string;
  const received: { method: string; from: string | undefined; body: string }[] = [];

  before(async () => {
    upstream = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        received.push({ method: request.method ?? '', from: request.headers['x-from'] as string, body });
        if (request.url === '/hang') return;
        response.end(`hello from upstream ${request.url}`);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    engine = new Engine({ workers: 2, spareWorkers: 0 });
    fetcher = await engine.loadComponent(await componentFixtureBytes('outbound-fetch'), {
      cacheDir: join(dir, 'components'),
    });
  });
  after(async () => {
    await engine.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  function granting(hosts: string[], log: OutboundLogEntry[], limits = {}) {
    return {
      outbound: {
        policy: new OutboundPolicy(AllowList.parse(hosts)),
        log: (entry: OutboundLogEntry) => log.push(entry),
        limits: resolveOutboundLimits(limits),
      },
    };
  }

  it('reaches a granted host, and the request is logged without its path', async () => {
    const log: OutboundLogEntry[] = [];
    const result = await get(
      engine,
      fetcher,
      `/fetch?url=${origin}/greeting?secret=1`,
      granting([origin], log),
    );
    assert.equal(result.text, 'upstream 200: hello from upstream /greeting?secret=1');
    assert.equal(log.length, 1);
    assert.equal(log[0]?.outcome, 'ok');
    assert.equal(log[0]?.origin, origin);
    assert.doesNotMatch(JSON.stringify(log), /secret/);
  });

  it('sends the method, headers and body the component set', async () => {
    const log: OutboundLogEntry[] = [];
    const result = await engine.invokeComponent(fetcher, {
      method: 'POST',
      url: `http://app.test/post?url=${origin}/submit`,
      headers: [],
      body: new TextEncoder().encode('payload from the client'),
      ...granting([origin], log),
    }).result;
    assert.equal(
      decoder.decode(Buffer.concat(result.response!.body)),
      'upstream 200: hello from upstream /submit',
    );
    assert.deepEqual(received.at(-1), { method: 'POST', from: 'component', body: 'payload from the client' });
  });

  it('is refused for a host not granted, with HTTP-request-denied logged and nothing sent', async () => {
    const log: OutboundLogEntry[] = [];
    const before = received.length;
    const other = origin.replace(/:\d+$/, ':1');
    const result = await get(engine, fetcher, `/fetch?url=${other}/`, granting([origin], log));
    assert.equal(result.status, 502);
    assert.match(result.text, /^refused: /);
    assert.equal(log[0]?.outcome, 'HTTP-request-denied');
    assert.equal(received.length, before);
  });

  it('is refused for every host when nothing is granted', async () => {
    const result = await get(engine, fetcher, `/fetch?url=${origin}/`);
    assert.equal(result.status, 502);
  });

  it('is refused for a name that resolves to loopback unless loopback itself was granted', async () => {
    const log: OutboundLogEntry[] = [];
    const port = origin.split(':')[2];
    const result = await get(
      engine,
      fetcher,
      `/fetch?url=http://localhost.:${port}/`,
      granting(['http://*:*'], log),
    );
    assert.equal(result.status, 502);
    assert.notEqual(log[0]?.outcome, 'ok');
  });

  it('counts requests per invocation against maxRequestsPerInvocation', async () => {
    const log: OutboundLogEntry[] = [];
    const result = await get(
      engine,
      fetcher,
      `/fetch-many?url=${origin}/n&n=3`,
      granting([origin], log, { maxRequestsPerInvocation: 2 }),
    );
    assert.equal(result.text, '200,200,error');
  });

  it('an upstream that never answers holds the guest only until its deadline', async () => {
    const log: OutboundLogEntry[] = [];
    const result = await engine.invokeComponent(fetcher, {
      method: 'GET',
      url: `http://app.test/fetch?url=${origin}/hang`,
      headers: [],
      limits: { timeoutMs: 1000 },
      ...granting([origin], log),
    }).result;
    assert.equal(result.outcome.kind, 'timeout');
  });
});
