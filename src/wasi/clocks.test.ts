import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Clocks } from './clocks.js';
import { Clockid, Errno } from './defs.js';
import { WasiErrno } from './errno.js';

describe('Clocks', () => {
  it('reads realtime in nanoseconds close to Date.now()', () => {
    const ns = new Clocks().now(Clockid.REALTIME);
    const ms = Number(ns / 1_000_000n);
    assert.ok(Math.abs(ms - Date.now()) < 1000, `realtime ${ms} is far from ${Date.now()}`);
  });

  it('never runs the monotonic clock backwards', () => {
    const clocks = new Clocks();
    let last = clocks.now(Clockid.MONOTONIC);
    for (let i = 0; i < 1000; i++) {
      const now = clocks.now(Clockid.MONOTONIC);
      assert.ok(now >= last);
      last = now;
    }
  });

  it('answers EINVAL for an unknown clock', () => {
    assert.throws(
      () => new Clocks().now(9),
      (error) => error instanceof WasiErrno && error.errno === Errno.INVAL,
    );
    assert.throws(
      () => new Clocks().resolution(9),
      (error) => error instanceof WasiErrno && error.errno === Errno.INVAL,
    );
  });
});
