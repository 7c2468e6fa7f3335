/**
 * JavaScript → a WASI 0.2 component exporting `wasi:http/incoming-handler`, with
 * `@bytecodealliance/componentize-js` (its StarlingMonkey engine answers the fetch events the
 * source registers with `addEventListener('fetch', ...)`).
 *
 * componentize-js needs a WIT world. isola assembles one per build:
 * - the WASI 0.2 WIT that ships inside componentize-js's own jco (`lib/wit/builtin/0.2.x`),
 *   relabelled to the WASI 0.2 patch version the engine exports its handler at: 0.2.x patch
 *   releases share their declarations, and the world's export must match the engine's export name
 *   exactly;
 * - isola's own WIT packages (`wit/`: `wasi:keyvalue`, `wasi:config`), for the sources that import
 *   one of their interfaces;
 * - a world that exports the handler and imports every `wasi:` interface the sources import
 *   (`import { getDirectories } from 'wasi:filesystem/preopens@0.2.10'`), each checked against
 *   what isola provides before componentize-js runs.
 *
 * `planJavaScriptComponent` reads the sources and assembles the WIT; `buildJavaScriptComponent`
 * checks the sources' syntax and runs componentize-js (~5-15 s); `componentizeJavaScript` does
 * both and writes the component.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IsolaError } from '../errors.js';
import { PROVIDED_INTERFACES, splitVersion } from './world.js';

/** isola's own WIT packages, `wit/` at the package root (two folders up from src/component and dist/component). */
const ISOLA_WIT_DIR = fileURLToPath(new URL('../../wit/', import.meta.url));

/** The WASI packages of jco's WIT the world's imports and export are declared in (`wasi-<name>`). */
const WASI_PACKAGES = ['cli', 'clocks', 'filesystem', 'http', 'io', 'random', 'sockets'] as const;

const WORLD_NAME = 'http-handler';
/** How long `node --check` may take over one source file. */
const SYNTAX_CHECK_TIMEOUT_MS = 30_000;

export interface ComponentizeOptions {
  /** The handler: an ES module; it may import modules by relative path and `wasi:` interfaces. */
  sourcePath: string;
  /** Where the component is written; default: the source's path with `.wasm` for its extension. */
  outPath?: string;
}

export interface ComponentizeResult {
  /** The absolute path the component was written to. */
  outPath: string;
  byteLength: number;
  /** The `wasi:` interfaces the sources import, as the component's world imports them. */
  imports: readonly string[];
  /** The handler export, e.g. `wasi:http/incoming-handler@0.2.10`. */
  export: string;
}

/** What a build reads and writes, known before componentize-js runs (the component fixtures hash it). */
export interface JavaScriptComponentPlan {
  /** The entry module, absolute. */
  sourcePath: string;
  /** The entry and every module it reaches by relative imports: absolute path → text. */
  sources: ReadonlyMap<string, string>;
  /** The `wasi:` interfaces the sources import, versioned. */
  imports: readonly string[];
  /** The world's export, `wasi:http/incoming-handler@<the engine's WASI version>`. */
  export: string;
  componentizeJsVersion: string;
  /** The WIT directory's files: path relative to it → text (`world.wit`, `deps/<package>/package.wit`). */
  wit: ReadonlyMap<string, string>;
}

/** Builds `sourcePath` into a component and writes it to `outPath` (atomically: a temporary file renamed). */
export async function componentizeJavaScript(options: ComponentizeOptions): Promise<ComponentizeResult> {
  const plan = await planJavaScriptComponent(options.sourcePath);
  const outPath = resolve(options.outPath ?? defaultOutPath(plan.sourcePath));
  const component = await buildJavaScriptComponent(plan);
  await writeAtomically(outPath, component);
  return { outPath, byteLength: component.byteLength, imports: plan.imports, export: plan.export };
}

/** `src/index.js` → `src/index.wasm`. */
function defaultOutPath(sourcePath: string): string {
  const extension = extname(sourcePath);
  return `${extension === '' ? sourcePath : sourcePath.slice(0, -extension.length)}.wasm`;
}

