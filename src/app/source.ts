/**
 * Resolves a component's `source`: the file must exist and be a WebAssembly core module or a WASI
 * 0.2 component; its bytes are digested, and its exports read so that the executor can be chosen
 * (and a missing entry point, or a component isola cannot serve, refused) at lock, before
 * anything runs.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { checkComponentWorld, readComponentWorld } from '../component/world.js';
import { isIsolaError } from '../errors.js';
import type { ComponentManifest } from '../manifest/manifest.js';
import { manifestError } from '../manifest/manifest-error.js';
import { ByteReader, readSections, SectionId } from '../wasm/binary-reader.js';
import { readHeader } from '../wasm/module-info.js';
import { digestBytes } from './digest.js';
import type { LockedSource } from './locked.js';

export interface SourceContext {
  file: string;
  dir: string;
  /** Bytes a component's .wasm file may have. */
  maxSourceBytes: number;
}

export interface ResolvedSource {
  source: LockedSource;
  /** Names of the module's exported functions (none for a component). */
  functionExports: ReadonlySet<string>;
  /** For a WASI 0.2 component: its `wasi:http/incoming-handler` export, checked with its imports. */
  httpHandler?: string;
}

/** The export kind of a function (binary/modules.html#export-section). */
const EXPORT_FUNCTION = 0x00;

export async function lockSource(
  component: ComponentManifest,
  context: SourceContext,
): Promise<ResolvedSource> {
  const key = `component.${component.name}.source`;
  const path = resolve(context.dir, component.source);
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw missingSource(component, context, path, error);
  });
  if (!info.isFile()) {
    throw manifestError(
      context.file,
      `${key} names ${path}, which is not a file: name the component's .wasm file`,
      {
        key,
        path,
      },
    );
  }
  if (info.size > context.maxSourceBytes) {
    throw manifestError(
      context.file,
      `${key} names ${path}, ${info.size} bytes, more than a component may have (${context.maxSourceBytes}): build a smaller module`,
      { key, path, size: info.size, max: context.maxSourceBytes },
      'E_APP_FILES_LIMIT',
    );
  }
  const bytes = new Uint8Array(await readFile(path));
  const source = { path, ...digestBytes(bytes) };
  const handler = inspectComponent(bytes, key, path, context.file);
  if (handler !== undefined) return { source, functionExports: new Set(), httpHandler: handler };
  return { source, functionExports: inspect(bytes, key, path, context.file) };
}

/**
 * For a component: its handler export, once its imports are all ones isola provides (each one it
 * does not is named) and it exports `wasi:http/incoming-handler@0.2.x`. Undefined for a core module.
 */
function inspectComponent(bytes: Uint8Array, key: string, path: string, file: string): string | undefined {
  try {
    if (readHeader(bytes).layer !== 'component') return undefined;
    return checkComponentWorld(readComponentWorld(bytes));
  } catch (error) {
    if (!isIsolaError(error)) throw error;
    throw manifestError(
      file,
      `${key} names ${path}: ${error.message}`,
      { key, path, ...error.details },
      error.code,
      error,
    );
  }
}

/** A core module's exported function names. */
function inspect(bytes: Uint8Array, key: string, path: string, file: string): Set<string> {
  try {
    return readFunctionExports(bytes);
  } catch (error) {
    if (!isIsolaError(error) || error.details.manifest !== undefined) throw error;
    throw manifestError(
      file,
      `${key} names ${path}: ${error.message}`,
      { key, path, ...error.details },
      error.code,
      error,
    );
  }
}

function readFunctionExports(bytes: Uint8Array): Set<string> {
  const names = new Set<string>();
  const section = readSections(bytes).find((entry) => entry.id === SectionId.EXPORT);
  if (section === undefined) return names;
  const reader = new ByteReader(bytes, section.contentStart, section.end);
  for (let count = reader.unsigned(); count > 0; count--) {
    const name = reader.name();
    const kind = reader.byte();
    reader.unsigned();
    if (kind === EXPORT_FUNCTION) names.add(name);
  }
  return names;
}

function missingSource(
  component: ComponentManifest,
  context: SourceContext,
  path: string,
  error: NodeJS.ErrnoException,
) {
  const key = `component.${component.name}.source`;
  const reason =
    error.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error.code ?? error.message})`;
  const fix =
    component.build !== undefined
      ? `build it first (its [component.${component.name}.build] command makes it), or fix the path`
      : "fix the path (relative to the manifest's directory), or build the module there";
  return manifestError(
    context.file,
    `${key} names ${path}, which ${reason}: ${fix}`,
    { key, path, errno: error.code },
    'E_APP_SOURCE_MISSING',
    error,
  );
}
