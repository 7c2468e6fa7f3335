import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isIsolaError } from '../errors.js';
import { type AddressKind, classifyAddress, OutboundPolicy } from './address-policy.js';
import { AllowList } from './allow-list.js';
import { formatIp, parseIp, parseNetwork } from './ip-address.js';

/** An address and its kind. */
const kinds: [string, AddressKind][] = [
  ['8.8.8.8', 'public'],
  ['93.184.216.34', 'public'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['172.32.0.1', 'public'],
  ['192.168.1.1', 'private'],
  ['100.64.0.1', 'shared'],
  ['100.127.255.255', 'shared'],
  ['100.128.0.1', 'public'],
  ['169.254.169.254', 'link-local'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.1', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['198.51.100.1', 'reserved'],
  ['203.0.113.1', 'reserved'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['2606:4700:4700::1111', 'public'],
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:10.1.2.3', 'private'],
  ['::ffff:8.8.8.8', 'public'],
  ['::127.0.0.1', 'reserved'],
  ['64:ff9b::127.0.0.1', 'loopback'],
  ['64:ff9b::8.8.8.8', 'public'],
  ['64:ff9b:1::1', 'private'],
  ['2002:7f00:1::1', 'loopback'],
  ['2002:0808:0808::1', 'public'],
  ['2001::1', 'reserved'],
  ['2001:db8::1', 'reserved'],
  ['fc00::1', 'unique-local'],
  ['fd12:3456:789a::1', 'unique-local'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['fec0::1', 'reserved'],
  ['ff02::1', 'multicast'],
  ['4000::1', 'reserved'],
];

describe('classifyAddress', () => {
  for (const [address, kind] of kinds) {
    it(`classifies ${address} as ${kind}`, () => {
      assert.equal(classifyAddress(address).kind, kind);
    });
  }

  it('names the range and where it is defined, and the IPv4 address a mapped one stands for', () => {
    assert.deepEqual(classifyAddress('10.1.2.3'), {
      kind: 'private',
      range: '10.0.0.0/8',
      reference: 'RFC 1918',
    });
    assert.deepEqual(classifyAddress('::ffff:169.254.169.254'), {
      kind: 'link-local',
      range: '169.254.0.0/16',
      reference: 'RFC 3927',
      embedded: '169.254.169.254',
    });
  });

  it('refuses text that is not an address, including shorthand IPv4', () => {
    for (const text of ['localhost', '127.1', '2130706433', '0x7f.0.0.1', '1.2.3.4.5', '']) {
      assert.throws(
        () => classifyAddress(text),
        (error) => isIsolaError(error, 'E_ARGUMENT_INVALID'),
      );
    }
  });
});

describe('ip-address', () => {
  it('prints IPv6 in the RFC 5952 form', () => {
    const cases: [string, string][] = [
      ['0:0:0:0:0:0:0:1', '::1'],
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['::ffff:127.0.0.1', '::ffff:7f00:1'],
      ['[fe80::1%eth0]', 'fe80::1'],
      ['::', '::'],
    ];
    for (const [text, canonical] of cases) assert.equal(formatIp(parseIp(text)!), canonical);
  });

  it('clears host bits below a network prefix and refuses a prefix too long', () => {
    assert.deepEqual(parseNetwork('127.0.0.1/24'), parseNetwork('127.0.0.0/24'));
    assert.equal(parseNetwork('10.0.0.0/33'), undefined);
    assert.equal(parseNetwork('::/129'), undefined);
    assert.equal(parseNetwork('10.0.0.0/'), undefined);
  });
});

describe('OutboundPolicy.checkAddress', () => {
  const policy = new OutboundPolicy(
    AllowList.parse([
      'https://api.example.com',
      'http://internal.example.com:8080',
      'http://127.0.0.1:3000',
      'http://localhost:4000',
      'https://10.20.0.0/16',
      '*://*:*',
    ]),
  );
  const check = (target: string, address: string) => {
    const url = new URL(target);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    return policy.checkAddress({ scheme: url.protocol.slice(0, -1), hostname: url.hostname, port }, address);
  };

  it('connects to a public address', () => {
    const decision = check('https://api.example.com/', '93.184.216.34');
    assert.ok(decision.allowed);
    assert.equal(decision.grantedBy, 'public');
  });

  it('refuses a name that resolves to loopback or a private address, and says how to grant it', () => {
    const decision = check('http://internal.example.com:8080/', '127.0.0.1');
    assert.deepEqual(
      decision.allowed ? '' : decision.reason,
      'internal.example.com resolved to 127.0.0.1, a loopback address (127.0.0.0/8, RFC 1122 §3.2.1.3), which only an explicit grant opens: to allow it, add "http://127.0.0.1:8080" to allowed_outbound_hosts',
    );
    assert.equal(check('https://api.example.com/', '10.0.0.1').allowed, false);
    assert.equal(check('https://api.example.com/', '169.254.169.254').allowed, false);
    assert.equal(check('https://api.example.com/', '100.64.0.1').allowed, false);
    assert.equal(check('https://api.example.com/', 'fd00::1').allowed, false);
    assert.equal(check('https://api.example.com/', '::ffff:127.0.0.1').allowed, false);
  });

  it('connects to a private address that an IP or CIDR entry grants for that scheme and port', () => {
    const granted = check('http://127.0.0.1:3000/', '127.0.0.1');
    assert.ok(granted.allowed);
    assert.equal(
      typeof granted.grantedBy === 'object' ? granted.grantedBy.entry : '',
      'http://127.0.0.1:3000',
    );
    assert.equal(check('http://127.0.0.1:3001/', '127.0.0.1').allowed, false);
    assert.equal(check('https://db.example.com/', '10.20.1.2').allowed, true);
    assert.equal(check('http://db.example.com:443/', '10.20.1.2').allowed, false);
  });

  it('connects localhost entries to loopback only', () => {
    assert.equal(check('http://localhost:4000/', '127.0.0.1').allowed, true);
    assert.equal(check('http://localhost:4000/', '::1').allowed, true);
    assert.equal(check('http://localhost:4000/', '10.0.0.1').allowed, false);
  });

  it('never connects to an unspecified, multicast or broadcast address, even when granted', () => {
    const everything = new OutboundPolicy(AllowList.parse(['*://0.0.0.0/0:*', '*://[::]/0:*']), {
      trustedNetworks: ['0.0.0.0/0'],
    });
    for (const address of ['0.0.0.0', '::', '224.0.0.1', '255.255.255.255', 'ff02::1']) {
      const decision = everything.checkAddress({ scheme: 'http', hostname: 'x.example', port: 80 }, address);
      assert.equal(decision.allowed, false, address);
      assert.match(decision.allowed ? '' : decision.reason, /isola never connects to one$/);
    }
  });

  it("opens the operator's trusted networks to any host the allow-list names", () => {
    const trusting = new OutboundPolicy(AllowList.parse(['https://api.example.com']), {
      trustedNetworks: ['10.20.0.0/16'],
    });
    const target = { scheme: 'https', hostname: 'api.example.com', port: 443 };
    const decision = trusting.checkAddress(target, '10.20.3.4');
    assert.ok(decision.allowed);
    assert.equal(decision.grantedBy, 'trusted-network');
    assert.equal(trusting.checkAddress(target, '10.21.3.4').allowed, false);
  });

  it('refuses a trusted network that is not CIDR', () => {
    assert.throws(
      () => new OutboundPolicy(AllowList.NONE, { trustedNetworks: ['10.0.0.0/99'] }),
      (error) =>
        isIsolaError(error, 'E_ARGUMENT_INVALID') && /write CIDR such as "10.0.0.0\/8"/.test(error.message),
    );
  });
});
