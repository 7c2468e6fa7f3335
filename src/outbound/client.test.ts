import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { OutboundPolicy, type OutboundPolicyOptions } from './address-policy.js';
import { AllowList } from './allow-list.js';
import {
  OutboundClient,
  type OutboundClientOptions,
  type OutboundLogEntry,
  type OutboundResponse,
  type Resolve,
} from './client.js';
import { OutboundError } from './error-code.js';
import { OUTBOUND_LIMIT_DEFAULTS, type OutboundLimits, resolveOutboundLimits } from './limits.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

interface TestServer {
  port: number;
  /** TCP connections accepted so far. */
  connections: number;
  requests: IncomingMessage[];
  server: Server;
}

const servers: Server[] = [];

after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A server on `host` (default 127.0.0.1), port 0 unless given, closed when the tests end. */
async function listen(
  handler: Handler,
  host = '127.0.0.1',
  port = 0,
  server: Server = createServer(),
): Promise<TestServer> {
  const state: TestServer = { port: 0, connections: 0, requests: [], server };
  server.on('connection', () => {
    state.connections += 1;
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    state.requests.push(request);
    handler(request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  servers.push(server);
  state.port = (server.address() as AddressInfo).port;
  return state;
}

const hello: Handler = (_, response) => {
  response.setHeader('content-type', 'text/plain');
  response.end('hello');
};

function client(
  entries: string[],
  options: Omit<Partial<OutboundClientOptions>, 'limits' | 'policy'> & {
    limits?: Partial<OutboundLimits>;
    policy?: OutboundPolicyOptions;
  } = {},
): { client: OutboundClient; log: OutboundLogEntry[] } {
  const log: OutboundLogEntry[] = [];
  const { limits, policy, ...rest } = options;
  return {
    log,
    client: new OutboundClient({
      resolve: async (hostname) => {
        throw new Error(`the test did not expect ${hostname} to be resolved`);
      },
      ...rest,
      policy: new OutboundPolicy(AllowList.parse(entries), policy),
      limits: resolveOutboundLimits(limits),
      log: (entry) => log.push(entry),
    }),
  };
}

async function text(response: OutboundResponse): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of response.body) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  message?: RegExp,
): Promise<OutboundError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof OutboundError, `expected an OutboundError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message !== undefined) assert.match(caught.message, message);
  return caught;
}

describe('OutboundClient: the allow-list', () => {
  it('answers a request to a server granted as http://127.0.0.1:PORT', async () => {
    const server = await listen(hello);
    const { client: outbound, log } = client([`http://127.0.0.1:${server.port}`]);
    const response = await outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${server.port}/hi?x=1` });
    assert.equal(response.status, 200);
    assert.equal(response.address, '127.0.0.1');
    assert.deepEqual(
      response.headers.find(([name]) => name.toLowerCase() === 'content-type'),
      ['content-type', 'text/plain'],
    );
    assert.equal(await text(response), 'hello');
    assert.equal(server.requests[0]!.url, '/hi?x=1');
    assert.equal(log.length, 1);
    assert.equal(log[0]!.outcome, 'ok');
    assert.equal(log[0]!.origin, `http://127.0.0.1:${server.port}`);
    assert.equal(log[0]!.status, 200);
  });

  it('answers a request to localhost granted as http://localhost:PORT without asking the resolver', async () => {
    const server = await listen(hello);
    const { client: outbound } = client([`http://localhost:${server.port}`]);
    const response = await outbound.fetch({ method: 'GET', url: `http://localhost:${server.port}/` });
    assert.equal(await text(response), 'hello');
    assert.equal(server.requests[0]!.headers.host, `localhost:${server.port}`);
  });

  it('denies a loopback server the allow-list does not name, with HTTP-request-denied and a log line', async () => {
    const server = await listen(hello);
    const { client: outbound, log } = client([
      `http://localhost:${server.port + 1}`,
      'https://api.example.com',
    ]);
    const error = await rejectsWith(
      outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${server.port}/secret?token=abc` }),
      'HTTP-request-denied',
    );
    assert.equal(
      error.message,
      `http://127.0.0.1:${server.port} is not in allowed_outbound_hosts ("http://localhost:${server.port + 1}", "https://api.example.com"): to allow it, add "http://127.0.0.1:${server.port}"`,
    );
    assert.equal(server.connections, 0);
    assert.deepEqual(
      { ...log[0], ms: 0 },
      {
        method: 'GET',
        origin: `http://127.0.0.1:${server.port}`,
        outcome: 'HTTP-request-denied',
        reason: error.message,
        ms: 0,
      },
    );
  });

  it('denies every request of a component that grants nothing', async () => {
    const server = await listen(hello);
    const outbound = new OutboundClient({ policy: OutboundPolicy.NONE });
    await rejectsWith(
      outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${server.port}/` }),
      'HTTP-request-denied',
    );
    assert.equal(server.connections, 0);
  });

  it('refuses a URL that is not http or https, and a method that is not a token or is CONNECT', async () => {
    const { client: outbound } = client(['*://*:*']);
    await rejectsWith(
      outbound.fetch({ method: 'GET', url: 'file:///etc/passwd' }),
      'HTTP-request-URI-invalid',
    );
    await rejectsWith(outbound.fetch({ method: 'GET', url: 'not a url' }), 'HTTP-request-URI-invalid');
    await rejectsWith(
      outbound.fetch({ method: 'GE T', url: 'http://x.example/' }),
      'HTTP-request-method-invalid',
    );
    await rejectsWith(
      outbound.fetch({ method: 'CONNECT', url: 'http://x.example/' }),
      'HTTP-request-method-invalid',
    );
  });
});

describe('OutboundClient: addresses after resolution', () => {
  it('refuses a granted name that resolves to loopback, with destination-IP-prohibited', async () => {
    const server = await listen(hello);
    const { client: outbound, log } = client([`http://internal.example:${server.port}`], {
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    const error = await rejectsWith(
      outbound.fetch({ method: 'GET', url: `http://internal.example:${server.port}/` }),
      'destination-IP-prohibited',
      /internal\.example resolved to 127\.0\.0\.1, a loopback address .* add "http:\/\/127\.0\.0\.1:\d+" to allowed_outbound_hosts$/,
    );
    assert.equal(server.connections, 0);
    assert.equal(log[0]!.outcome, 'destination-IP-prohibited');
    assert.equal(log[0]!.reason, error.message);
  });

  it('refuses loopback reached through *://*:* or an IPv4-mapped IPv6 literal', async () => {
    const server = await listen(hello);
    const { client: outbound } = client(['*://*:*']);
    await rejectsWith(
      outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${server.port}/` }),
      'destination-IP-prohibited',
    );
    await rejectsWith(
      outbound.fetch({ method: 'GET', url: `http://[::ffff:127.0.0.1]:${server.port}/` }),
      'destination-IP-prohibited',
    );
    await rejectsWith(
      outbound.fetch({ method: 'GET', url: `http://localhost:${server.port}/` }),
      'destination-IP-prohibited',
    );
    await rejectsWith(
      outbound.fetch({ method: 'GET', url: `http://0.0.0.0:${server.port}/` }),
      'destination-IP-prohibited',
    );
    assert.equal(server.connections, 0);
  });

  it("connects a granted name to an address in the operator's trusted networks", async () => {
    const server = await listen(hello);
    const { client: outbound } = client([`http://internal.example:${server.port}`], {
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
      policy: { trustedNetworks: ['127.0.0.1/32'] },
    });
    const response = await outbound.fetch({ method: 'GET', url: `http://internal.example:${server.port}/` });
    assert.equal(await text(response), 'hello');
    assert.equal(server.requests[0]!.headers.host, `internal.example:${server.port}`);
  });

  it('connects only to the checked addresses of a mixed answer and logs the ones it skipped', async () => {
    const server = await listen(hello, '127.0.0.2');
    const { client: outbound, log } = client([`http://mixed.example:${server.port}`], {
      resolve: async () => [
        { address: '127.0.0.1', family: 4 },
        { address: '127.0.0.2', family: 4 },
      ],
      policy: { trustedNetworks: ['127.0.0.2/32'] },
    });
    const response = await outbound.fetch({ method: 'GET', url: `http://mixed.example:${server.port}/` });
    assert.equal(response.address, '127.0.0.2');
    assert.equal(await text(response), 'hello');
    assert.match(
      log[0]!.reason ?? '',
      /^skipped mixed\.example resolved to 127\.0\.0\.1, a loopback address/,
    );
  });

  it('pins the checked address: a resolver that answers 127.0.0.1 the second time is asked once, and loopback is never reached', async () => {
    // The "public" address is 127.0.0.2, which the operator trusts as if it were public; the
    // rebinding target is 127.0.0.1 on the same port, which nothing grants.
    const { good, evil } = await listenPair();
    let calls = 0;
    const resolve: Resolve = async () => {
      calls += 1;
      return [{ address: calls === 1 ? '127.0.0.2' : '127.0.0.1', family: 4 }];
    };
    const { client: outbound } = client([`http://rebind.example:${good.port}`], {
      resolve,
      policy: { trustedNetworks: ['127.0.0.2/32'] },
    });
    const response = await outbound.fetch({ method: 'GET', url: `http://rebind.example:${good.port}/` });
    assert.equal(await text(response), 'good');
    assert.equal(response.address, '127.0.0.2');
    assert.equal(calls, 1);
    await rejectsWith(
      outbound.fetch({ method: 'GET', url: `http://rebind.example:${good.port}/` }),
      'destination-IP-prohibited',
    );
    assert.equal(calls, 2);
    assert.equal(good.connections, 1);
    assert.equal(evil.connections, 0);
  });

  it('fails with DNS-error for a name that does not resolve', async () => {
    const { client: outbound } = client(['https://nowhere.example'], {
      resolve: async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.example'), { code: 'ENOTFOUND' });
      },
    });
    const error = await rejectsWith(
      outbound.fetch({ method: 'GET', url: 'https://nowhere.example/' }),
      'DNS-error',
    );
    assert.deepEqual(error.dns, { rcode: 'ENOTFOUND' });
  });

  it('fails with DNS-timeout when the resolver does not answer within connectTimeoutMs', async () => {
    const { client: outbound } = client(['https://slow.example'], {
      resolve: () => new Promise(() => {}),
      limits: { connectTimeoutMs: 50 },
    });
    const error = await rejectsWith(
      outbound.fetch({ method: 'GET', url: 'https://slow.example/' }),
      'DNS-timeout',
    );
    assert.equal(error.limit, 'connectTimeoutMs');
  });
});

