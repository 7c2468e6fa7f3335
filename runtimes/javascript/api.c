/*
 * The globals a script sees beside ECMAScript's own, named as in Node.js where Node has them:
 *
 *   print(...values), console.log/info/debug(...values)  one line on stdout
 *   console.error/warn(...values)                         one line on stderr
 *   process.argv       ['js', SCRIPT, ...ARGS], as Node's (argv[0] is the runner)
 *   process.env        the request's environment, a plain object (CGI variables for a handler)
 *   process.exit([n])  flushes output and ends with status n (default process.exitCode, else 0)
 *   process.exitCode   the status when the script ends normally, if set to a number
 *   readStdin()        the rest of stdin (the request body) as a string, decoded as UTF-8
 *   readFile(path)     a whole file as a string, decoded as UTF-8; only granted directories exist
 *
 * Values are printed as Node prints strings, and otherwise: an Error as its stack, another object
 * as JSON.stringify gives it (String(value) when that fails or gives nothing), anything else as
 * String(value). A failed readFile throws an Error like Node's fs errors: message
 * "ENOENT: no such file or directory, open '/app/missing.json'", with code, syscall and path; a
 * path under no granted directory is such a missing file (see js_read_file).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "js.h"

/* Stash key of the process object, so that a script replacing the global changes nothing here. */
#define PROCESS_KEY "process"

void js_exit(int status) {
  fflush(stdout);
  fflush(stderr);
  /* A POSIX exit status is 8 bits: process.exit(256) is 0 there, and here. */
  _Exit(status & 0xFF);
}

/* [value] → [JSON text or undefined]; run under duk_safe_call because stringify can throw. */
static duk_ret_t json_encode(duk_context *ctx, void *udata) {
  (void)udata;
  duk_json_encode(ctx, -1);
  return 1;
}

void js_write_value(duk_context *ctx, duk_idx_t index, FILE *out) {
  duk_dup(ctx, index);
  if (duk_is_error(ctx, -1)) {
    duk_get_prop_string(ctx, -1, "stack");
    if (!duk_is_string(ctx, -1)) duk_pop(ctx);
  } else if (duk_is_object(ctx, -1) && !duk_is_function(ctx, -1)) {
    duk_dup_top(ctx);
    if (duk_safe_call(ctx, json_encode, NULL, 1, 1) != DUK_EXEC_SUCCESS || !duk_is_string(ctx, -1)) {
      duk_pop(ctx);
    }
  }
  if (!duk_is_string(ctx, -1)) duk_safe_to_string(ctx, -1);
  js_write_string(ctx, -1, out);
}

static duk_ret_t write_line(duk_context *ctx, FILE *out) {
  duk_idx_t count = duk_get_top(ctx);
  for (duk_idx_t i = 0; i < count; i++) {
    if (i > 0) fputc(' ', out);
    duk_idx_t top = duk_get_top(ctx);
    js_write_value(ctx, i, out);
    duk_set_top(ctx, top);
  }
  fputc('\n', out);
  return 0;
}

static duk_ret_t print_stdout(duk_context *ctx) { return write_line(ctx, stdout); }

static duk_ret_t print_stderr(duk_context *ctx) { return write_line(ctx, stderr); }

static duk_ret_t process_exit(duk_context *ctx) {
  int status = duk_is_undefined(ctx, 0) ? js_exit_code(ctx) : duk_to_int(ctx, 0);
  js_exit(status);
}

int js_exit_code(duk_context *ctx) {
  duk_push_heap_stash(ctx);
  duk_get_prop_string(ctx, -1, PROCESS_KEY);
  duk_get_prop_string(ctx, -1, "exitCode");
  int status = duk_is_number(ctx, -1) ? duk_get_int(ctx, -1) : 0;
  duk_pop_3(ctx);
  return status;
}