/**
 * Reads the source and the modules it imports by relative path, checks the `wasi:` interfaces
 * they import against what isola provides, and assembles the WIT for componentize-js.
 */
export async function planJavaScriptComponent(sourcePath: string): Promise<JavaScriptComponentPlan> {
  const entry = resolve(sourcePath);
  const sources = await readSources(entry);
  const toolchain = findToolchain();
  const isolaPackages = readIsolaPackages();
  const imports = [...new Set([...sources.values()].flatMap(wasiImports))];
  checkImports(entry, imports, toolchain.wasiVersion, isolaPackages);
  const handler = `wasi:http/incoming-handler@${toolchain.wasiVersion}`;
  const wit = new Map<string, string>([['world.wit', worldWit(imports, handler)]]);
  for (const name of WASI_PACKAGES) {
    const text = readFileSync(join(toolchain.witSnapshot, `wasi-${name}`, 'package.wit'), 'utf8');
    wit.set(
      `deps/wasi-${name}/package.wit`,
      text.replaceAll(toolchain.witVersionSuffix, `@${toolchain.wasiVersion}`),
    );
  }
  for (const pkg of isolaPackages) {
    if (imports.some((name) => pkg.interfaces.includes(name)))
      wit.set(`deps/${pkg.dir}/package.wit`, pkg.wit);
  }
  return {
    sourcePath: entry,
    sources,
    imports,
    export: handler,
    componentizeJsVersion: toolchain.componentizeJsVersion,
    wit,
  };
}

/** Checks the sources' syntax, then runs componentize-js; resolves to the component's bytes. */
export async function buildJavaScriptComponent(plan: JavaScriptComponentPlan): Promise<Uint8Array> {
  for (const [path, text] of plan.sources) await checkSyntax(path, text);
  const witDir = await mkdtemp(join(tmpdir(), 'isola-wit-'));
  try {
    for (const [path, text] of plan.wit) {
      await mkdir(dirname(join(witDir, path)), { recursive: true });
      await writeFile(join(witDir, path), text);
    }
    const { componentize } = await import('@bytecodealliance/componentize-js');
    try {
      const { component } = await componentize({
        sourcePath: plan.sourcePath,
        witPath: witDir,
        worldName: WORLD_NAME,
      });
      return component;
    } catch (error) {
      throw new IsolaError(
        'E_COMPONENT_BUILD',
        `componentize-js could not build ${plan.sourcePath}:\n${componentizeReport(error)}\n` +
          `fix the error above in ${plan.sourcePath} (or a module it imports); the handler must call ` +
          "addEventListener('fetch', (event) => event.respondWith(...)) and may import only modules " +
          'by relative path and wasi: interfaces',
        { source: plan.sourcePath },
        { cause: error },
      );
    }
  } finally {
    await rm(witDir, { recursive: true, force: true });
  }
}

/**
 * componentize-js's message without its stack or the path of the wizer binary it ran; wizer's
 * report of an exception at the top level already names the file and line.
 */
function componentizeReport(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.trim().replace(/^Failed to initialize component \(wizer [^\n]*\):\n/, '');
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // Renamed into place, so a server watching the path never reads half a component.
  const temporary = `${path}.${process.pid}-${Date.now()}.tmp`;
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new IsolaError(
      'E_COMPONENT_BUILD',
      `cannot write the component to ${path} (${(error as Error).message}): choose a writable path with -o`,
      { path },
      { cause: error },
    );
  }
}

/** The entry module and every module reachable from it by a static relative import. */
async function readSources(entry: string): Promise<Map<string, string>> {
  const sources = new Map<string, string>([[entry, await readSource(entry, entry)]]);
  const pending = [entry];
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    for (const specifier of moduleSpecifiers(sources.get(path) as string)) {
      if (!specifier.startsWith('./') && !specifier.startsWith('../')) continue;
      const imported = resolve(dirname(path), specifier);
      // A missing module is left to componentize-js, which reports it with the importing file.
      if (sources.has(imported) || !existsSync(imported)) continue;
      sources.set(imported, await readSource(imported, entry));
      pending.push(imported);
    }
  }
  return sources;
}

