import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closest, editDistance } from './suggest.js';

describe('editDistance', () => {
  it('counts insertions, deletions and substitutions', () => {
    assert.equal(editDistance('environment', 'environment'), 0);
    assert.equal(editDistance('enviroment', 'environment'), 1);
    assert.equal(editDistance('sorce', 'source'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
  });
});

describe('closest', () => {
  const keys = ['source', 'files', 'environment', 'timeout_ms', 'memory_limit_mb'];

  it('suggests a key at most two edits away', () => {
    assert.equal(closest('sourse', keys), 'source');
    assert.equal(closest('file', keys), 'files');
  });

  it('suggests nothing for a key that is not close to any', () => {
    assert.equal(closest('colour', keys), undefined);
  });

  it('suggests a key that differs only in case or by a unit suffix', () => {
    assert.equal(closest('ENVIRONMENT', keys), 'environment');
    assert.equal(closest('timeout', keys), 'timeout_ms');
    assert.equal(closest('memory_limit', keys), 'memory_limit_mb');
  });

  it('prefers the nearest candidate, then the first of equals', () => {
    assert.equal(closest('abd', ['abc', 'abd2', 'xbd']), 'abc');
  });
});
