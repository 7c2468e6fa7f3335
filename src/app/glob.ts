/**
 * Shell-style globs for `files` entries: `*` and `?` within one path segment, `[abc]` / `[!abc]`
 * character classes, `{a,b}` alternatives, and `**` for any number of directories. As in a
 * shell, a wildcard does not match a name starting with `.` unless the pattern's segment starts
 * with `.` too, so that a broad glob does not publish `.env` or `.git`.
 */

/** True when `pattern` uses glob syntax rather than naming one path. */
export function hasGlobSyntax(pattern: string): boolean {
  return /[*?[{]/.test(pattern);
}

/** The segments before the first one with glob syntax: the directory a search can start from. */
export function globBase(pattern: string): string[] {
  const segments = pattern.split('/');
  const first = segments.findIndex(hasGlobSyntax);
  return first === -1 ? segments : segments.slice(0, first);
}

/** A RegExp matching the '/'-separated relative paths that `pattern` matches. */
export function globToRegExp(pattern: string): RegExp {
  const segments = pattern.split('/');
  const source = segments
    .map((segment, index) => {
      const last = index === segments.length - 1;
      if (segment === '**') return last ? `${ANY_NAME}(?:/${ANY_NAME})*` : `(?:${ANY_NAME}/)*`;
      return segmentSource(segment) + (last ? '' : '/');
    })
    .join('');
  return new RegExp(`^${source}$`);
}

/** One path segment that does not start with `.`. */
const ANY_NAME = '(?!\\.)[^/]+';

function segmentSource(segment: string): string {
  const hidden = segment.startsWith('.') ? '' : '(?!\\.)';
  return hidden + translate(segment, true);
}

function translate(text: string, braces: boolean): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '*') out += '[^/]*';
    else if (char === '?') out += '[^/]';
    else if (char === '[' && text.indexOf(']', i + 2) !== -1) {
      const end = text.indexOf(']', i + 2);
      const body = text.slice(i + 1, end);
      const negated = body.startsWith('!') || body.startsWith('^');
      out += `[${negated ? '^' : ''}${escapeClass(negated ? body.slice(1) : body)}]`;
      i = end;
    } else if (char === '{' && braces && text.indexOf('}', i) !== -1) {
      const end = text.indexOf('}', i);
      const options = text.slice(i + 1, end).split(',');
      out += `(?:${options.map((option) => translate(option, false)).join('|')})`;
      i = end;
    } else out += char.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return out;
}

function escapeClass(body: string): string {
  return body.replace(/[\\\]^]/g, '\\$&');
}

/** How many segments the paths `pattern` matches have; undefined when `**` matches any depth. */
export function globDepth(pattern: string): number | undefined {
  const segments = pattern.split('/');
  return segments.includes('**') ? undefined : segments.length;
}