/** Two servers on one port: `good` on 127.0.0.2, `evil` on 127.0.0.1. */
async function listenPair(): Promise<{ good: TestServer; evil: TestServer }> {
  for (let attempt = 0; ; attempt++) {
    const good = await listen((_, response) => response.end('good'), '127.0.0.2');
    try {
      const evil = await listen((_, response) => response.end('evil'), '127.0.0.1', good.port);
      return { good, evil };
    } catch (error) {
      if (attempt === 5) throw error;
    }
  }
}

describe('OutboundClient: responses', () => {
  it('returns a redirect to the guest instead of following it', async () => {
    const elsewhere = await listen(hello);
    const server = await listen((_, response) => {
      response.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/` });
      response.end();
    });
    const { client: outbound } = client([
      `http://127.0.0.1:${server.port}`,
      `http://127.0.0.1:${elsewhere.port}`,
    ]);
    const response = await outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${server.port}/` });
    assert.equal(response.status, 302);
    assert.deepEqual(
      response.headers.find(([name]) => name.toLowerCase() === 'location'),
      ['location', `http://127.0.0.1:${elsewhere.port}/`],
    );
    assert.equal(await text(response), '');
    assert.equal(elsewhere.connections, 0);
  });

  it('fails the body with HTTP-response-body-size past maxResponseBodyBytes, streamed or declared', async () => {
    const server = await listen((request, response) => {
      if (request.url === '/declared') response.setHeader('content-length', '2048');
      response.write(Buffer.alloc(1024, 'a'));
      setTimeout(() => response.end(Buffer.alloc(1024, 'b')), 10);
    });
    const { client: outbound, log } = client([`http://127.0.0.1:${server.port}`], {
      limits: { maxResponseBodyBytes: 1500 },
    });
    const streamed = await outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${server.port}/streamed` });
    const error = await rejectsWith(text(streamed), 'HTTP-response-body-size');
    assert.equal(error.size, 2048);
    assert.equal(error.limit, 'maxResponseBodyBytes');
    assert.equal(log.at(-1)!.outcome, 'HTTP-response-body-size');

    const declared = await outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${server.port}/declared` });
    assert.equal((await rejectsWith(text(declared), 'HTTP-response-body-size')).size, 2048);
  });

  it('fails with HTTP-response-header-section-size past maxResponseHeaderBytes', async () => {
    const server = await listen((_, response) => {
      response.setHeader('x-big', 'x'.repeat(4096));
      response.end();
    });
    const { client: outbound } = client([`http://127.0.0.1:${server.port}`], {
      limits: { maxResponseHeaderBytes: 2048 },
    });
    await rejectsWith(
      outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${server.port}/` }),
      'HTTP-response-header-section-size',
    );
  });

  it('fails the body with HTTP-response-incomplete when the server hangs up early', async () => {
    const server = await listen((_, response) => {
      response.setHeader('content-length', '100');
      response.write('partial');
      setTimeout(() => response.socket?.destroy(), 10);
    });
    const { client: outbound } = client([`http://127.0.0.1:${server.port}`]);
    const response = await outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${server.port}/` });
    await rejectsWith(text(response), 'HTTP-response-incomplete');
  });

  it('fails with HTTP-response-timeout when no response comes within totalTimeoutMs', async () => {
    const server = await listen(() => {});
    const { client: outbound } = client([`http://127.0.0.1:${server.port}`], {
      limits: { totalTimeoutMs: 100 },
    });
    const error = await rejectsWith(
      outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${server.port}/` }),
      'HTTP-response-timeout',
    );
    assert.equal(error.limit, 'totalTimeoutMs');
  });

  it('fails with connection-refused when nothing listens on the port', async () => {
    const server = await listen(hello);
    const port = server.port;
    server.server.closeAllConnections();
    await new Promise((resolve) => server.server.close(resolve));
    const { client: outbound } = client([`http://127.0.0.1:${port}`]);
    await rejectsWith(
      outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${port}/` }),
      'connection-refused',
    );
  });

  it('closes the connection when the guest stops reading the body', async () => {
    let closed = false;
    const server = await listen((_, response) => {
      response.write('first');
      response.on('close', () => {
        closed = true;
      });
    });
    const { client: outbound } = client([`http://127.0.0.1:${server.port}`]);
    const response = await outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${server.port}/` });
    for await (const chunk of response.body) {
      assert.equal(Buffer.from(chunk).toString(), 'first');
      break;
    }
    await waitFor(() => closed);
  });

  it('ends the exchanges an invocation left open when the client is closed, and refuses new ones', async () => {
    const server = await listen((_, response) => response.write('never ends'));
    const { client: outbound } = client([`http://127.0.0.1:${server.port}`]);
    const response = await outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${server.port}/` });
    outbound.close();
    outbound.close();
    await rejectsWith(text(response), 'internal-error', /has ended/);
    await rejectsWith(
      outbound.fetch({ method: 'GET', url: `http://127.0.0.1:${server.port}/` }),
      'internal-error',
    );
  });
});

