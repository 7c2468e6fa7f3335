/**
 * Language runtimes prepared for isola: interpreters compiled to WebAssembly, made ready to serve
 * an app's requests (pre-initialized with the app loaded).
 */
export { PYTHON_DEFAULTS, type PythonAppOptions, preparePython } from './python.js';
