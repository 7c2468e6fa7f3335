/**
 * Loads isola as it ships: the `dist/` that `npm run build` (run by scripts/bench.sh) compiles
 * with tsc, not `src/` through tsx. tsx's esbuild transform adds per-closure helpers (`__name`,
 * one `Object.defineProperty` per function created) that made building a WASI context ~6× slower
 * (28 µs instead of 4.7 µs here), a cost no user pays. Types still come from `src/`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * The first `.ts` source (tests excluded) under `src/<dir>` whose build in `dist/<dir>` is missing
 * or older than it; `recursive` false looks at that folder's own files only.
 */
function staleSource(dir: string, recursive: boolean): string | undefined {
  for (const entry of readdirSync(join(ROOT, 'src', dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const stale = recursive ? staleSource(path, true) : undefined;
      if (stale !== undefined) return stale;
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      const built = join(ROOT, 'dist', path.replace(/\.ts$/, '.js'));
      if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(ROOT, 'src', path)).mtimeMs) {
        return path;
      }
    }
  }
  return undefined;
}

/**
 * Imports `dist/<path>` (e.g. `wasi/index.js`, the build of `src/wasi/index.ts`). Fails with the
 * fix when the build of that folder, or of the top-level `src/*.ts` it may import, is missing or
 * older than its source, so a stale build is never measured.
 */
export async function importBuilt<T>(path: string): Promise<T> {
  const folder = path.split('/')[0]!;
  const stale = staleSource('', false) ?? staleSource(folder, true);
  if (stale !== undefined) {
    throw new Error(
      `the build of src/${stale} is missing or stale: run \`npm run build\` (scripts/bench.sh does)`,
    );
  }
  return (await import(pathToFileURL(join(ROOT, 'dist', path)).href)) as T;
}
