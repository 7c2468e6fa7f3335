import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isIsolaError } from '../errors.js';
import { AllowList, describeAllowedHost } from './allow-list.js';
import { parseIp } from './ip-address.js';

/** An entry as written, and what it grants (`SCHEME://HOST:PORTS`, ranges inclusive). */
const accepted: [string, string][] = [
  ['https://api.example.com', 'https://api.example.com:443'],
  ['http://api.example.com', 'http://api.example.com:80'],
  ['http://localhost:8080', 'http://localhost:8080'],
  ['https://API.Example.COM', 'https://api.example.com:443'],
  ['https://api.example.com/', 'https://api.example.com:443'],
  ['https://api.example.com:8443/', 'https://api.example.com:8443'],
  ['  https://api.example.com  ', 'https://api.example.com:443'],
  ['https://example.com.', 'https://example.com:443'],
  ['https://bücher.example', 'https://xn--bcher-kva.example:443'],
  ['https://*.example.com', 'https://*.example.com:443'],
  ['*://api.example.com:7777', '*://api.example.com:7777'],
  ['*://*:*', '*://*:*'],
  ['https://*:*', 'https://*:*'],
  ['http://*', 'http://*:80'],
  ['http://api.example.com:*', 'http://api.example.com:*'],
  ['http://api.example.com:4444..5555', 'http://api.example.com:4444-5554'],
  ['http://127.0.0.1:3000', 'http://127.0.0.1/32:3000'],
  ['http://192.168.1.1', 'http://192.168.1.1/32:80'],
  ['http://[::1]:8001', 'http://[::1/128]:8001'],
  ['http://[::1]', 'http://[::1/128]:80'],
  ['http://[::ffff:127.0.0.1]:80', 'http://127.0.0.1/32:80'],
  ['https://192.168.1.0/24', 'https://192.168.1.0/24:443'],
  ['*://127.0.0.1/24:63551', '*://127.0.0.0/24:63551'],
  ['*://127.0.0.0/24:80', '*://127.0.0.0/24:80'],
  ['*://ff00::/8:80', '*://[ff00::/8]:80'],
  ['https://[fc00::]/7', 'https://[fc00::/7]:443'],
  ['https://[fc00::]/7:8443', 'https://[fc00::/7]:8443'],
  ['http://0.0.0.0/0:*', 'http://0.0.0.0/0:*'],
  ['https://a_b.example.com', 'https://a_b.example.com:443'],
];

