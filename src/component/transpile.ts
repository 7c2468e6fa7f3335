/**
 * Deploy-time preparation of a `wasi:http` component: check its world, transpile it with jco into
 * core modules plus JavaScript glue, and compile the core modules once.
 *
 * jco runs with `instantiation: 'sync'`, so the glue imports nothing: it exports
 * `instantiate(getCoreModule, imports, instantiateCore)` and takes every `wasi:*` interface from
 * the `imports` object, which isola fills with its own host (src/component/host/), never
 * preview2-shim. jco is loaded only here, at deploy; the request path needs only the glue file and
 * the compiled modules.
 *
 * jco is pinned to 1.10.2: from 1.11 on its glue builds per-instance async task machinery that
 * costs ~30 ms of interpreted JavaScript per instantiation (against ~0.1 ms), which a fresh
 * instance per request cannot afford.
 *
 * Output lands in `<cacheDir>/<sha256 of the component>/` (`glue.mjs`, the core modules, and
 * `world.json`, written last as the completion marker), so a component is transpiled once per
 * cache, whichever process asks first.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IsolaError } from '../errors.js';
import { importMemory } from '../wasm/import-memory.js';
import { type ComponentWorld, checkComponentWorld, readComponentWorld } from './world.js';

/** The name jco gives the glue's files; core modules are `component.core.wasm`, `component.core2.wasm`, ... */
const JCO_NAME = 'component';
const GLUE_FILE = 'glue.mjs';
const WORLD_FILE = 'world.json';

export interface TranspileOptions {
  /** Directory holding one subdirectory per transpiled component, named by its sha256. */
  cacheDir: string;
}

/** What `world.json` records about a transpiled component. */
interface TranspiledManifest {
  world: ComponentWorld;
  handlerExport: string;
  coreModules: string[];
}

export interface TranspiledComponent extends TranspiledManifest {
  /** sha256 of the component bytes, hex. */
  digest: string;
  directory: string;
  /** `file:` URL of the glue module, for `import()`. */
  glueUrl: string;
  /** Milliseconds jco took; 0 when the cache already held the output. */
  transpileMs: number;
}

/**
 * Checks the component's world, then transpiles it (or finds it in the cache). A component that
 * imports an interface isola does not provide, or exports no `wasi:http/incoming-handler`, is
 * refused before jco runs.
 */
export async function transpileComponent(
  bytes: Uint8Array,
  options: TranspileOptions,
): Promise<TranspiledComponent> {
  const world = readComponentWorld(bytes);
  const handlerExport = checkComponentWorld(world);
  const digest = createHash('sha256').update(bytes).digest('hex');
  const directory = join(options.cacheDir, digest);
  const cached = readManifest(directory);
  if (cached) return describe(digest, directory, cached, 0);

  const started = performance.now();
  const { transpile } = await import('@bytecodealliance/jco');
  let files: Record<string, Uint8Array>;
  try {
    ({ files } = await transpile(bytes, {
      name: JCO_NAME,
      instantiation: 'sync',
      noTypescript: true,
      // Every core module as its own file, none inlined into the glue as base64.
      base64Cutoff: 0,
    } as Parameters<typeof transpile>[1]));
  } catch (error) {
    throw new IsolaError(
      'E_MODULE_INVALID',
      `jco could not transpile the component: ${(error as Error).message}: check that it validates ` +
        '(wasm-tools validate) and targets WASI 0.2',
      { digest },
      { cause: error },
    );
  }
  const transpileMs = performance.now() - started;
  const manifest: TranspiledManifest = { world, handlerExport, coreModules: [] };
  const staging = `${directory}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  mkdirSync(staging, { recursive: true });
  try {
    for (const [name, content] of Object.entries(files)) {
      if (name === `${JCO_NAME}.js`) writeFileSync(join(staging, GLUE_FILE), content);
      else if (name.endsWith('.wasm') && !name.includes('/')) {
        writeFileSync(join(staging, name), content);
        manifest.coreModules.push(name);
      }
    }
    if (!existsSync(join(staging, GLUE_FILE))) {
      throw new IsolaError('E_INTERNAL', `jco produced no ${JCO_NAME}.js glue`, {
        files: Object.keys(files),
      });
    }
    writeFileSync(join(staging, WORLD_FILE), JSON.stringify(manifest));
    publish(staging, directory);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return describe(digest, directory, manifest, transpileMs);
}

function describe(
  digest: string,
  directory: string,
  manifest: TranspiledManifest,
  transpileMs: number,
): TranspiledComponent {
  const glueUrl = pathToFileURL(join(directory, GLUE_FILE)).href;
  return { ...manifest, digest, directory, glueUrl, transpileMs };
}

function readManifest(directory: string): TranspiledManifest | undefined {
  try {
    return JSON.parse(readFileSync(join(directory, WORLD_FILE), 'utf8')) as TranspiledManifest;
  } catch {
    return undefined;
  }
}

/** Moves a complete staging directory into place; a concurrent deploy that got there first wins. */
function publish(staging: string, directory: string): void {
  try {
    renameSync(staging, directory);
  } catch (error) {
    if (readManifest(directory)) return;
    // A directory left incomplete by a crashed deploy: replace it.
    rmSync(directory, { recursive: true, force: true });
    try {
      renameSync(staging, directory);
    } catch {
      throw new IsolaError(
        'E_INTERNAL',
        `could not write the transpiled component to ${directory}`,
        {},
        {
          cause: error,
        },
      );
    }
  }
}

/** A core module's memory, imported as `isola.memory` so each instance can be handed a pooled one. */
export interface CoreMemory {
  minPages: number;
  maxPages: number | undefined;
}

/**
 * Everything a thread needs to run the component, and nothing it must not share: the compiled
 * core modules (a `WebAssembly.Module` posts to a worker without copying its code) and the glue's
 * URL (each thread imports it once). Structured-cloneable.
 */
export interface CompiledComponent {
  digest: string;
  glueUrl: string;
  handlerExport: string;
  modules: Record<string, WebAssembly.Module>;
  /** Core modules whose memory was rewritten into an import, by file name. */
  memories: Record<string, CoreMemory>;
}

/**
 * Compiles the transpiled core modules, each defined memory rewritten into an `isola.memory`
 * import (src/wasm/import-memory.ts), so that run.ts can hand every fresh instance a recycled,
 * zeroed memory with the app's limit as its maximum.
 */
export async function compileComponent(transpiled: TranspiledComponent): Promise<CompiledComponent> {
  const modules: Record<string, WebAssembly.Module> = {};
  const memories: Record<string, CoreMemory> = {};
  await Promise.all(
    transpiled.coreModules.map(async (name) => {
      const original = new Uint8Array(readFileSync(join(transpiled.directory, name)));
      const { bytes, memory } = importMemory(original);
      if (memory && bytes !== original)
        memories[name] = { minPages: memory.minPages, maxPages: memory.maxPages };
      try {
        modules[name] = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
      } catch (error) {
        throw new IsolaError(
          'E_MODULE_INVALID',
          `core module ${name} of component ${transpiled.digest} does not compile: ${(error as Error).message}`,
          { digest: transpiled.digest, module: name },
          { cause: error },
        );
      }
    }),
  );
  return {
    digest: transpiled.digest,
    glueUrl: transpiled.glueUrl,
    handlerExport: transpiled.handlerExport,
    modules,
    memories,
  };
}
