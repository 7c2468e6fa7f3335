/**
 * wasi:random 0.2: `random` (cryptographically secure, from the host's CSPRNG), `insecure` and
 * `insecure-seed` (the same source: isola has no cheaper one worth the difference). Every call is
 * capped at `maxBytesPerCall`.
 */
import { randomFillSync } from 'node:crypto';
import type { HostContext } from './context.js';

function randomBytes(ctx: HostContext, len: bigint): Uint8Array {
  return randomFillSync(new Uint8Array(ctx.clampBytes(len)));
}

function randomU64(): bigint {
  const bytes = randomFillSync(new Uint8Array(8));
  return new DataView(bytes.buffer).getBigUint64(0, true);
}

export function randomImports(ctx: HostContext): Record<string, Record<string, unknown>> {
  return {
    'wasi:random/random': {
      getRandomBytes: (len: bigint) => randomBytes(ctx, len),
      getRandomU64: randomU64,
    },
    'wasi:random/insecure': {
      getInsecureRandomBytes: (len: bigint) => randomBytes(ctx, len),
      getInsecureRandomU64: randomU64,
    },
    'wasi:random/insecure-seed': {
      insecureSeed: () => [randomU64(), randomU64()],
    },
  };
}