/** An entry, and the message it is refused with (after `allowed_outbound_hosts[0] "ENTRY" `). */
const refused: [string, string][] = [
  ['', 'is empty: write a URL such as "https://api.example.com"'],
  ['api.example.com', 'has no scheme: write "https://api.example.com" or "http://api.example.com"'],
  ['api.example.com:80', 'has no scheme: write "https://api.example.com:80" or "http://api.example.com:80"'],
  [
    '*',
    'has no scheme: write "*://*:*" to allow every public host on every port, or list the hosts, as in "https://api.example.com"',
  ],
  [
    'https://{{ api_host }}',
    'uses the variable {{ api_host }}, which isola does not resolve in allowed_outbound_hosts yet: write the host itself, e.g. "https://api.example.com"',
  ],
  [
    'https://{{api_host}}:{{ port }}',
    'uses the variable {{ api_host }}, which isola does not resolve in allowed_outbound_hosts yet: write the host itself, e.g. "https://api.example.com"',
  ],
  [
    'redis://cache.example.com',
    'has scheme "redis", but isola makes outbound requests over http and https only: write "https://…", "http://…" or "*://…"',
  ],
  [
    '{http,https}://example.com',
    'lists schemes in braces, which isola (like Spin) does not support: write one entry per scheme',
  ],
  [
    'https://api.example.com/v1',
    'has a path ("/v1"): an entry names a host and port only: write "https://api.example.com"',
  ],
  [
    'http://api.example.com:8080/a/b',
    'has a path ("/a/b"): an entry names a host and port only: write "http://api.example.com:8080"',
  ],
  [
    'http://*.example.com/a',
    'has a path ("/a"): an entry names a host and port only: write "http://*.example.com"',
  ],
  ['https://api.example.com?x=1', 'has "?x=1" after the host: write only SCHEME://HOST[:PORT]'],
  ['https://user:secret@api.example.com', 'has user information: write only SCHEME://HOST[:PORT]'],
  ['https://', 'has no host: write a host such as "api.example.com", or "*" for any'],
  ['https://:443', 'has no host: write a host such as "api.example.com", or "*" for any'],
  [
    '*://api.example.com',
    'has scheme "*" and no port, and "*" has no default port: write ":*" for any port or a port such as ":443"',
  ],
  [
    '*://127.0.0.0/24',
    'has scheme "*" and no port, and "*" has no default port: write ":*" for any port or a port such as ":443"',
  ],
  [
    'http://api.example.com:http',
    'has the port "http": write a port from 1 to 65535, a range such as 8000..8100, or "*" for any port',
  ],
  [
    'http://api.example.com:0',
    'has the port "0": write a port from 1 to 65535, a range such as 8000..8100, or "*" for any port',
  ],
  [
    'http://api.example.com:65536',
    'has the port "65536": write a port from 1 to 65535, a range such as 8000..8100, or "*" for any port',
  ],
  [
    'http://api.example.com:5555..4444',
    'has the empty port range 5555..4444: write START..END with START below END (END itself is excluded, as in Spin)',
  ],
  [
    'http://api.example.com:{80,443}',
    'lists ports in braces, which isola (like Spin) does not support: write a range such as 8000..8100',
  ],
  [
    'https://{a,b}.example.com',
    'lists hosts in braces, which isola (like Spin) does not support: write one entry per host',
  ],
  [
    'https://api.*.example.com',
    'has "*" inside the host: write "*" alone (any host) or as the first label (any subdomain, as in "*.example.com")',
  ],
  [
    'https://*example.com',
    'has "*" inside the host: write "*" alone (any host) or as the first label (any subdomain, as in "*.example.com")',
  ],
  [
    'https://*.*.example.com',
    'has the host "*.*.example.com", which is not a DNS name: write e.g. "api.example.com"',
  ],
  [
    'http://exa mple.com',
    'has the host "exa mple.com", which is not a DNS name: write e.g. "api.example.com"',
  ],
  [
    'http://-bad.example.com',
    'has the host "-bad.example.com", which is not a DNS name: write e.g. "api.example.com"',
  ],
  [
    'http://self',
    'asks for Spin\'s self-requests, which isola does not support yet: write the app\'s own URL, e.g. "http://127.0.0.1:3000"',
  ],
  [
    'https://self.alt',
    'asks for Spin\'s self-requests, which isola does not support yet: write the app\'s own URL, e.g. "http://127.0.0.1:3000"',
  ],
  [
    'http://authz.spin.internal',
    "asks for Spin's service chaining (*.spin.internal), which isola does not support: call the other component by its URL",
  ],
  [
    'http://*.spin.internal',
    "asks for Spin's service chaining (*.spin.internal), which isola does not support: call the other component by its URL",
  ],
  ['http://127.1', 'writes the IPv4 address 127.0.0.1 in a short form: write "127.0.0.1"'],
  ['http://2130706433:80', 'writes the IPv4 address 127.0.0.1 in a short form: write "127.0.0.1"'],
  ['http://0x7f.0.0.1', 'writes the IPv4 address 127.0.0.1 in a short form: write "127.0.0.1"'],
  [
    'http://example.123',
    'has the host "example.123", whose last label is a number: write a DNS name such as "api.example.com", or a whole IPv4 address',
  ],
  [
    'http://::1',
    'has an IPv6 address without brackets: write "[ADDRESS]" or "[ADDRESS]:PORT", as in "[::1]:8080"',
  ],
  [
    'http://::1:8080',
    'has an IPv6 address without brackets: write "[ADDRESS]" or "[ADDRESS]:PORT", as in "[::1]:8080"',
  ],
  ['http://[::1', 'opens "[" without closing it: write an IPv6 address as "[::1]"'],
  ['http://[not-v6]:80', 'has [not-v6], which is not an IPv6 address: write e.g. "[::1]"'],
  [
    'http://10.0.0.0/33',
    'has the network 10.0.0.0/33, whose prefix is not 0 to 32: write e.g. "10.0.0.0/24"',
  ],
  [
    'http://10.0.0.0/x',
    'has "10.0.0.0/x", which is not ADDRESS/PREFIX: write a network such as "10.0.0.0/8"',
  ],
  [
    'http://0.0.0.0:8080',
    'has the unspecified address 0.0.0.0, which names no host: write "127.0.0.1" (or "[::1]") for this machine',
  ],
  [
    'http://[::]:8080',
    'has the unspecified address [::], which names no host: write "127.0.0.1" (or "[::1]") for this machine',
  ],
];

