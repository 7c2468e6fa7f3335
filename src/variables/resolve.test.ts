import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isolaErrorWith } from '../../test/support/errors.js';
import { parseVariableAssignment, readVariablesFile, resolveVariables } from './resolve.js';

const DEFINITIONS = {
  api_host: { required: false, secret: false, default: 'https://default' },
  api_token: { required: true, secret: true },
};

describe('resolving variables', () => {
  test('an explicit value wins over the file, the file over the environment, the environment over the default', () => {
    const env = { ISOLA_VARIABLE_API_HOST: 'from-env', ISOLA_VARIABLE_API_TOKEN: 'env-token' };
    assert.deepEqual(
      [...resolveVariables(DEFINITIONS, { env })],
      [
        ['api_host', 'from-env'],
        ['api_token', 'env-token'],
      ],
    );
    const file = { api_host: 'from-file' };
    assert.equal(resolveVariables(DEFINITIONS, { env, file }).get('api_host'), 'from-file');
    const values = { api_host: 'explicit' };
    assert.equal(resolveVariables(DEFINITIONS, { env, file, values }).get('api_host'), 'explicit');
    assert.equal(
      resolveVariables(DEFINITIONS, { values: { api_token: 't' } }).get('api_host'),
      'https://default',
    );
  });

  test('a required variable without a value fails, naming it and how to give it, and no value is ever shown', () => {
    assert.throws(
      () => resolveVariables(DEFINITIONS, { env: { ISOLA_VARIABLE_API_HOST: 'visible?' } }),
      isolaErrorWith(
        'E_VARIABLE_MISSING',
        /variable api_token.*ISOLA_VARIABLE_API_TOKEN=\.\.\. or --variable api_token=\.\.\./,
      ),
    );
    try {
      resolveVariables(DEFINITIONS, { env: { ISOLA_VARIABLE_API_HOST: 'visible?' } });
    } catch (error) {
      assert.doesNotMatch(String((error as Error).message), /visible\?/);
    }
  });

  test('--variable takes NAME=VALUE, the value may hold =', () => {
    assert.deepEqual(parseVariableAssignment('api_token=a=b'), ['api_token', 'a=b']);
    assert.throws(
      () => parseVariableAssignment('API-TOKEN=x'),
      isolaErrorWith('E_ARGUMENT_INVALID', /lower snake_case/),
    );
    assert.throws(
      () => parseVariableAssignment('api_token'),
      isolaErrorWith('E_ARGUMENT_INVALID', /NAME=VALUE/),
    );
  });

  test('a variables file is a TOML table of strings, and a bad one is refused without echoing its contents', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'isola-vars-'));
    try {
      writeFileSync(join(dir, 'good.toml'), 'api_token = "s3cr3t"\n');
      assert.deepEqual(await readVariablesFile(join(dir, 'good.toml')), { api_token: 's3cr3t' });
      writeFileSync(join(dir, 'bad.toml'), 'api_token = 42 # s3cr3t\n');
      await assert.rejects(readVariablesFile(join(dir, 'bad.toml')), (error: Error) => {
        assert.doesNotMatch(error.message, /s3cr3t|42/);
        return /string value/.test(error.message);
      });
      writeFileSync(join(dir, 'broken.toml'), 'api_token = "s3cr3t\n');
      await assert.rejects(readVariablesFile(join(dir, 'broken.toml')), (error: Error) => {
        assert.doesNotMatch(error.message, /s3cr3t/);
        return /not TOML/.test(error.message);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