static const struct {
  int error;
  const char *code;
  const char *description;
} ERRNO_NAMES[] = {
    /* Node's codes and libuv's descriptions (uv_strerror), for the errors a read can meet. */
    {ENOENT, "ENOENT", "no such file or directory"},
    {EACCES, "EACCES", "permission denied"},
    {EPERM, "EPERM", "operation not permitted"},
    {EISDIR, "EISDIR", "illegal operation on a directory"},
    {ENOTDIR, "ENOTDIR", "not a directory"},
    {ELOOP, "ELOOP", "too many symbolic links encountered"},
    {ENAMETOOLONG, "ENAMETOOLONG", "name too long"},
    {EMFILE, "EMFILE", "too many open files"},
    {ENFILE, "ENFILE", "file table overflow"},
    {EBADF, "EBADF", "bad file descriptor"},
    {EINVAL, "EINVAL", "invalid argument"},
    {EIO, "EIO", "i/o error"},
    {ENOMEM, "ENOMEM", "not enough memory"},
    {EFBIG, "EFBIG", "file too large"},
};

void js_errno_name(int error, const char **code, const char **description) {
  for (size_t i = 0; i < sizeof ERRNO_NAMES / sizeof ERRNO_NAMES[0]; i++) {
    if (ERRNO_NAMES[i].error == error) {
      *code = ERRNO_NAMES[i].code;
      *description = ERRNO_NAMES[i].description;
      return;
    }
  }
  *code = "UNKNOWN";
  *description = strerror(error);
}

/* Reads all of fd into a malloc'ed buffer; returns 0 or the errno of the failed read. */
static int read_all(int fd, char **bytes, size_t *length) {
  size_t size = 0, capacity = 4096;
  char *buffer = malloc(capacity);
  if (buffer == NULL) return ENOMEM;
  for (;;) {
    if (size == capacity) {
      char *grown = capacity > SIZE_MAX / 2 ? NULL : realloc(buffer, capacity * 2);
      if (grown == NULL) {
        free(buffer);
        return ENOMEM;
      }
      buffer = grown;
      capacity *= 2;
    }
    ssize_t got = read(fd, buffer + size, capacity - size);
    if (got < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      free(buffer);
      return error;
    }
    if (got == 0) break;
    size += (size_t)got;
  }
  *bytes = buffer;
  *length = size;
  return 0;
}

int js_read_file(const char *path, char **bytes, size_t *length, const char **syscall) {
  *syscall = "open";
  int fd = open(path, O_RDONLY);
  /*
   * ENOTCAPABLE is WASI's word for a path outside every granted directory (wasi-libc finds no
   * preopen for it, or the host refuses a ".." or symlink out of one). For the script such a
   * file does not exist, and Node code checks `error.code === 'ENOENT'`.
   */
  if (fd < 0) return errno == ENOTCAPABLE ? ENOENT : errno;
  *syscall = "read";
  int error = read_all(fd, bytes, length);
  close(fd);
  return error;
}

static duk_ret_t read_file(duk_context *ctx) {
  const char *path = js_require_utf8(ctx, 0);
  char *bytes;
  size_t length;
  const char *syscall;
  int error = js_read_file(path, &bytes, &length, &syscall);
  if (error != 0) {
    const char *code, *description;
    js_errno_name(error, &code, &description);
    duk_push_error_object(ctx, DUK_ERR_ERROR, "%s: %s, %s '%s'", code, description, syscall, path);
    duk_push_string(ctx, code);
    duk_put_prop_string(ctx, -2, "code");
    duk_push_string(ctx, syscall);
    duk_put_prop_string(ctx, -2, "syscall");
    duk_push_string(ctx, path);
    duk_put_prop_string(ctx, -2, "path");
    return duk_throw(ctx);
  }
  js_push_utf8(ctx, bytes, length);
  free(bytes);
  return 1;
}

static duk_ret_t read_stdin(duk_context *ctx) {
  char *bytes;
  size_t length;
  int error = read_all(STDIN_FILENO, &bytes, &length);
  if (error != 0) {
    const char *code, *description;
    js_errno_name(error, &code, &description);
    return duk_error(ctx, DUK_ERR_ERROR, "%s: %s, read", code, description);
  }
  js_push_utf8(ctx, bytes, length);
  free(bytes);
  return 1;
}

static void install_console(duk_context *ctx) {
  static const duk_function_list_entry methods[] = {
      {"log", print_stdout, DUK_VARARGS},   {"info", print_stdout, DUK_VARARGS},
      {"debug", print_stdout, DUK_VARARGS}, {"error", print_stderr, DUK_VARARGS},
      {"warn", print_stderr, DUK_VARARGS},  {NULL, NULL, 0},
  };
  duk_push_object(ctx);
  duk_put_function_list(ctx, -1, methods);
  duk_put_global_string(ctx, "console");
}

