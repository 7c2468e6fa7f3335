/**
 * Language runtimes prepared for isola: interpreters compiled to WebAssembly, made ready to serve
 * an app's requests (pre-initialized with the app loaded where that pays), and the registry that
 * maps a manifest's `runtime = "..."` to one.
 */
export {
  JAVASCRIPT_COMMAND,
  JAVASCRIPT_DEFAULTS,
  JAVASCRIPT_EXTENSIONS,
  type JavaScriptAppOptions,
  javaScriptModulePath,
  prepareJavaScript,
} from './javascript.js';
export { PYTHON_DEFAULTS, type PythonAppOptions, preparePython } from './python.js';
export { type ScriptRuntimeSupport, scriptRuntime, scriptRuntimes } from './registry.js';
export { prepareRuby, RUBY_DEFAULTS, type RubyAppOptions } from './ruby.js';
