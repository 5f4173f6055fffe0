/* Helpers shared by the C tests of the mcpstore C ABI: checks, the demo
 * server (stdio command line and an HTTP server process), store set-up. */
#ifndef MCPS_TEST_COMMON_H
#define MCPS_TEST_COMMON_H

#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "mcpstore.h"

/* Records one check; prints a message when it failed. Thread-safe. */
void check_record(int ok, const char *file, int line, const char *what);

#define CHECK(cond) check_record((cond) ? 1 : 0, __FILE__, __LINE__, #cond)

/* Checks a status; on a mismatch prints the error's message (if any). */
void check_status_at(mcps_status got, mcps_status want, const mcps_error *err, const char *file,
                     int line, const char *what);

#define CHECK_STATUS(expr, want, err) \
    check_status_at((expr), (want), (err), __FILE__, __LINE__, #expr)

/* Checks that `haystack` (may be NULL) contains `needle`. */
#define CHECK_CONTAINS(haystack, needle) \
    check_contains_at((haystack), (needle), __FILE__, __LINE__, #haystack " contains " #needle)

/* Records whether `haystack` contains `needle`; a failure prints the haystack. */
void check_contains_at(const char *haystack, const char *needle, const char *file, int line, const char *what);

/* Frees *err and sets it to NULL. */
void clear_error(mcps_error **err);

/* Prints "NAME: N passed, M failed" and returns the process exit status. */
int finish(const char *name);

/* Aborts the test program (failure, never a skip). */
void fatal(const char *fmt, ...);

/* The demo server binary (from $MCPS_DEMO_SERVER); fatal if unusable. */
const char *demo_server(void);

/* A service entry for the demo server over stdio; `args_json` is a JSON
 * array body such as "\"--delay-ms\", \"5\"" or "". Returns malloc'ed text. */
char *stdio_service(const char *args_json);

/* A service entry for an HTTP URL. Returns malloc'ed text. */
char *http_service(const char *url);

/* An mcp.json text with one service named `name` and a `performance`
 * section (`perf_json`, may be "{}"). Returns malloc'ed text. */
char *one_service_config(const char *name, const char *service_json, const char *perf_json);

/* A demo server serving Streamable HTTP on 127.0.0.1 at a free port. */
typedef struct http_server {
    pid_t pid;
    int port;
    char url[96];
    int stderr_fd;
    void *drain; /* the thread that drains the server's stderr */
} http_server;

/* Starts `mcpstore-demo-server --http 127.0.0.1:0 EXTRA...` (NULL-terminated
 * `extra`), reads the port from its stderr; fatal on failure. */
void http_server_start(http_server *srv, const char *const *extra);

/* Stops the server (SIGTERM, then waits). */
void http_server_stop(http_server *srv);

/* The two transports every functional test runs against. */
typedef enum transport { TRANSPORT_STDIO, TRANSPORT_HTTP } transport;

/* A service entry for the demo server over `t` (starting an HTTP server on
 * first use; it is stopped by stop_shared_http_server). Malloc'ed. */
char *demo_service(transport t);

/* Stops the HTTP server demo_service started, if any. */
void stop_shared_http_server(void);

/* A store with the demo server as service `demo` over `t`, `perf_json`
 * settings; fatal on failure. */
mcps_store *open_demo_store(transport t, const char *perf_json);

/* The transport's name, for messages. */
const char *transport_name(transport t);

/* What a clock bound may add to the limit it checks on a loaded 2-core
 * machine; bounds are kept only where the bound is the behaviour. */
#define LOAD_MARGIN_MS 1500

/* Polls `cond(arg)` every 5 ms until it returns non-zero or `timeout_ms`
 * passes; returns whether it held (a bounded wait for a state, never a bare sleep). */
int wait_until(int (*cond)(void *arg), void *arg, long timeout_ms);

/* The number after `"key":` in `json` (the first occurrence), or -1. */
long long json_number(const char *json, const char *key);

/* Starts `path` with `argv` (NULL-terminated), stdin from /dev/null and its
 * descriptor `child_fd` (1 or 2) on a pipe whose read end goes to *read_end;
 * fatal on failure. */
pid_t spawn_piped(const char *path, const char *const *argv, int child_fd, int *read_end);

/* Milliseconds since an arbitrary start. */
double now_ms(void);

/* Sleeps `ms` milliseconds. */
void sleep_ms(long ms);

#endif /* MCPS_TEST_COMMON_H */
