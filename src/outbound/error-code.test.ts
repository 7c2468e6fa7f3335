import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isIsolaError } from '../errors.js';
import { fromNodeError, OutboundError } from './error-code.js';
import { resolveOutboundLimits } from './limits.js';

const nodeError = (code: string) => Object.assign(new Error(`failed with ${code}`), { code });

describe('OutboundError', () => {
  it('survives a worker boundary with its code and fields', () => {
    const error = new OutboundError('HTTP-response-body-size', 'too big', {
      size: 11,
      limit: 'maxResponseBodyBytes',
    });
    const copy = OutboundError.fromJSON(structuredClone(error.toJSON()));
    assert.ok(copy instanceof OutboundError);
    assert.deepEqual(copy.toJSON(), {
      code: 'HTTP-response-body-size',
      message: 'too big',
      size: 11,
      limit: 'maxResponseBodyBytes',
    });
    const dns = new OutboundError('DNS-error', 'no such name', { dns: { rcode: 'ENOTFOUND' } });
    assert.deepEqual(OutboundError.fromJSON(dns.toJSON()).dns, { rcode: 'ENOTFOUND' });
  });
});

describe('fromNodeError', () => {
  it("maps Node's codes to wasi:http error-code names", () => {
    const cases: [string, string][] = [
      ['ECONNREFUSED', 'connection-refused'],
      ['ECONNRESET', 'connection-terminated'],
      ['ETIMEDOUT', 'connection-timeout'],
      ['EHOSTUNREACH', 'destination-IP-unroutable'],
      ['ENOTFOUND', 'DNS-error'],
      ['DEPTH_ZERO_SELF_SIGNED_CERT', 'TLS-certificate-error'],
      ['ERR_TLS_CERT_ALTNAME_INVALID', 'TLS-certificate-error'],
      ['EPROTO', 'TLS-protocol-error'],
      ['HPE_HEADER_OVERFLOW', 'HTTP-response-header-section-size'],
      ['HPE_INVALID_CONSTANT', 'HTTP-protocol-error'],
    ];
    for (const [code, expected] of cases) {
      const { error, known } = fromNodeError(nodeError(code), 'head');
      assert.equal(error.code, expected, code);
      assert.equal(known, true);
      assert.ok(error.cause instanceof Error);
    }
  });

  it('reads a connection lost after the response head as an incomplete response', () => {
    assert.equal(fromNodeError(nodeError('ECONNRESET'), 'body').error.code, 'HTTP-response-incomplete');
  });

  it('surfaces an unknown code as internal-error naming it, and says it was unknown', () => {
    const { error, known } = fromNodeError(nodeError('EWEIRD'), 'head');
    assert.equal(known, false);
    assert.equal(error.code, 'internal-error');
    assert.equal(error.message, 'EWEIRD: failed with EWEIRD');
  });
});

describe('resolveOutboundLimits', () => {
  it('applies an override within its range and refuses one outside it, naming the range', () => {
    assert.equal(resolveOutboundLimits({ maxRequestsPerInvocation: 5 }).maxRequestsPerInvocation, 5);
    assert.throws(
      () => resolveOutboundLimits({ maxResponseHeaderBytes: 10 }),
      (error) => isIsolaError(error, 'E_LIMIT_OUT_OF_RANGE') && /from 1024 to 1048576/.test(error.message),
    );
    assert.throws(
      () => resolveOutboundLimits({ nope: 1 } as never),
      (error) =>
        isIsolaError(error, 'E_LIMIT_OUT_OF_RANGE') && /unknown outbound limit "nope"/.test(error.message),
    );
  });
});
