/* Helpers shared by the C tests (see common.h). */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_passed = 0;
static long g_failed = 0;

void check_record(int ok, const char *file, int line, const char *what) {
    pthread_mutex_lock(&g_lock);
    if (ok) {
        g_passed++;
    } else {
        g_failed++;
        fprintf(stderr, "%s:%d: CHECK FAILED: %s\n", file, line, what);
    }
    pthread_mutex_unlock(&g_lock);
}

void check_contains_at(const char *haystack, const char *needle, const char *file, int line, const char *what) {
    int ok = haystack != NULL && strstr(haystack, needle) != NULL;
    check_record(ok, file, line, what);
    if (!ok) {
        fprintf(stderr, "    the text: %s\n", haystack != NULL ? haystack : "(null)");
    }
}

void check_status_at(mcps_status got, mcps_status want, const mcps_error *err, const char *file,
                     int line, const char *what) {
    if (got == want) {
        check_record(1, file, line, what);
        return;
    }
    pthread_mutex_lock(&g_lock);
    g_failed++;
    fprintf(stderr, "%s:%d: CHECK FAILED: %s gave status %d, want %d (%s)\n", file, line, what,
            (int)got, (int)want, err != NULL ? mcps_error_message(err) : "no error object");
    pthread_mutex_unlock(&g_lock);
}

void clear_error(mcps_error **err) {
    mcps_error_free(*err);
    *err = NULL;
}

int finish(const char *name) {
    stop_shared_http_server();
    printf("%s: %ld passed, %ld failed\n", name, g_passed, g_failed);
    fflush(stdout);
    return (g_failed == 0 && g_passed > 0) ? 0 : 1;
}

void fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FATAL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    stop_shared_http_server();
    exit(2);
}

const char *demo_server(void) {
    const char *path = getenv("MCPS_DEMO_SERVER");
    if (path == NULL || path[0] == '\0') {
        fatal("MCPS_DEMO_SERVER is not set (the Makefile sets it to the demo server binary)");
    }
    if (access(path, X_OK) != 0) {
        fatal("demo server '%s' is not executable: %s", path, strerror(errno));
    }
    return path;
}

static char *format(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fatal("vsnprintf failed");
    }
    char *out = malloc((size_t)n + 1);
    if (out == NULL) {
        fatal("out of memory");
    }
    va_start(ap, fmt);
    vsnprintf(out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return out;
}

char *stdio_service(const char *args_json) {
    return format("{\"command\": \"%s\", \"args\": [%s]}", demo_server(), args_json);
}

char *http_service(const char *url) {
    return format("{\"url\": \"%s\"}", url);
}

char *one_service_config(const char *name, const char *service_json, const char *perf_json) {
    return format("{\"mcpServers\": {\"%s\": %s}, \"performance\": %s}", name, service_json,
                  perf_json);
}

static void *drain_stderr(void *arg) {
    int fd = *(int *)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        break;
    }
    return NULL;
}

/* Reads the server's stderr until the 'listening on http://127.0.0.1:PORT/mcp' line. */
pid_t spawn_piped(const char *path, const char *const *argv, int child_fd, int *read_end) {
    int fds[2];
    if (pipe(fds) != 0) {
        fatal("pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        fatal("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(fds[1], child_fd);
        close(fds[0]);
        close(fds[1]);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, 0);
            close(devnull);
        }
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    *read_end = fds[0];
    return pid;
}

static int read_port(int fd, int timeout_ms) {
    char line[1024];
    size_t len = 0;
    double deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        int left = (int)(deadline - now_ms());
        int r = poll(&p, 1, left > 0 ? left : 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n <= 0) {
            break; /* the server exited */
        }
        if (c != '\n' && len + 1 < sizeof line) {
            line[len++] = c;
            continue;
        }
        line[len] = '\0';
        len = 0;
        const char *at = strstr(line, "listening on http://127.0.0.1:");
        if (at != NULL) {
            return atoi(at + strlen("listening on http://127.0.0.1:"));
        }
    }
    return -1;
}

void http_server_start(http_server *srv, const char *const *extra) {
    const char *path = demo_server();
    const char *argv[32];
    int argc = 0;
    argv[argc++] = path;
    argv[argc++] = "--http";
    argv[argc++] = "127.0.0.1:0";
    for (; extra != NULL && *extra != NULL && argc < 31; extra++) {
        argv[argc++] = *extra;
    }
    argv[argc] = NULL;

    int out = -1;
    pid_t pid = spawn_piped(path, argv, 2, &out);
    int port = read_port(out, 10000);
    if (port <= 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(out);
        fatal("the demo HTTP server did not print its port within 10 s");
    }
    srv->pid = pid;
    srv->port = port;
    srv->stderr_fd = out;
    snprintf(srv->url, sizeof srv->url, "http://127.0.0.1:%d/mcp", port);
    pthread_t *t = malloc(sizeof *t);
    if (t == NULL || pthread_create(t, NULL, drain_stderr, &srv->stderr_fd) != 0) {
        fatal("cannot start the stderr drain thread");
    }
    srv->drain = t;
}

void http_server_stop(http_server *srv) {
    if (srv->pid <= 0) {
        return;
    }
    kill(srv->pid, SIGTERM);
    int status = 0;
    double deadline = now_ms() + 5000;
    while (waitpid(srv->pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(srv->pid, SIGKILL);
            waitpid(srv->pid, &status, 0);
            break;
        }
        sleep_ms(10);
    }
    srv->pid = 0;
    pthread_t *t = srv->drain;
    pthread_join(*t, NULL);
    free(t);
    srv->drain = NULL;
    close(srv->stderr_fd);
}

static http_server g_http;
static int g_http_started = 0;

char *demo_service(transport t) {
    if (t == TRANSPORT_STDIO) {
        return stdio_service("");
    }
    if (!g_http_started) {
        http_server_start(&g_http, NULL);
        g_http_started = 1;
    }
    return http_service(g_http.url);
}

void stop_shared_http_server(void) {
    if (g_http_started) {
        g_http_started = 0;
        http_server_stop(&g_http);
    }
}

mcps_store *open_demo_store(transport t, const char *perf_json) {
    char *service = demo_service(t);
    char *config = one_service_config("demo", service, perf_json);
    mcps_store *store = NULL;
    mcps_error *err = NULL;
    mcps_status st = mcps_store_new(config, &store, &err);
    if (st != MCPS_OK) {
        fatal("mcps_store_new(%s) failed with %d: %s", config, (int)st, mcps_error_message(err));
    }
    free(service);
    free(config);
    return store;
}

const char *transport_name(transport t) {
    return t == TRANSPORT_STDIO ? "stdio" : "http";
}

double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int wait_until(int (*cond)(void *arg), void *arg, long timeout_ms) {
    double deadline = now_ms() + (double)timeout_ms;
    for (;;) {
        if (cond(arg)) {
            return 1;
        }
        if (now_ms() >= deadline) {
            return 0;
        }
        sleep_ms(5);
    }
}

long long json_number(const char *json, const char *key) {
    if (json == NULL || key == NULL) {
        return -1;
    }
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(json, pattern);
    if (at == NULL) {
        return -1;
    }
    at += strlen(pattern);
    while (*at == ' ') {
        at++;
    }
    char *end = NULL;
    long long v = strtoll(at, &end, 10);
    return end == at ? -1 : v;
}
