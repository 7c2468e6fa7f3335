/** "Did you mean" for a misspelt key or name: the closest candidate within a small edit distance. */

/** Edits (insert, delete, substitute one character) that turn `a` into `b` (Levenshtein distance). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitute));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Edits a misspelling may be away from the key it stands for and still be suggested. */
export const MAX_SUGGESTION_DISTANCE = 2;

/**
 * The candidate closest to `input` (the first of equals, in the order given), if it is at most
 * MAX_SUGGESTION_DISTANCE edits away and not `input` itself. A candidate equal to `input` but
 * for case, or `input` with a suffix such as a unit (`timeout` → `timeout_ms`), counts as closest.
 */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = MAX_SUGGESTION_DISTANCE + 1;
  for (const candidate of candidates) {
    if (candidate === input) continue;
    const distance = isVariant(input, candidate) ? 0 : editDistance(input, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function isVariant(input: string, candidate: string): boolean {
  const lower = input.toLowerCase();
  const other = candidate.toLowerCase();
  return lower === other || (lower.length >= 3 && other.startsWith(`${lower}_`));
}
