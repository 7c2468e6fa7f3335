import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { globBase, globToRegExp, hasGlobSyntax } from './glob.js';

function matches(pattern: string, path: string): boolean {
  return globToRegExp(pattern).test(path);
}

describe('globToRegExp', () => {
  it('matches * and ? within one segment only', () => {
    assert.ok(matches('data/*.json', 'data/a.json'));
    assert.ok(!matches('data/*.json', 'data/sub/a.json'));
    assert.ok(matches('img/?.png', 'img/a.png'));
    assert.ok(!matches('img/?.png', 'img/ab.png'));
  });

  it('matches ** across any number of directories, none included', () => {
    assert.ok(matches('assets/**/*.txt', 'assets/a.txt'));
    assert.ok(matches('assets/**/*.txt', 'assets/x/y/a.txt'));
    assert.ok(matches('assets/**', 'assets/x/y/a.txt'));
    assert.ok(!matches('assets/**/*.txt', 'other/a.txt'));
  });

  it('does not let a wildcard match a name starting with a dot', () => {
    assert.ok(!matches('*', '.env'));
    assert.ok(!matches('**/*.txt', '.git/a.txt'));
    assert.ok(matches('.*', '.env'));
  });

  it('reads character classes and alternatives', () => {
    assert.ok(matches('[ab].txt', 'a.txt'));
    assert.ok(!matches('[!ab].txt', 'a.txt'));
    assert.ok(matches('*.{png,jpg}', 'x.jpg'));
    assert.ok(!matches('*.{png,jpg}', 'x.gif'));
  });

  it('takes regex characters in a pattern literally', () => {
    assert.ok(matches('a+b(1).txt', 'a+b(1).txt'));
    assert.ok(!matches('a.txt', 'abtxt'));
  });
});

describe('globBase and hasGlobSyntax', () => {
  it('find the directory a search starts from', () => {
    assert.deepEqual(globBase('assets/img/**/*.png'), ['assets', 'img']);
    assert.deepEqual(globBase('*.txt'), []);
    assert.ok(hasGlobSyntax('a/*.txt'));
    assert.ok(!hasGlobSyntax('a/b.txt'));
  });
});
