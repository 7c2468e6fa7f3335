/**
 * Guest path resolution shared by every filesystem. A guest path is resolved component by
 * component from a directory descriptor, the way wasmtime (cap-std) does it:
 *
 * - every directory descriptor is a sandbox root of its own: `..` may climb back up to it but
 *   never above it, and an absolute path or an absolute symlink target is an escape (EPERM, what
 *   wasmtime returns; wasi-testsuite `interesting_paths` accepts EPERM or ENOTCAPABLE);
 * - `..` is applied lexically to the stack of directories walked so far, never by asking the host
 *   for a parent, so a directory moved or swapped underneath cannot lead outside;
 * - symlinks in the middle of a path are always followed, by splicing their target into the
 *   components still to walk; the last one only when the operation follows (or the path ends in
 *   a slash); at most `limits.maxSymlinkFollows` of them, then ELOOP (Linux's MAXSYMLINKS);
 * - a trailing slash (or a last component `.`/`..`) means the path must name a directory.
 *
 * A filesystem supplies a `DirectoryWalker` (how to step into a directory) and the last step
 * itself; this module owns the walk.
 */
import type { WasiLimits } from '../../limits.js';
import { Errno } from '../defs.js';
import { fail } from '../errno.js';

/** Linux's NAME_MAX: the longest single component, in bytes. */
const NAME_MAX_BYTES = 255;

export interface ParsedPath {
  /** Components to walk, `.` and empty ones removed, `..` kept. */
  components: string[];
  /** The path ended in `/`, `/.` or `/..`: it must name a directory. */
  mustBeDirectory: boolean;
}

/**
 * Splits a guest path. Empty → ENOENT (as open("") on Linux), NUL → EINVAL, absolute → EPERM,
 * longer than `maxPathBytes` UTF-8 bytes or a component longer than NAME_MAX → ENAMETOOLONG.
 */
export function parseGuestPath(path: string, maxPathBytes: number): ParsedPath {
  if (path.length === 0) fail(Errno.NOENT);
  if (Buffer.byteLength(path, 'utf8') > maxPathBytes) fail(Errno.NAMETOOLONG);
  if (path.includes('\0')) fail(Errno.INVAL);
  if (path.startsWith('/')) fail(Errno.PERM);
  const raw = path.split('/');
  const components: string[] = [];
  for (const part of raw) {
    if (part === '' || part === '.') continue;
    if (part.length > NAME_MAX_BYTES / 3 && Buffer.byteLength(part, 'utf8') > NAME_MAX_BYTES) {
      fail(Errno.NAMETOOLONG);
    }
    components.push(part);
  }
  const last = raw[raw.length - 1];
  return { components, mustBeDirectory: last === '' || last === '.' || last === '..' };
}

/** What one step into a directory found. Missing entries and non-directories throw instead. */
export type Step<D> = { kind: 'directory'; dir: D } | { kind: 'symlink'; target: string };

export interface DirectoryWalker<D> {
  /**
   * Looks `name` (never `.`, `..` or containing `/`) up in `dir` without following a symlink.
   * Throws ENOENT when missing and ENOTDIR when it is neither a directory nor a symlink.
   */
  step(dir: D, name: string): Step<D>;
  /** Releases a directory `step` returned (closes its host fd). */
  release(dir: D): void;
}

/** Returned by a last step to ask the walk to follow a symlink it met there. */
export class FollowSymlink {
  readonly target: string;
  constructor(target: string) {
    this.target = target;
  }
}

/**
 * The operation on the last component. `name` is null when the path names `dir` itself
 * (`.`, `a/..`). Return a `FollowSymlink` to continue the walk through a symlink's target.
 */
export type LastStep<D, T> = (dir: D, name: string | null, mustBeDirectory: boolean) => T | FollowSymlink;

/**
 * Walks `path` from `start` and runs `last` on its final component. Directories opened on the way
 * are released before returning, whatever happens.
 */
export function walkPath<D, T>(
  walker: DirectoryWalker<D>,
  start: D,
  path: string,
  limits: WasiLimits,
  last: LastStep<D, T>,
): T {
  const parsed = parseGuestPath(path, limits.maxPathBytes);
  const stack: D[] = [start];
  // Components still to walk, next one at the end (so symlink targets splice in with a push).
  const pending = parsed.components.reverse();
  let mustBeDirectory = parsed.mustBeDirectory;
  let follows = 0;
  const splice = (target: string, atEnd: boolean): void => {
    follows += 1;
    if (follows > limits.maxSymlinkFollows) fail(Errno.LOOP);
    const spliced = parseSymlinkTarget(target, limits);
    if (atEnd) mustBeDirectory = mustBeDirectory || spliced.mustBeDirectory;
    for (let i = spliced.components.length - 1; i >= 0; i--) pending.push(spliced.components[i]!);
  };
  try {
    for (;;) {
      const top = stack[stack.length - 1]!;
      const name = pending.pop();
      if (name === undefined) return settle(last(top, null, true));
      if (name === '..') {
        // Lexical `..`: the start directory is the sandbox root (cap-std: escape → EPERM).
        if (stack.length === 1) fail(Errno.PERM);
        walker.release(stack.pop()!);
        continue;
      }
      if (pending.length === 0) {
        const result = last(top, name, mustBeDirectory);
        if (!(result instanceof FollowSymlink)) return result;
        splice(result.target, true);
        continue;
      }
      const step = walker.step(top, name);
      if (step.kind === 'directory') stack.push(step.dir);
      else splice(step.target, false);
    }
  } finally {
    for (let i = stack.length - 1; i > 0; i--) walker.release(stack[i]!);
  }
}

/** A last step that names the start directory itself cannot ask to follow anything. */
function settle<T>(result: T | FollowSymlink): T {
  if (result instanceof FollowSymlink) throw new Error('a directory itself is not a symlink');
  return result;
}

/** Parses a symlink's target for splicing: empty → ENOENT, absolute → EPERM (never followed). */
export function parseSymlinkTarget(target: string, limits: WasiLimits): ParsedPath {
  const parsed = parseGuestPath(target, limits.maxPathBytes);
  // A target of only `.`s names the directory holding the link: still a directory.
  if (parsed.components.length === 0) parsed.mustBeDirectory = true;
  return parsed;
}

/**
 * Validates a target given to path_symlink. It is stored verbatim; an absolute one is refused up
 * front as wasmtime does (cap-std: "creating symlinks to absolute paths would leak information
 * about the host"; wasi-testsuite `symlink_create` expects `path_symlink("/", ...)` to fail).
 */
export function checkSymlinkTarget(target: string, limits: WasiLimits): void {
  if (target.length === 0) fail(Errno.NOENT);
  if (Buffer.byteLength(target, 'utf8') > limits.maxPathBytes) fail(Errno.NAMETOOLONG);
  if (target.includes('\0')) fail(Errno.INVAL);
  if (target.startsWith('/')) fail(Errno.PERM);
}