async function readSource(path: string, entry: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file: check the path'
        : code === 'EISDIR'
          ? 'is a directory: pass the JavaScript file that registers the fetch handler'
          : `cannot be read (${(error as Error).message}): make it readable`;
    const via = path === entry ? '' : ` (imported by ${entry} or a module it imports)`;
    throw new IsolaError(
      'E_COMPONENT_SOURCE_READ',
      `${path}${via}: ${why}`,
      { path, errno: code },
      { cause: error },
    );
  }
}

/** The specifiers of a module's static imports and re-exports (`from '...'`, `import '...'`). */
function moduleSpecifiers(source: string): string[] {
  const specifiers: string[] = [];
  for (const match of source.matchAll(/(?:\bfrom|\bimport)\s*['"]([^'"\n]+)['"]/g)) {
    specifiers.push(match[1] as string);
  }
  return specifiers;
}

/** The `wasi:` interfaces a module imports, as written (`wasi:filesystem/preopens@0.2.10`). */
function wasiImports(source: string): string[] {
  return moduleSpecifiers(source).filter((specifier) => specifier.startsWith('wasi:'));
}

interface IsolaPackage {
  /** The directory under `wit/`. */
  dir: string;
  wit: string;
  /** Its interfaces, versioned: `wasi:keyvalue/store@0.2.0-draft2`. */
  interfaces: string[];
}

