/** Walking a host directory tree for a lock: no symlink is followed, so no walk loops. */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface WalkEntry {
  /** Relative to the walk's root, '/'-separated. */
  path: string;
  absolute: string;
  dirent: Dirent;
}

export interface WalkOptions {
  /** Segments deep to go (1: the root's own entries); undefined: all the way. */
  maxDepth?: number;
  /** Called for every entry seen, before it is yielded: the place to count and refuse. */
  onEntry?: (entry: WalkEntry) => void;
}

/** Every entry beneath `root`, depth first; directories are yielded before their contents. */
export async function* walk(
  root: string,
  options: WalkOptions = {},
  prefix = '',
  depth = 1,
): AsyncGenerator<WalkEntry> {
  const dirents = await readdir(join(root, prefix), { withFileTypes: true });
  for (const dirent of dirents) {
    const path = prefix === '' ? dirent.name : `${prefix}/${dirent.name}`;
    const entry = { path, absolute: join(root, path), dirent };
    options.onEntry?.(entry);
    yield entry;
    if (dirent.isDirectory() && (options.maxDepth === undefined || depth < options.maxDepth)) {
      yield* walk(root, options, path, depth + 1);
    }
  }
}
