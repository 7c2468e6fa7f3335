/** Finding and reading a manifest file. */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { IsolaError } from '../errors.js';
import type { Manifest } from './manifest.js';
import { parseManifest } from './parse.js';

/** File names looked for in a directory, in this order. */
export const MANIFEST_FILE_NAMES = Object.freeze(['isola.toml', 'spin.toml']);

/** Bytes a manifest may have; a larger file is not a manifest someone wrote. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/**
 * The absolute path of the manifest `path` names: the file itself, or, for a directory, its
 * isola.toml or else its spin.toml. Throws E_MANIFEST_READ naming what was looked for.
 */
export async function findManifest(path: string): Promise<string> {
  const absolute = resolve(path);
  const info = await stat(absolute).catch((error: NodeJS.ErrnoException) => {
    throw readError(absolute, error);
  });
  if (!info.isDirectory()) return absolute;
  for (const name of MANIFEST_FILE_NAMES) {
    const candidate = join(absolute, name);
    if (
      await stat(candidate).then(
        (entry) => entry.isFile(),
        () => false,
      )
    )
      return candidate;
  }
  throw new IsolaError(
    'E_MANIFEST_READ',
    `${absolute} holds no ${MANIFEST_FILE_NAMES.join(' or ')}: create one (see the README) or pass the manifest's path`,
    { path: absolute },
  );
}

/** Reads and parses the manifest at `path` (a file, or a directory holding one). */
export async function readManifest(path: string): Promise<{ path: string; manifest: Manifest }> {
  const file = await findManifest(path);
  const info = await stat(file);
  if (info.size > MAX_MANIFEST_BYTES) {
    throw new IsolaError(
      'E_MANIFEST_READ',
      `${file} is ${info.size} bytes, more than a manifest may have (${MAX_MANIFEST_BYTES}): pass the manifest, not another file`,
      { path: file, size: info.size },
    );
  }
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw readError(file, error);
  });
  return { path: file, manifest: parseManifest(text, file) };
}

function readError(path: string, error: NodeJS.ErrnoException): IsolaError {
  const reason =
    error.code === 'ENOENT'
      ? 'no such file or directory: check the path'
      : error.code === 'EACCES'
        ? 'permission denied: make it readable'
        : `${error.code ?? error.message}: check the path`;
  return new IsolaError(
    'E_MANIFEST_READ',
    `cannot read manifest ${path}: ${reason}`,
    { path, errno: error.code },
    { cause: error },
  );
}