static void install_process(duk_context *ctx, int argc, char **argv, char **environ) {
  duk_push_object(ctx);

  duk_push_array(ctx);
  for (int i = 0; i < argc; i++) {
    js_push_utf8(ctx, argv[i], strlen(argv[i]));
    duk_put_prop_index(ctx, -2, (duk_uarridx_t)i);
  }
  duk_put_prop_string(ctx, -2, "argv");

  duk_push_object(ctx);
  for (char **entry = environ; entry != NULL && *entry != NULL; entry++) {
    const char *equals = strchr(*entry, '=');
    if (equals == NULL) continue;
    js_push_utf8(ctx, *entry, (size_t)(equals - *entry));
    js_push_utf8(ctx, equals + 1, strlen(equals + 1));
    duk_put_prop(ctx, -3);
  }
  duk_put_prop_string(ctx, -2, "env");

  duk_push_c_function(ctx, process_exit, 1);
  duk_put_prop_string(ctx, -2, "exit");
  duk_push_string(ctx, "wasi");
  duk_put_prop_string(ctx, -2, "platform");

  duk_push_heap_stash(ctx);
  duk_dup(ctx, -2);
  duk_put_prop_string(ctx, -2, PROCESS_KEY);
  duk_pop(ctx);
  duk_put_global_string(ctx, "process");
}

/*
 * `isola`, the small helper every script can use (as Python's `import isola`): request() reads
 * this request from the CGI environment (method, path, query, headers, params, body(), json()),
 * respond(value, status, headers) writes a JSON response. Plain ES5, evaluated once per instance.
 */
static const char ISOLA_HELPER[] =
    "var isola = (function () {\n"
    "  function decode(text) {\n"
    "    try { return decodeURIComponent(text.replace(/\\+/g, ' ')); } catch (e) { return text; }\n"
    "  }\n"
    "  function request() {\n"
    "    var env = process.env, headers = {}, params = {}, query = {}, body;\n"
    "    for (var name in env) {\n"
    "      if (name.indexOf('HTTP_') === 0) headers[name.slice(5).toLowerCase().replace(/_/g, '-')] = env[name];\n"
    "      else if (name.indexOf('X_PATH_PARAM_') === 0) params[name.slice(13).toLowerCase()] = env[name];\n"
    "    }\n"
    "    if (env.CONTENT_TYPE) headers['content-type'] = env.CONTENT_TYPE;\n"
    "    (env.QUERY_STRING || '').split('&').forEach(function (pair) {\n"
    "      if (pair === '') return;\n"
    "      var at = pair.indexOf('=');\n"
    "      query[decode(at < 0 ? pair : pair.slice(0, at))] = at < 0 ? '' : decode(pair.slice(at + 1));\n"
    "    });\n"
    "    return {\n"
    "      method: env.REQUEST_METHOD || 'GET', path: env.PATH_INFO || '', query: query,\n"
    "      headers: headers, params: params,\n"
    "      body: function () { if (body === undefined) body = readStdin(); return body; },\n"
    "      json: function () { var text = this.body(); return text === '' ? null : JSON.parse(text); }\n"
    "    };\n"
    "  }\n"
    "  function respond(value, status, headers) {\n"
    "    print('Status: ' + (status || 200));\n"
    "    print('Content-Type: application/json');\n"
    "    for (var name in headers || {}) print(name + ': ' + headers[name]);\n"
    "    print('');\n"
    "    print(JSON.stringify(value));\n"
    "  }\n"
    "  return { request: request, respond: respond };\n"
    "})();\n";

void js_install_api(duk_context *ctx, int argc, char **argv, char **environ) {
  duk_push_c_function(ctx, print_stdout, DUK_VARARGS);
  duk_put_global_string(ctx, "print");
  install_console(ctx);
  install_process(ctx, argc, argv, environ);
  duk_push_c_function(ctx, read_stdin, 0);
  duk_put_global_string(ctx, "readStdin");
  duk_push_c_function(ctx, read_file, 1);
  duk_put_global_string(ctx, "readFile");
  if (duk_peval_string_noresult(ctx, ISOLA_HELPER) != 0) {
    fprintf(stderr, "js: the isola helper failed to install\n");
    js_exit(JS_EXIT_FATAL);
  }
}
