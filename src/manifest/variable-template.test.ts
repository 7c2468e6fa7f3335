import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseTemplate, renderTemplate, templateReferences } from './variable-template.js';

describe('variable templates', () => {
  test('references with or without spaces are replaced by their values, the text around them kept', () => {
    const parsed = parseTemplate('{{ host }}/v1?key={{key}}&again={{ host }}');
    assert.ok('parts' in parsed);
    assert.deepEqual(templateReferences(parsed.parts), ['host', 'key']);
    const values = new Map([
      ['host', 'https://api'],
      ['key', 's3cr3t'],
    ]);
    assert.equal(renderTemplate(parsed.parts, values), 'https://api/v1?key=s3cr3t&again=https://api');
  });

  test('plain text is a template with no references', () => {
    const parsed = parseTemplate('no braces at all');
    assert.ok('parts' in parsed);
    assert.deepEqual(templateReferences(parsed.parts), []);
    assert.equal(renderTemplate(parsed.parts, new Map()), 'no braces at all');
  });

  test('refuses a name that is not lower snake_case and an unmatched brace', () => {
    assert.match((parseTemplate('{{ Api-Key }}') as { problem: string }).problem, /lower snake_case/);
    assert.match((parseTemplate('{{ key') as { problem: string }).problem, /unmatched/);
    assert.match((parseTemplate('key }}') as { problem: string }).problem, /unmatched/);
  });
});
