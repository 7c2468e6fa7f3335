/**
 * Resolves a component's `files` into locked mounts: a directory becomes one read-only mount with
 * the digest of everything beneath it; a single file, or each file a glob matches, becomes a file
 * mount. A source that does not exist, or a glob that matches nothing, fails the lock by name.
 */
import { readlink, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { IsolaError } from '../errors.js';
import type { FileMount } from '../manifest/manifest.js';
import { manifestError } from '../manifest/manifest-error.js';
import { digestFile } from './digest.js';
import { globBase, globDepth, globToRegExp, hasGlobSyntax } from './glob.js';
import type { LockedDirectoryEntry, LockedMount } from './locked.js';
import { walk } from './walk.js';

/** Where a component's files are resolved from, and the count of entries the whole lock may see. */
export interface FilesContext {
  /** The manifest's path, which starts every message. */
  file: string;
  /** The manifest's directory: relative paths start here. */
  dir: string;
  budget: EntryBudget;
}

/** Counts the host entries a lock looks at (walked, matched, digested) and refuses past a maximum. */
export class EntryBudget {
  readonly max: number;
  #seen = 0;

  constructor(max: number) {
    this.max = max;
  }

  spend(file: string, key: string): void {
    if (++this.#seen <= this.max) return;
    throw manifestError(
      file,
      `${key}: the app's files come to more than ${this.max} entries: mount a smaller directory or narrow the glob`,
      { key, max: this.max },
      'E_APP_FILES_LIMIT',
    );
  }
}

/** The mounts of one component's `files`, in the manifest's order; a guest path may appear once. */
export async function lockFiles(mounts: readonly FileMount[], context: FilesContext): Promise<LockedMount[]> {
  const locked: LockedMount[] = [];
  const owners = new Map<string, string>();
  for (const mount of mounts) {
    for (const entry of await lockMount(mount, context)) {
      const owner = owners.get(entry.guestPath);
      if (owner !== undefined) {
        throw manifestError(
          context.file,
          `${mount.key} mounts ${entry.guestPath}, which ${owner} already mounts: give each its own destination`,
          { key: mount.key, guestPath: entry.guestPath },
        );
      }
      owners.set(entry.guestPath, mount.key);
      locked.push(entry);
    }
  }
  return locked;
}

async function lockMount(mount: FileMount, context: FilesContext): Promise<LockedMount[]> {
  if (mount.kind === 'placement') {
    const hostPath = resolve(context.dir, mount.source);
    return [await lockPath(hostPath, mount.destination, `${mount.key}.source`, context)];
  }
  if (hasGlobSyntax(mount.pattern)) return lockGlob(mount.pattern, mount.key, context);
  return [await lockPath(resolve(context.dir, mount.pattern), `/${mount.pattern}`, mount.key, context)];
}

async function lockPath(
  hostPath: string,
  guestPath: string,
  key: string,
  context: FilesContext,
): Promise<LockedMount> {
  const info = await stat(hostPath).catch((error: NodeJS.ErrnoException) => {
    throw missing(context, key, hostPath, error);
  });
  if (info.isDirectory()) {
    return { kind: 'directory', hostPath, guestPath, entries: await listDirectory(hostPath, key, context) };
  }
  if (!info.isFile()) {
    throw manifestError(
      context.file,
      `${key} names ${hostPath}, which is neither a file nor a directory: mount a file or directory`,
      {
        key,
        path: hostPath,
      },
    );
  }
  context.budget.spend(context.file, key);
  return { kind: 'file', hostPath, guestPath, ...(await digestFile(hostPath)) };
}

/** Regular files (digested) and symlinks (their targets) beneath `root`, sorted by path. */
async function listDirectory(
  root: string,
  key: string,
  context: FilesContext,
): Promise<LockedDirectoryEntry[]> {
  const entries: LockedDirectoryEntry[] = [];
  const onEntry = () => context.budget.spend(context.file, key);
  for await (const { path, absolute, dirent } of walk(root, { onEntry })) {
    if (dirent.isFile()) entries.push({ path, ...(await digestFile(absolute)) });
    else if (dirent.isSymbolicLink()) entries.push({ path, symlink: await readlink(absolute) });
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Every file `pattern` matches (symlinks to files included), each at its own path in the guest. */
async function lockGlob(pattern: string, key: string, context: FilesContext): Promise<LockedMount[]> {
  const base = globBase(pattern);
  const root = join(context.dir, ...base);
  const depth = globDepth(pattern);
  const regex = globToRegExp(pattern);
  const prefix = base.length === 0 ? '' : `${base.join('/')}/`;
  const matches: string[] = [];
  const options = {
    maxDepth: depth === undefined ? undefined : depth - base.length,
    onEntry: () => context.budget.spend(context.file, key),
  };
  const exists = await stat(root).then(
    (info) => info.isDirectory(),
    () => false,
  );
  if (exists) {
    for await (const { path, absolute, dirent } of walk(root, options)) {
      if (!regex.test(prefix + path)) continue;
      if (dirent.isFile() || (dirent.isSymbolicLink() && (await isFile(absolute))))
        matches.push(prefix + path);
    }
  }
  if (matches.length === 0) {
    throw manifestError(
      context.file,
      `${key} "${pattern}" matches no files in ${context.dir}: fix the pattern, or remove it`,
      { key, pattern },
      'E_APP_SOURCE_MISSING',
    );
  }
  matches.sort();
  const mounts: LockedMount[] = [];
  for (const path of matches) {
    const hostPath = join(context.dir, path);
    mounts.push({ kind: 'file', hostPath, guestPath: `/${path}`, ...(await digestFile(hostPath)) });
  }
  return mounts;
}

function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isFile(),
    () => false,
  );
}

function missing(context: FilesContext, key: string, path: string, error: NodeJS.ErrnoException): IsolaError {
  const reason =
    error.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error.code ?? error.message})`;
  return manifestError(
    context.file,
    `${key} names ${path}, which ${reason}: create it, or fix the path (relative to the manifest's directory)`,
    { key, path, errno: error.code },
    'E_APP_SOURCE_MISSING',
    error,
  );
}