describe('AllowList.parse', () => {
  for (const [entry, grants] of accepted) {
    it(`reads ${JSON.stringify(entry)} as ${grants}`, () => {
      const list = AllowList.parse([entry]);
      assert.equal(describeAllowedHost(list.entries[0]!), grants);
      assert.equal(list.entries[0]!.entry, entry);
    });
  }

  for (const [entry, message] of refused) {
    it(`refuses ${JSON.stringify(entry)} and says what to write`, () => {
      assert.throws(
        () => AllowList.parse([entry]),
        (error) => {
          assert.ok(isIsolaError(error, 'E_MANIFEST_INVALID'));
          assert.equal(error.message, `allowed_outbound_hosts[0] "${entry}" ${message}`);
          assert.deepEqual(error.details, { key: 'allowed_outbound_hosts[0]', entry });
          return true;
        },
      );
    });
  }

  it('names the manifest key and index of the first bad entry', () => {
    assert.throws(
      () =>
        AllowList.parse(
          ['https://ok.example.com', 'ftp://files.example.com'],
          'component.api.allowed_outbound_hosts',
        ),
      (error) =>
        isIsolaError(error, 'E_MANIFEST_INVALID') &&
        error.message.startsWith(
          'component.api.allowed_outbound_hosts[1] "ftp://files.example.com" has scheme "ftp"',
        ) &&
        error.details.key === 'component.api.allowed_outbound_hosts[1]',
    );
  });

  it("refuses Spin's old insecure:allow-all and points to *://*:*", () => {
    assert.throws(
      () => AllowList.parse(['insecure:allow-all']),
      (error) =>
        isIsolaError(error, 'E_MANIFEST_INVALID') &&
        error.message ===
          'allowed_outbound_hosts = ["insecure:allow-all"] is an old Spin spelling: write ["*://*:*"] to allow every public host (private addresses still need their own entry)',
    );
  });

  it('accepts an empty list, which grants nothing', () => {
    assert.equal(AllowList.parse([]).allows('https://api.example.com/'), false);
    assert.equal(AllowList.NONE.allows('https://api.example.com/'), false);
  });
});

/** Entries, a URL, and whether the entries grant it. */
const matches: [string[], string, boolean][] = [
  [['https://api.example.com'], 'https://api.example.com/v1/users?id=1', true],
  [['https://api.example.com'], 'https://api.example.com:443/', true],
  [['https://api.example.com'], 'https://API.EXAMPLE.COM/', true],
  [['https://api.example.com'], 'https://api.example.com./', true],
  [['https://api.example.com'], 'http://api.example.com/', false],
  [['https://api.example.com'], 'https://api.example.com:8443/', false],
  [['https://api.example.com'], 'https://example.com/', false],
  [['https://api.example.com'], 'https://evil.api.example.com/', false],
  [['https://api.example.com'], 'https://api.example.com.evil.net/', false],
  [['https://api.example.com'], 'https://user:pass@api.example.com/', true],
  [['http://api.example.com:8080'], 'http://api.example.com:8080/', true],
  [['http://api.example.com:8080'], 'http://api.example.com/', false],
  [['http://localhost:8080'], 'http://localhost:8080/', true],
  [['http://localhost:8080'], 'http://127.0.0.1:8080/', false],
  [['https://*.example.com'], 'https://a.example.com/', true],
  [['https://*.example.com'], 'https://a.b.example.com/', true],
  [['https://*.example.com'], 'https://example.com/', false],
  [['https://*.example.com'], 'https://myexample.com/', false],
  [['https://*.example.com'], 'https://a.example.com:8443/', false],
  [['http://*.example2.com:8383'], 'http://a.b.example2.com:8383/foo', true],
  [['http://*.example2.com:8383'], 'http://a.b.example2.com/foo', false],
  [['*://api.example.com:443'], 'https://api.example.com/', true],
  [['*://api.example.com:443'], 'http://api.example.com:443/', true],
  [['*://*:*'], 'http://anything.example:1234/', true],
  [['*://*:*'], 'http://10.0.0.1/', true],
  [['https://*:*'], 'http://anything.example/', false],
  [['http://*'], 'http://anything.example/', true],
  [['http://*'], 'http://anything.example:8080/', false],
  [['http://api.example.com:4444..5555'], 'http://api.example.com:4444/', true],
  [['http://api.example.com:4444..5555'], 'http://api.example.com:5554/', true],
  [['http://api.example.com:4444..5555'], 'http://api.example.com:5555/', false],
  [['http://api.example.com:4444..5555'], 'http://api.example.com:4443/', false],
  [['http://127.0.0.1:3000'], 'http://127.0.0.1:3000/', true],
  [['http://127.0.0.1:3000'], 'http://127.1:3000/', true],
  [['http://127.0.0.1:3000'], 'http://2130706433:3000/', true],
  [['http://127.0.0.1:3000'], 'http://[::ffff:127.0.0.1]:3000/', true],
  [['http://127.0.0.1:3000'], 'http://localhost:3000/', false],
  [['http://127.0.0.1:3000'], 'http://127.0.0.2:3000/', false],
  [['*://127.0.0.1/24:63551'], 'http://127.0.0.200:63551/', true],
  [['*://127.0.0.1/24:63551'], 'http://127.0.1.1:63551/', false],
  [['https://192.168.1.0/24'], 'https://192.168.1.77/', true],
  [['https://192.168.1.0/24'], 'https://192.168.2.77/', false],
  [['http://[::1]:8001'], 'http://[::1]:8001/', true],
  [['http://[::1]:8001'], 'http://[0:0:0:0:0:0:0:1]:8001/', true],
  [['https://[fc00::]/7'], 'https://[fd12:3456::1]/', true],
  [['https://[fc00::]/7'], 'https://[fe80::1]/', false],
  [['https://*.example.com'], 'https://10.0.0.1/', false],
  [['https://api.example.com'], 'ftp://api.example.com/', false],
  [['https://api.example.com', 'http://localhost:8080'], 'http://localhost:8080/x', true],
  [[], 'https://api.example.com/', false],
];

