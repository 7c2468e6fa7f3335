/**
 * Spin's variable templates: a component's variable is a string in which `{{ name }}` stands for
 * an application variable's value (`"{{ api_host }}/v1"`). Names are lower snake_case; spaces
 * inside the braces are allowed. There is no escape: a value holding `{{` is written as-is by the
 * provider, never through a template.
 */

/** A template as parts: literal text, and references to application variables. */
export type TemplatePart = { kind: 'text'; text: string } | { kind: 'variable'; name: string };

export const VARIABLE_NAME = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

const REFERENCE = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** The parts of `template`, or the reason it is not one (a name that is not lower snake_case, a stray `{{`). */
export function parseTemplate(template: string): { parts: TemplatePart[] } | { problem: string } {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of template.matchAll(REFERENCE)) {
    const name = match[1] as string;
    if (!VARIABLE_NAME.test(name)) {
      return {
        problem: `{{ ${name} }} does not name a variable: names are lower snake_case, as in {{ api_url }}`,
      };
    }
    if (match.index > last) parts.push({ kind: 'text', text: template.slice(last, match.index) });
    parts.push({ kind: 'variable', name });
    last = match.index + match[0].length;
  }
  const rest = template.slice(last);
  if (rest.includes('{{') || rest.includes('}}')) {
    return { problem: 'has an unmatched {{ or }}: write references as {{ name }}' };
  }
  if (rest !== '') parts.push({ kind: 'text', text: rest });
  return { parts };
}

/** Names the template refers to, in order, without repeats. */
export function templateReferences(parts: readonly TemplatePart[]): string[] {
  return [...new Set(parts.flatMap((part) => (part.kind === 'variable' ? [part.name] : [])))];
}

/** The template with every reference replaced by its value (every name must have one). */
export function renderTemplate(parts: readonly TemplatePart[], values: ReadonlyMap<string, string>): string {
  return parts.map((part) => (part.kind === 'text' ? part.text : (values.get(part.name) as string))).join('');
}
