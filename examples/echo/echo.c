// The echo example: answers with what it was sent — the method, the path, the query string,
// every request header (as CGI's HTTP_* variables) and the body, which it reads from stdin.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static const char *env(const char *name) {
  const char *value = getenv(name);
  return value ? value : "";
}

int main(void) {
  printf("Content-Type: text/plain; charset=utf-8\n\n");
  printf("%s %s%s%s\n", env("REQUEST_METHOD"), env("SCRIPT_NAME"), env("PATH_INFO"),
         *env("QUERY_STRING") ? "?" : "");
  if (*env("QUERY_STRING")) printf("query: %s\n", env("QUERY_STRING"));
  printf("headers:\n");
  for (char **entry = environ; *entry; entry++) {
    if (strncmp(*entry, "HTTP_", 5) == 0) printf("  %s\n", *entry + 5);
  }
  if (*env("CONTENT_TYPE")) printf("  CONTENT_TYPE=%s\n", env("CONTENT_TYPE"));
  printf("body:\n");
  char buffer[4096];
  size_t n, total = 0;
  while ((n = fread(buffer, 1, sizeof buffer, stdin)) > 0) {
    fwrite(buffer, 1, n, stdout);
    total += n;
  }
  printf("%s(%zu bytes)\n", total ? "\n" : "", total);
  return 0;
}