/** isola's WIT packages (`wit/<dir>/package.wit`) with the interfaces each declares. */
function readIsolaPackages(): IsolaPackage[] {
  const packages: IsolaPackage[] = [];
  for (const dir of readdirSync(ISOLA_WIT_DIR)) {
    const path = join(ISOLA_WIT_DIR, dir, 'package.wit');
    if (!existsSync(path)) continue;
    const wit = readFileSync(path, 'utf8');
    const declared = /^package\s+([a-z0-9-]+:[a-z0-9-]+)@([^;\s]+);/m.exec(wit);
    if (declared === null) throw internal(`${path} declares no versioned package`);
    const interfaces = [...wit.matchAll(/^interface\s+([a-z0-9-]+)\s*\{/gm)].map(
      (match) => `${declared[1]}/${match[1]}@${declared[2]}`,
    );
    packages.push({ dir, wit, interfaces });
  }
  return packages;
}

/**
 * Refuses imports isola cannot serve, every one named with the spelling to use: an interface isola
 * does not provide, or a provided one at another version than the world declares it.
 */
function checkImports(
  entry: string,
  imports: readonly string[],
  wasiVersion: string,
  isolaPackages: readonly IsolaPackage[],
): void {
  // Unversioned name → the import's spelling: WASI 0.2 at the engine's version, isola's WIT at its own.
  const provided = new Map<string, string>();
  for (const name of PROVIDED_INTERFACES.keys()) provided.set(name, `${name}@${wasiVersion}`);
  for (const pkg of isolaPackages) {
    for (const name of pkg.interfaces) provided.set(splitVersion(name).interface, name);
  }
  const problems: string[] = [];
  for (const name of imports) {
    const expected = provided.get(splitVersion(name).interface);
    if (expected === undefined) problems.push(`${name} (isola does not provide it)`);
    else if (expected !== name) problems.push(`${name} (import it as '${expected}')`);
  }
  if (problems.length === 0) return;
  throw new IsolaError(
    'E_COMPONENT_IMPORT_UNKNOWN',
    `${entry} imports ${problems.length === 1 ? 'an interface' : 'interfaces'} isola cannot serve: ` +
      `${problems.join(', ')}. isola provides ${[...provided.values()].join(', ')}: change the import ` +
      'or remove it',
    { source: entry, imports: [...imports], provided: [...provided.values()] },
  );
}

function worldWit(imports: readonly string[], handler: string): string {
  return [
    'package isola:componentize;',
    '',
    `world ${WORLD_NAME} {`,
    ...imports.map((name) => `  import ${name};`),
    `  export ${handler};`,
    '}',
    '',
  ].join('\n');
}

/**
 * Checks a module's syntax with Node's parser (`node --check`), which, unlike componentize-js's
 * "failed to parse JS source", says where and what: `index.js:3: SyntaxError: ...` and the line.
 */
async function checkSyntax(path: string, text: string): Promise<void> {
  const report = await new Promise<string | undefined>((resolveCheck, reject) => {
    const child = spawn(process.execPath, ['--check', '--input-type=module'], {
      env: {},
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: SYNTAX_CHECK_TIMEOUT_MS,
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolveCheck(code === 0 ? undefined : stderr));
    child.stdin.on('error', () => {}); // the child may exit before reading all of a broken module
    child.stdin.end(text);
  });
  if (report === undefined) return;
  const [location = '', ...rest] = report.split('\n');
  const line = /^\[stdin\]:(\d+)/.exec(location)?.[1];
  const errorLine = rest.findIndex((entry) => /^\w*Error\b/.test(entry));
  const excerpt = rest.slice(0, Math.max(errorLine, 0)).filter((entry) => entry.trim() !== '');
  const error = errorLine < 0 ? report.trim() : (rest[errorLine] as string);
  const where = relative(process.cwd(), path) || path;
  throw new IsolaError(
    'E_COMPONENT_BUILD',
    `${where}${line === undefined ? '' : `:${line}`}: ${error}\n${excerpt.join('\n')}\n` +
      `fix the syntax error in ${where} and build again`,
    { source: path, line: line === undefined ? undefined : Number(line) },
  );
}

interface Toolchain {
  componentizeJsVersion: string;
  /** The WASI 0.2 patch version the engine exports its handler at. */
  wasiVersion: string;
  /** jco's `lib/wit/builtin/0.2.x`, the newest snapshot with wasi:http. */
  witSnapshot: string;
  /** `@0.2.x` as the snapshot spells its versions. */
  witVersionSuffix: string;
}

/** componentize-js as installed: its version, its engine's WASI version, and its jco's WIT. */
function findToolchain(): Toolchain {
  const entry = fileURLToPath(import.meta.resolve('@bytecodealliance/componentize-js'));
  const root = packageRoot(entry);
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const engine = readFileSync(join(root, 'lib/starlingmonkey_embedding.wasm'));
  const wasiVersion = /wasi:http\/incoming-handler@(0\.2\.\d+)/.exec(engine.toString('latin1'))?.[1];
  if (wasiVersion === undefined) {
    throw internal(`cannot tell which WASI 0.2 version componentize-js ${version} (${root}) targets`);
  }
  const builtin = jcoWitDirectory(root);
  const [snapshot] = readdirSync(builtin)
    .filter((dir) => /^0\.2\.\d+$/.test(dir) && existsSync(join(builtin, dir, 'wasi-http')))
    .sort((a, b) => Number(b.split('.')[2]) - Number(a.split('.')[2]));
  if (snapshot === undefined) throw internal(`no WASI 0.2 WIT with wasi:http in ${builtin}`);
  return {
    componentizeJsVersion: version,
    wasiVersion,
    witSnapshot: join(builtin, snapshot),
    witVersionSuffix: `@${snapshot}`,
  };
}

/**
 * jco's `lib/wit/builtin`, from the jco that componentize-js depends on (isola's own jco 1.10.2
 * ships no WIT), found the way Node resolves componentize-js's import of it.
 */
function jcoWitDirectory(componentizeRoot: string): string {
  for (let dir = componentizeRoot; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules/@bytecodealliance/jco/lib/wit/builtin');
    if (existsSync(candidate)) return candidate;
  }
  throw internal(`jco's WIT (lib/wit/builtin) was not found above ${componentizeRoot}`);
}

function packageRoot(entry: string): string {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw internal(`no package.json above ${entry}`);
}

function internal(what: string): IsolaError {
  return new IsolaError('E_INTERNAL', `${what}: reinstall isola's dependencies (npm ci)`);
}