describe('AllowList.allows', () => {
  for (const [entries, url, allowed] of matches) {
    it(`${allowed ? 'grants' : 'denies'} ${url} with ${JSON.stringify(entries)}`, () => {
      assert.equal(AllowList.parse(entries).allows(url), allowed);
    });
  }
});

describe('AllowList.check', () => {
  it('names the entry that grants a URL', () => {
    const decision = AllowList.parse(['https://a.example.com', 'https://*.example.com']).check(
      'https://b.example.com/',
    );
    assert.ok(decision.allowed);
    assert.equal(decision.grantedBy.entry, 'https://*.example.com');
  });

  it('says which URL was denied, what is granted, and what to add', () => {
    const list = AllowList.parse(['https://api.example.com'], 'component.api.allowed_outbound_hosts');
    assert.deepEqual(list.check('https://evil.example.com/steal?token=1'), {
      allowed: false,
      reason:
        'https://evil.example.com:443 is not in component.api.allowed_outbound_hosts ("https://api.example.com"): to allow it, add "https://evil.example.com"',
    });
    assert.deepEqual(list.check('http://api.example.com:8080/'), {
      allowed: false,
      reason:
        'http://api.example.com:8080 is not in component.api.allowed_outbound_hosts ("https://api.example.com"): to allow it, add "http://api.example.com:8080"',
    });
  });

  it('says when nothing is granted at all', () => {
    const decision = AllowList.NONE.check('http://[::1]:8080/');
    assert.deepEqual(decision, {
      allowed: false,
      reason:
        'http://[::1]:8080 is not in allowed_outbound_hosts (none are granted): to allow it, add "http://[::1]:8080"',
    });
  });

  it('refuses what is not an http or https URL', () => {
    const decision = AllowList.parse(['*://*:*']).check('file:///etc/passwd');
    assert.equal(decision.allowed, false);
    assert.match(!decision.allowed ? decision.reason : '', /isola makes http and https requests only/);
    assert.equal(AllowList.parse(['*://*:*']).allows('not a url'), false);
  });
});

describe('AllowList.grantFor', () => {
  const list = AllowList.parse([
    'http://127.0.0.1:3000',
    'https://10.0.0.0/8',
    'http://localhost:8080',
    'https://*.example.com',
    '*://*:*',
  ]);
  const grant = (scheme: string, port: number, address: string) =>
    list.grantFor(scheme, port, parseIp(address)!)?.entry;

  it('grants an address an IP or CIDR entry contains, for its scheme and port only', () => {
    assert.equal(grant('http', 3000, '127.0.0.1'), 'http://127.0.0.1:3000');
    assert.equal(grant('http', 3000, '::ffff:127.0.0.1'), 'http://127.0.0.1:3000');
    assert.equal(grant('http', 3001, '127.0.0.1'), undefined);
    assert.equal(grant('https', 3000, '127.0.0.1'), undefined);
    assert.equal(grant('https', 443, '10.1.2.3'), 'https://10.0.0.0/8');
    assert.equal(grant('http', 80, '10.1.2.3'), undefined);
  });

  it('grants loopback addresses to a localhost entry, and nothing to names or wildcards', () => {
    assert.equal(grant('http', 8080, '127.0.0.1'), 'http://localhost:8080');
    assert.equal(grant('http', 8080, '127.9.9.9'), 'http://localhost:8080');
    assert.equal(grant('http', 8080, '::1'), 'http://localhost:8080');
    assert.equal(grant('http', 8080, '192.168.1.1'), undefined);
    assert.equal(grant('https', 443, '192.168.1.1'), undefined);
  });
});
