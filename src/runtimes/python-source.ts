/**
 * The Python half of a pre-initialized CPython (see python.ts): a module `_isola` that the
 * snapshot's initialization installs, and the one-line calls into it that the added Wasm
 * functions run with `PyRun_SimpleStringFlags` in `__main__`'s namespace. Neither line binds a
 * name there, so the script a request runs finds `__main__` as CPython leaves it.
 */

/**
 * `_isola`: `initialize` runs once, inside the snapshot's initialization; `resume` runs once per
 * request, in a fresh instance of the snapshot, and never returns (it ends with `os._exit`).
 */
const ISOLA_MODULE = `
"""isola's entry points in a pre-initialized CPython (src/runtimes/python.ts in isola)."""
import atexit
import errno
import io
import os
import sys
from importlib.machinery import SourceFileLoader

_app_dir = None


def initialize(app_dir, preload, preload_stdlib_imports, check_syntax):
    global _app_dir
    _app_dir = app_dir
    # CPython started without a script, so sys.path[0] is '' (the directory of <stdin>); a
    # request's script directory takes its place, and the app directory stands in until then.
    if sys.path and sys.path[0] == '':
        sys.path[0] = app_dir
    else:
        sys.path.insert(0, app_dir)
    import importlib
    for name in preload:
        importlib.import_module(name)
    if preload_stdlib_imports:
        for name in _stdlib_imports(app_dir):
            try:
                importlib.import_module(name)
            except Exception:
                pass  # not in this build (ssl), or a name imported from a module, not a module
    if check_syntax:
        _check_syntax(app_dir)
    _install_helper()
    # The first compile() builds CPython's AST types (PyAST_Check), about 10 ms here: once,
    # now, rather than in every request.
    compile('pass', '<isola>', 'exec')
    sys.stdout.flush()
    sys.stderr.flush()


def _stdlib_imports(app_dir, max_files=1000):
    """Standard-library modules the app's .py files import anywhere, and names imported from them."""
    import ast
    names = set()
    for path in _python_files(app_dir, max_files):
        try:
            with open(path, 'rb') as file:
                tree = ast.parse(file.read())
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
                # \`from urllib import parse\` imports a submodule.
                names.update(f'{node.module}.{alias.name}' for alias in node.names if alias.name != '*')
    return sorted(
        name for name in names
        if name.partition('.')[0] in sys.stdlib_module_names and name not in _IMPORT_EFFECTS
    )


def _check_syntax(app_dir):
    """Refuses the app at deploy, rather than at a request, if one of its .py files does not compile."""
    for path in _python_files(app_dir, 1000):
        try:
            with open(path, 'rb') as file:
                compile(file.read(), path, 'exec', dont_inherit=True)
        except SyntaxError as error:
            raise SyntaxError(f'{error.msg} ({path}, line {error.lineno})') from None
        except (OSError, ValueError):
            pass


_HELPER = '''
"""Helpers for scripts that isola serves CGI-style: the request as an object, a JSON answer."""
import json as _json
import os as _os
import sys as _sys
from urllib.parse import parse_qs as _parse_qs


class Request:
    """This request: method, path (PATH_INFO), query, headers, route params, and its body."""

    def __init__(self):
        env = _os.environ
        self.method = env.get('REQUEST_METHOD', 'GET')
        self.path = env.get('PATH_INFO', '')
        query = _parse_qs(env.get('QUERY_STRING', ''), keep_blank_values=True)
        self.query = {name: values[0] if len(values) == 1 else values for name, values in query.items()}
        self.headers = {
            name[5:].lower().replace('_', '-'): value for name, value in env.items() if name.startswith('HTTP_')
        }
        if 'CONTENT_TYPE' in env:
            self.headers['content-type'] = env['CONTENT_TYPE']
        self.params = {
            name[13:].lower(): value for name, value in env.items() if name.startswith('X_PATH_PARAM_')
        }
        self._body = None

    @property
    def body(self):
        if self._body is None:
            self._body = _sys.stdin.buffer.read()
        return self._body

    def json(self):
        """The body parsed as JSON (None for an empty body)."""
        return _json.loads(self.body) if self.body else None


def request():
    return Request()


def respond(value, status=200, headers=None):
    """Writes the CGI response: the status, a JSON content type, headers, and value as JSON."""
    out = _sys.stdout
    out.write(f'Status: {status}\\\\n')
    out.write('Content-Type: application/json\\\\n')
    for name, header in (headers or {}).items():
        out.write(f'{name}: {header}\\\\n')
    out.write('\\\\n')
    out.write(_json.dumps(value))
    out.flush()
'''


def _install_helper():
    import types
    helper = types.ModuleType('isola')
    exec(compile(_HELPER, '<isola helper>', 'exec'), helper.__dict__)
    sys.modules['isola'] = helper


def _python_files(app_dir, max_files):
    found = []
    for root, dirs, entries in os.walk(app_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.') and d != '__pycache__')
        for entry in sorted(entries):
            if entry.endswith('.py'):
                if len(found) == max_files:
                    return found
                found.append(os.path.join(root, entry))
    return found


# Modules whose import does something a request would see (print the Zen, open a browser).
_IMPORT_EFFECTS = {'this', 'antigravity', '__main__'}


def resume(args_hex, environ_hex):
    """Runs \`python SCRIPT [ARG...]\` for this instance's argv and environment, then exits."""
    args = _strings(args_hex)
    _set_environ(_strings(environ_hex))
    _reseed()
    _exit(_run(args))


def _strings(text):
    # WASI's args_get and environ_get write NUL-terminated strings back to back; CPython
    # decodes them with the file system encoding and surrogateescape.
    return [os.fsdecode(item) for item in bytes.fromhex(text).split(b'\\0')[:-1]]


def _set_environ(entries):
    # Through os.environ, so that putenv/unsetenv keep the C environment (time.tzset, locale)
    # in step with it; the environment the snapshot was built with is gone.
    environ = os.environ
    environ.clear()
    for entry in entries:
        name, sep, value = entry.partition('=')
        if sep:
            try:
                environ[name] = value
            except ValueError:
                pass  # a name putenv refuses, as CPython would refuse to set it


def _reseed():
    # Generators seeded while the snapshot was taken would repeat in every request.
    random = sys.modules.get('random')
    if random is not None:
        random.seed()
    tempfile = sys.modules.get('tempfile')
    if tempfile is not None:
        tempfile._name_sequence = None


def _run(args):
    program = args[0] if args else 'python'
    if len(args) < 2 or args[1].startswith('-'):
        sys.stderr.write(
            f'{program}: this pre-initialized Python runs only \`python SCRIPT [ARG...]\`; '
            f'got {args[1:]!r}\\n'
        )
        return 2
    script = args[1]
    sys.argv = args[1:]
    sys.orig_argv = args
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    # The app's own modules (in its _lib/, say) import from the app directory too.
    if _app_dir not in sys.path:
        sys.path.insert(1, _app_dir)
    try:
        with io.open_code(script) as file:
            source = file.read()
    except OSError as error:
        sys.stderr.write(f"{program}: can't open file {script!r}: [Errno {error.errno}] {error.strerror}\\n")
        if error.errno == errno.EBADF:
            # wasi-libc's table of preopened directories is the build's: the app directory at
            # _app_dir as the first descriptor after stdio.
            sys.stderr.write(
                f'{program}: this snapshot needs the app directory mounted at {_app_dir}, as its only '
                'directory, as it was when the snapshot was built\\n'
            )
        return 2
    main = sys.modules['__main__'].__dict__
    main['__file__'] = script
    main['__cached__'] = None
    main['__loader__'] = SourceFileLoader('__main__', script)
    try:
        exec(compile(source, script, 'exec'), main)
    except SystemExit as error:
        return _exit_status(error)
    except BaseException as error:
        # Leave this frame out of the traceback, as CPython shows only the script's own (the
        # default excepthook prints the exception's __traceback__, not its argument).
        if error.__traceback__ is not None:
            error.__traceback__ = error.__traceback__.tb_next
        sys.excepthook(type(error), error, error.__traceback__)
        return 1
    return 0


def _exit_status(error):
    # What CPython's handle_system_exit does with SystemExit's code.
    code = error.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code if -(2 ** 31) <= code < 2 ** 31 else 1
    try:
        sys.stderr.write(f'{code}\\n')
    except BaseException:
        pass
    return 1


def _exit(status):
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    # os._exit skips finalization, which would flush the original streams had the script
    # replaced sys.stdout or sys.stderr.
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(status)
`;

/** The statement that installs `_isola` and runs its `initialize`, as Python source. */
export function initializeSource(
  appDir: string,
  preload: readonly string[],
  preloadStdlibImports: boolean,
  checkSyntax: boolean,
): string {
  // JSON strings and arrays of strings are valid Python literals.
  return (
    `exec(compile(${JSON.stringify(ISOLA_MODULE)}, '<isola>', 'exec'), __import__('sys').modules.setdefault('_isola', ` +
    `__import__('types').ModuleType('_isola')).__dict__)\n` +
    `__import__('_isola').initialize(${JSON.stringify(appDir)}, ${JSON.stringify(preload)}, ` +
    `${preloadStdlibImports ? 'True' : 'False'}, ${checkSyntax ? 'True' : 'False'})\n`
  );
}

/**
 * The statement that runs a request, in three pieces: the resume function writes the first, the
 * hex of the argument strings, the second, the hex of the environment strings, then the third.
 */
export const RESUME_SOURCE = Object.freeze({
  beforeArgs: "__import__('_isola').resume('",
  betweenArgsAndEnviron: "', '",
  afterEnviron: "')\n",
});