describe('OutboundClient: requests', () => {
  const echo: Handler = async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    response.setHeader('content-type', 'application/json');
    response.end(
      JSON.stringify({
        method: request.method,
        headers: request.rawHeaders,
        body: Buffer.concat(chunks).toString(),
      }),
    );
  };

  it('sends the method, fields and body, drops Host and hop-by-hop fields, and keeps repeated fields', async () => {
    const server = await listen(echo);
    const { client: outbound } = client([`http://localhost:${server.port}`]);
    const response = await outbound.fetch({
      method: 'POST',
      url: `http://localhost:${server.port}/submit`,
      headers: [
        ['Host', 'evil.example'],
        ['Connection', 'keep-alive'],
        ['Transfer-Encoding', 'gzip'],
        ['X-Tag', 'a'],
        ['X-Tag', 'b'],
      ],
      body: Buffer.from('payload'),
    });
    const echoed = JSON.parse(await text(response)) as { method: string; headers: string[]; body: string };
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.body, 'payload');
    const fields = new Map<string, string[]>();
    for (let index = 0; index < echoed.headers.length; index += 2) {
      const name = echoed.headers[index]!.toLowerCase();
      fields.set(name, [...(fields.get(name) ?? []), echoed.headers[index + 1]!]);
    }
    assert.deepEqual(fields.get('host'), [`localhost:${server.port}`]);
    assert.deepEqual(fields.get('x-tag'), ['a', 'b']);
    assert.deepEqual(fields.get('content-length'), ['7']);
    assert.notEqual(fields.get('connection')?.[0], 'keep-alive');
    assert.equal(fields.get('transfer-encoding'), undefined);
  });

  it('streams a body given as chunks', async () => {
    const server = await listen(echo);
    const { client: outbound } = client([`http://127.0.0.1:${server.port}`]);
    async function* chunks() {
      yield Buffer.from('one,');
      await new Promise((resolve) => setTimeout(resolve, 5));
      yield Buffer.from('two');
    }
    const response = await outbound.fetch({
      method: 'PUT',
      url: `http://127.0.0.1:${server.port}/`,
      body: chunks(),
    });
    assert.equal((JSON.parse(await text(response)) as { body: string }).body, 'one,two');
  });

  it('refuses a request body past maxRequestBodyBytes, before connecting when the size is known', async () => {
    const server = await listen(echo);
    const { client: outbound } = client([`http://127.0.0.1:${server.port}`], {
      limits: { maxRequestBodyBytes: 10 },
    });
    const url = `http://127.0.0.1:${server.port}/`;
    const known = await rejectsWith(
      outbound.fetch({ method: 'POST', url, body: Buffer.alloc(11) }),
      'HTTP-request-body-size',
    );
    assert.equal(known.size, 11);
    await rejectsWith(
      outbound.fetch({
        method: 'POST',
        url,
        headers: [['content-length', '11']],
        body: (async function* () {})(),
      }),
      'HTTP-request-body-size',
    );
    assert.equal(server.connections, 0);
    async function* tooMuch() {
      yield Buffer.alloc(6);
      yield Buffer.alloc(6);
    }
    const streamed = await rejectsWith(
      outbound.fetch({ method: 'POST', url, body: tooMuch() }),
      'HTTP-request-body-size',
    );
    assert.equal(streamed.size, 12);
  });

  it('refuses a body whose length differs from its content-length', async () => {
    const server = await listen(echo);
    const { client: outbound } = client([`http://127.0.0.1:${server.port}`]);
    const url = `http://127.0.0.1:${server.port}/`;
    await rejectsWith(
      outbound.fetch({ method: 'POST', url, headers: [['content-length', '3']], body: Buffer.from('four') }),
      'HTTP-request-body-size',
    );
    async function* short() {
      yield Buffer.from('ab');
    }
    await rejectsWith(
      outbound.fetch({ method: 'POST', url, headers: [['content-length', '3']], body: short() }),
      'HTTP-request-body-size',
    );
  });

  it('limits the requests of one invocation, denied ones included', async () => {
    const server = await listen(hello);
    const { client: outbound, log } = client([`http://127.0.0.1:${server.port}`], {
      limits: { maxRequestsPerInvocation: 3 },
    });
    const url = `http://127.0.0.1:${server.port}/`;
    assert.equal(await text(await outbound.fetch({ method: 'GET', url })), 'hello');
    await rejectsWith(
      outbound.fetch({ method: 'GET', url: 'http://denied.example/' }),
      'HTTP-request-denied',
    );
    assert.equal(await text(await outbound.fetch({ method: 'GET', url })), 'hello');
    const error = await rejectsWith(outbound.fetch({ method: 'GET', url }), 'connection-limit-reached');
    assert.equal(error.limit, 'maxRequestsPerInvocation');
    assert.equal(outbound.requestCount, 4);
    assert.equal(server.requests.length, 2);
    assert.deepEqual(
      log.map((entry) => entry.outcome),
      ['ok', 'HTTP-request-denied', 'ok', 'connection-limit-reached'],
    );
  });

  it('uses the documented defaults when no limits are given', () => {
    assert.deepEqual(resolveOutboundLimits(), OUTBOUND_LIMIT_DEFAULTS);
    assert.equal(OUTBOUND_LIMIT_DEFAULTS.maxRequestsPerInvocation, 32);
    assert.equal(OUTBOUND_LIMIT_DEFAULTS.maxResponseBodyBytes, 10 * 1024 * 1024);
  });
});

