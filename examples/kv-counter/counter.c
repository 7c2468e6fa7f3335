// The kv-counter example: a C app (CGI, WASI preview1) that keeps state in a key-value store it
// reaches as plain files, with no SDK. isola mounts the store granted in isola.toml
// (key_value_stores = ["default"]) at /kv/default: reading a file gets a key, writing one sets
// it, unlinking deletes it, listing the directory lists the keys.
//
//   GET    /counter          counts the visit and shows the count and every key
//   PUT    /counter/NAME     stores the request body under key NAME
//   GET    /counter/NAME     shows the value of NAME (404 when there is none)
//   DELETE /counter/NAME     deletes NAME
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORE "/kv/default"

static void respond(int status, const char *reason, const char *body) {
  printf("Status: %d %s\nContent-Type: text/plain; charset=utf-8\n\n%s", status, reason, body);
}

// The visit count: read, add one, write back (two visits at once may both read the same count;
// a component would use wasi:keyvalue's atomic increment instead).
static long count_visit(void) {
  long visits = 0;
  FILE *file = fopen(STORE "/visits", "r");
  if (file) {
    if (fscanf(file, "%ld", &visits) != 1) visits = 0;
    fclose(file);
  }
  visits++;
  file = fopen(STORE "/visits", "w");
  if (!file || fprintf(file, "%ld", visits) < 0 || fclose(file) != 0) {
    perror("writing " STORE "/visits");
    return -1;
  }
  return visits;
}

static void show_counter(void) {
  long visits = count_visit();
  if (visits < 0) return respond(500, "Internal Server Error", "could not save the count\n");
  printf("Content-Type: text/plain; charset=utf-8\n\nvisits: %ld\nkeys:", visits);
  DIR *dir = opendir(STORE);
  if (!dir) return (void)printf(" (cannot list: %s)\n", strerror(errno));
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    if (entry->d_name[0] != '.') printf(" %s", entry->d_name);
  }
  closedir(dir);
  printf("\n");
}

static int valid_name(const char *name) {
  if (!*name || strlen(name) > 128) return 0;
  for (const char *c = name; *c; c++) {
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_')) return 0;
  }
  return strcmp(name, "visits") != 0;
}

int main(void) {
  const char *method = getenv("REQUEST_METHOD");
  const char *path = getenv("PATH_INFO");
  if (!method) method = "GET";
  if (!path || !*path || strcmp(path, "/") == 0) {
    if (strcmp(method, "GET") != 0) return respond(405, "Method Not Allowed", "GET /counter only\n"), 0;
    show_counter();
    return 0;
  }
  const char *name = path + 1;
  if (!valid_name(name)) {
    respond(400, "Bad Request", "a key is 1-128 of a-z, 0-9, - and _ (and not \"visits\")\n");
    return 0;
  }
  char file_path[256];
  snprintf(file_path, sizeof file_path, STORE "/%s", name);
  if (strcmp(method, "PUT") == 0) {
    FILE *file = fopen(file_path, "w");
    if (!file) return respond(500, "Internal Server Error", "cannot store the value\n"), 0;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, stdin)) > 0) fwrite(buffer, 1, n, file);
    if (fclose(file) != 0) return respond(507, "Insufficient Storage", "the store refused the value\n"), 0;
    respond(201, "Created", "stored\n");
  } else if (strcmp(method, "DELETE") == 0) {
    if (unlink(file_path) != 0 && errno != ENOENT) return respond(500, "Internal Server Error", "cannot delete\n"), 0;
    respond(200, "OK", "deleted\n");
  } else if (strcmp(method, "GET") == 0) {
    FILE *file = fopen(file_path, "r");
    if (!file) return respond(404, "Not Found", "no such key\n"), 0;
    printf("Content-Type: application/octet-stream\n\n");
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, file)) > 0) fwrite(buffer, 1, n, stdout);
    fclose(file);
  } else {
    respond(405, "Method Not Allowed", "GET, PUT or DELETE\n");
  }
  return 0;
}
