/**
 * Golden-file tests of the manifest and the lock (as Spin's crates/manifest/tests/ui.rs does
 * them): every `valid/<name>/` directory locks to its `expected.json`, every
 * `invalid/<name>.toml` fails with the message in `<name>.error.txt`. Each case runs in a copy in
 * a temporary directory, with its `.wat` files assembled to `.wasm`; the copy's path reads `<dir>`
 * in the expected files. `UPDATE_GOLDEN=1` rewrites the expected files from what the code does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lockApp } from '../../src/app/lock.js';
import { isIsolaError } from '../../src/errors.js';
import { wat } from '../support/wat.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const PLACEHOLDER = '<dir>';

const scratch = await mkdtemp(join(tmpdir(), 'isola-manifests-'));
after(() => rm(scratch, { recursive: true, force: true }));

/** Copies `sources` into a fresh directory and assembles every .wat file in it to .wasm. */
async function stage(name: string, sources: readonly string[]): Promise<string> {
  const dir = join(scratch, name);
  for (const source of sources) await cp(source, dir, { recursive: true });
  for (const entry of await readdir(dir, { recursive: true })) {
    if (!entry.endsWith('.wat')) continue;
    const path = join(dir, entry);
    await writeFile(path.replace(/\.wat$/, '.wasm'), await wat(await readFile(path, 'utf8')));
  }
  return dir;
}

function placehold(text: string, dir: string): string {
  return text.split(dir).join(PLACEHOLDER);
}

async function expectGolden(
  path: string,
  actual: string,
  compare: (expected: string) => void,
): Promise<void> {
  if (UPDATE) {
    await writeFile(path, actual);
    return;
  }
  compare(await readFile(path, 'utf8'));
}

const validCases = (await readdir(join(HERE, 'valid'), { withFileTypes: true }))
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

describe('a valid manifest locks to its expected.json', () => {
  for (const name of validCases) {
    it(name, async () => {
      const dir = await stage(`valid-${name}`, [join(HERE, 'valid', name)]);
      const locked = await lockApp(dir);
      const actual = `${placehold(JSON.stringify(locked, null, 2), dir)}\n`;
      const expected = join(HERE, 'valid', name, 'expected.json');
      // Compared as data, so that the formatter may lay the file out its own way.
      await expectGolden(expected, actual, (text) => assert.deepEqual(JSON.parse(actual), JSON.parse(text)));
    });
  }
});

const invalidCases = (await readdir(join(HERE, 'invalid')))
  .filter((entry) => entry.endsWith('.toml'))
  .map((entry) => basename(entry, '.toml'))
  .sort();

describe('an invalid manifest fails with the message in its .error.txt', () => {
  for (const name of invalidCases) {
    it(name, async () => {
      const dir = await stage(`invalid-${name}`, [join(HERE, 'invalid', 'support')]);
      await cp(join(HERE, 'invalid', `${name}.toml`), join(dir, `${name}.toml`));
      const error = await lockApp(join(dir, `${name}.toml`)).then(
        () => assert.fail('the manifest was accepted'),
        (error: unknown) => error,
      );
      assert.ok(isIsolaError(error), `not an IsolaError: ${String(error)}`);
      const actual = `${placehold(error.message, dir)}\n`;
      await expectGolden(join(HERE, 'invalid', `${name}.error.txt`), actual, (text) =>
        assert.equal(actual, text),
      );
    });
  }
});

if (UPDATE) {
  after(() => {
    // Lay the rewritten JSON out as the formatter wants it, so that `biome check` stays clean.
    spawnSync('npx', ['biome', 'format', '--write', join(HERE, 'valid')], { stdio: 'inherit' });
  });
}