describe('OutboundClient: https', () => {
  const certificate = makeCertificate();

  it('verifies a granted server against the certificates it is given', {
    skip: certificate === undefined,
  }, async () => {
    const { key, cert } = certificate!;
    const server = await listen(hello, '127.0.0.1', 0, createHttpsServer({ key, cert }) as unknown as Server);
    const { client: outbound } = client([`https://localhost:${server.port}`], { ca: cert });
    const response = await outbound.fetch({ method: 'GET', url: `https://localhost:${server.port}/` });
    assert.equal(response.address, '127.0.0.1');
    assert.equal(await text(response), 'hello');
  });

  it('fails with TLS-certificate-error for a server whose certificate is not trusted', {
    skip: certificate === undefined,
  }, async () => {
    const { key, cert } = certificate!;
    const server = await listen(hello, '127.0.0.1', 0, createHttpsServer({ key, cert }) as unknown as Server);
    const { client: outbound } = client([`https://localhost:${server.port}`]);
    await rejectsWith(
      outbound.fetch({ method: 'GET', url: `https://localhost:${server.port}/` }),
      'TLS-certificate-error',
    );
  });
});

/** A self-signed certificate for localhost from openssl, or undefined when openssl is missing. */
function makeCertificate(): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'isola-outbound-'));
  try {
    const result = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    if (result.status !== 0) return undefined;
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let tries = 0; !condition(); tries++) {
    if (tries === 200) assert.fail('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
