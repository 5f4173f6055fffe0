/* OAuth through the C ABI against a real local authorization server and the
 * demo server as the protected resource (ffi-tests/oauth_server.py: the demo
 * server runs with --require-header and accepts only the bearer token that
 * authorization server issues): auth configured in the config JSON, the
 * store's authorizer callback (a user agent that follows the redirect over a
 * socket, answering now or later, refusing, releasing, never answering,
 * replaced while it runs, replacing itself), mcps_store_auth_login / _status /
 * _logout, the headless authorizer, and bad input (NULL, unknown service, a
 * service without OAuth). Credentials go to a temporary $XDG_CONFIG_HOME. */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the OAuth world (ffi-tests/oauth_server.py) ---- */

typedef struct oauth_world {
    pid_t pid;
    int stdin_fd; /* closing it stops the world */
    char resource[128];
    char issuer[128];
} oauth_world;

static void world_start(oauth_world *w) {
    const char *script = getenv("MCPS_OAUTH_SERVER");
    const char *python = getenv("MCPS_PYTHON");
    if (script == NULL || script[0] == '\0') {
        fatal("MCPS_OAUTH_SERVER is not set (the Makefile sets it to ffi-tests/oauth_server.py)");
    }
    if (python == NULL || python[0] == '\0') {
        python = "python3";
    }
    const char *demo = demo_server();
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) {
        fatal("pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        fatal("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execlp(python, python, script, "--demo", demo, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    char line[512];
    size_t len = 0;
    double deadline = now_ms() + 20000;
    int got = 0;
    while (!got && now_ms() < deadline) {
        struct pollfd p = {out[0], POLLIN, 0};
        int r = poll(&p, 1, 100);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            continue;
        }
        char c;
        if (read(out[0], &c, 1) != 1) {
            break; /* it exited */
        }
        if (c != '\n' && len + 1 < sizeof line) {
            line[len++] = c;
            continue;
        }
        line[len] = '\0';
        got = sscanf(line, "oauth: resource %127s issuer %127s", w->resource, w->issuer) == 2;
        len = 0;
    }
    close(out[0]);
    if (!got) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fatal("%s %s did not print its URLs within 20 s", python, script);
    }
    w->pid = pid;
    w->stdin_fd = in[1];
}

static void world_stop(oauth_world *w) {
    close(w->stdin_fd);
    kill(w->pid, SIGTERM);
    int status = 0;
    double deadline = now_ms() + 5000;
    while (waitpid(w->pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(w->pid, SIGKILL);
            waitpid(w->pid, &status, 0);
            break;
        }
        sleep_ms(10);
    }
}

/* ---- a user agent: one HTTP GET over a socket, no redirect followed ---- */

/* GETs `url` (http://127.0.0.1:PORT/...) and copies the response head into
 * `head`, its body into `body` (either may be NULL). Returns the status or -1. */
static int http_get(const char *url, char *head, size_t head_cap, char *body, size_t body_cap) {
    const char *prefix = "http://127.0.0.1:";
    if (strncmp(url, prefix, strlen(prefix)) != 0) {
        return -1;
    }
    const char *at = url + strlen(prefix);
    int port = atoi(at);
    const char *path = strchr(at, '/');
    if (path == NULL) {
        path = "/";
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    size_t need = strlen(path) + 128;
    char *request = malloc(need);
    if (request == NULL) {
        close(fd);
        return -1;
    }
    int n = snprintf(request, need, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
                     path, port);
    ssize_t sent = write(fd, request, (size_t)n);
    free(request);
    if (sent != n) {
        close(fd);
        return -1;
    }
    static const size_t CAP = 65536;
    char *buf = malloc(CAP + 1);
    if (buf == NULL) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, CAP - len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0 || (len += (size_t)r) == CAP) {
            break;
        }
    }
    close(fd);
    buf[len] = '\0';
    int status = -1;
    char *end = strstr(buf, "\r\n\r\n");
    if (end != NULL && sscanf(buf, "HTTP/1.%*d %d", &status) == 1) {
        *end = '\0';
        if (head != NULL) {
            snprintf(head, head_cap, "%s", buf);
        }
        if (body != NULL) {
            snprintf(body, body_cap, "%s", end + 4);
        }
    }
    free(buf);
    return status;
}

/* The Location of a redirect from `url` into `out`; returns whether there was one. */
static int follow_once(const char *url, char *out, size_t cap) {
    char head[8192];
    int status = http_get(url, head, sizeof head, NULL, 0);
    if (status != 302) {
        return 0;
    }
    char *save = NULL;
    for (char *line = strtok_r(head, "\r\n", &save); line != NULL; line = strtok_r(NULL, "\r\n", &save)) {
        if (strncasecmp(line, "location:", 9) == 0) {
            const char *v = line + 9;
            while (*v == ' ') {
                v++;
            }
            snprintf(out, cap, "%s", v);
            return 1;
        }
    }
    return 0;
}

/* What the authorization server saw: a number of its /_stats. */
static long long as_stat(const oauth_world *w, const char *key) {
    char url[256], body[4096];
    snprintf(url, sizeof url, "%s/_stats", w->issuer);
    if (http_get(url, NULL, 0, body, sizeof body) != 200) {
        return -1;
    }
    return json_number(body, key);
}

/* ---- authorizer callbacks ---- */

/* What the authorizers saw; the userdata of every one of them. */
typedef struct agent {
    pthread_mutex_t lock;
    int calls;
    char service[64];
    char url[2048];
    char redirect_uri[256];
    uint64_t timeout_ms;
    mcps_store *store;                /* for the one that replaces itself */
    mcps_authorization *kept;         /* for the one that never answers */
    volatile int running, returned;   /* for the slow one */
} agent;

static agent g_agent = {PTHREAD_MUTEX_INITIALIZER, 0, "", "", "", 0, NULL, NULL, 0, 0};

static void record(agent *a, const char *service, const char *url, const char *redirect_uri,
                   uint64_t timeout_ms) {
    pthread_mutex_lock(&a->lock);
    a->calls++;
    snprintf(a->service, sizeof a->service, "%s", service);
    snprintf(a->url, sizeof a->url, "%s", url);
    snprintf(a->redirect_uri, sizeof a->redirect_uri, "%s", redirect_uri);
    a->timeout_ms = timeout_ms;
    pthread_mutex_unlock(&a->lock);
}

static int calls(agent *a) {
    pthread_mutex_lock(&a->lock);
    int n = a->calls;
    pthread_mutex_unlock(&a->lock);
    return n;
}

/* Follows the authorization URL to its redirect and answers with it. */
static void answer_by_browsing(const char *url, mcps_authorization *authorization) {
    char location[2048];
    if (follow_once(url, location, sizeof location)) {
        mcps_error *err = NULL;
        CHECK_STATUS(mcps_authorization_redirect(authorization, location, &err), MCPS_OK, err);
        mcps_error_free(err);
    } else {
        CHECK(mcps_authorization_fail(authorization, "the authorization endpoint did not redirect", NULL) ==
              MCPS_OK);
    }
}

static void browser(void *userdata, const char *service, const char *url, const char *redirect_uri,
                    uint64_t timeout_ms, mcps_authorization *authorization) {
    record(userdata, service, url, redirect_uri, timeout_ms);
    CHECK(mcps_authorization_is_pending(authorization));
    answer_by_browsing(url, authorization);
}

static void refuser(void *userdata, const char *service, const char *url, const char *redirect_uri,
                    uint64_t timeout_ms, mcps_authorization *authorization) {
    record(userdata, service, url, redirect_uri, timeout_ms);
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_authorization_fail(authorization, "the user said no", &err), MCPS_OK, err);
    mcps_error_free(err);
}

static void releaser(void *userdata, const char *service, const char *url, const char *redirect_uri,
                     uint64_t timeout_ms, mcps_authorization *authorization) {
    record(userdata, service, url, redirect_uri, timeout_ms);
    mcps_authorization_free(authorization);
}

static void silent(void *userdata, const char *service, const char *url, const char *redirect_uri,
                   uint64_t timeout_ms, mcps_authorization *authorization) {
    agent *a = userdata;
    record(a, service, url, redirect_uri, timeout_ms);
    a->kept = authorization; /* answered (too late) by the test */
}

typedef struct later_job {
    char url[2048];
    mcps_authorization *authorization;
} later_job;

static void *answer_later(void *arg) {
    later_job *job = arg;
    sleep_ms(150);
    answer_by_browsing(job->url, job->authorization);
    free(job);
    return NULL;
}

/* Returns at once; another thread answers 150 ms later. */
static void deferring(void *userdata, const char *service, const char *url, const char *redirect_uri,
                      uint64_t timeout_ms, mcps_authorization *authorization) {
    record(userdata, service, url, redirect_uri, timeout_ms);
    later_job *job = malloc(sizeof *job);
    if (job == NULL) {
        mcps_authorization_free(authorization);
        return;
    }
    snprintf(job->url, sizeof job->url, "%s", url);
    job->authorization = authorization;
    pthread_t t;
    if (pthread_create(&t, NULL, answer_later, job) != 0) {
        free(job);
        mcps_authorization_free(authorization);
        return;
    }
    pthread_detach(t);
}

static void slow(void *userdata, const char *service, const char *url, const char *redirect_uri,
                 uint64_t timeout_ms, mcps_authorization *authorization) {
    agent *a = userdata;
    record(a, service, url, redirect_uri, timeout_ms);
    a->running = 1;
    sleep_ms(300);
    answer_by_browsing(url, authorization);
    a->returned = 1;
}

/* Replaces itself with the browser from inside, then answers. */
static void replacing(void *userdata, const char *service, const char *url, const char *redirect_uri,
                      uint64_t timeout_ms, mcps_authorization *authorization) {
    agent *a = userdata;
    record(a, service, url, redirect_uri, timeout_ms);
    double started = now_ms();
    CHECK(mcps_store_set_authorizer(a->store, browser, a, NULL) == MCPS_OK);
    CHECK(now_ms() - started < 1000); /* from inside: returns at once */
    answer_by_browsing(url, authorization);
}

/* ---- helpers ---- */

static char g_config_home[64];

static void echo_expect(mcps_store *s, const char *message, mcps_status want, const char *words) {
    char args[256];
    snprintf(args, sizeof args, "{\"message\": \"%s\"}", message);
    mcps_result *r = NULL;
    mcps_error *err = NULL;
    mcps_status st = mcps_store_call_tool(s, "web.echo", args, &r, &err);
    CHECK_STATUS(st, want, err);
    if (st == MCPS_OK) {
        CHECK(strcmp(mcps_result_text(r), message) == 0);
        mcps_result_free(r);
    } else {
        CHECK(r == NULL);
        if (words != NULL) {
            CHECK_CONTAINS(mcps_error_message(err), words);
        }
    }
    mcps_error_free(err);
}

static char *status_of(mcps_store *s, const char *service) {
    char *json = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_auth_status(s, service, &json, &err), MCPS_OK, err);
    mcps_error_free(err);
    return json;
}

static char *credentials_path(void) {
    static char path[160];
    snprintf(path, sizeof path, "%s/mcpstore/credentials.json", g_config_home);
    return path;
}

/* ---- the tests ---- */

/* The auth entry is part of the config: a malformed one names the service and the field. */
static void test_config(const oauth_world *w) {
    char config[1024];
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    snprintf(config, sizeof config,
             "{\"mcpServers\": {\"web\": {\"url\": \"%s\", \"auth\": {\"type\": \"oauth\", \"scopes\": 3}}}}",
             w->resource);
    CHECK_STATUS(mcps_store_new(config, &s, &err), MCPS_ERR_CONFIG, err);
    CHECK(s == NULL);
    CHECK_CONTAINS(mcps_error_message(err), "auth.scopes");
    CHECK_CONTAINS(mcps_error_message(err), "web");
    clear_error(&err);
    snprintf(config, sizeof config,
             "{\"mcpServers\": {\"web\": {\"url\": \"%s\", \"auth\": {\"type\": \"magic\"}}}}", w->resource);
    CHECK_STATUS(mcps_store_new(config, &s, &err), MCPS_ERR_CONFIG, err);
    CHECK_CONTAINS(mcps_error_message(err), "auth.type");
    clear_error(&err);
    CHECK_STATUS(mcps_store_new("{\"mcpServers\": {\"local\": {\"command\": \"x\", \"auth\": {\"type\": \"oauth\"}}}}",
                                &s, &err),
                 MCPS_ERR_CONFIG, err);
    CHECK_CONTAINS(mcps_error_message(err), "auth");
    clear_error(&err);

    /* Through the other config functions too. */
    CHECK_STATUS(mcps_store_new(NULL, &s, &err), MCPS_OK, err);
    char entry[512];
    snprintf(entry, sizeof entry, "{\"url\": \"%s\", \"auth\": {\"type\": \"oauth\", \"client_id\": \"pre\"}}",
             w->resource);
    CHECK_STATUS(mcps_store_add_service(s, "added", entry, &err), MCPS_OK, err);
    snprintf(config, sizeof config,
             "{\"mcpServers\": {\"loaded\": {\"url\": \"%s\", \"auth\": {\"type\": \"none\"}}}}", w->resource);
    CHECK_STATUS(mcps_store_load_json(s, config, &err), MCPS_OK, err);
    char *json = status_of(s, "added");
    CHECK_CONTAINS(json, "\"mode\":\"oauth\"");
    CHECK_CONTAINS(json, "\"authorized\":false");
    mcps_string_free(json);
    json = status_of(s, "loaded");
    CHECK_CONTAINS(json, "\"mode\":\"none\"");
    mcps_string_free(json);
    CHECK_STATUS(mcps_store_add_service(s, "bad", "{\"url\": \"http://127.0.0.1:1/mcp\", \"auth\": {\"type\": \"oauth\", \"client_secret\": \"x\"}}", &err),
                 MCPS_ERR_CONFIG, err);
    CHECK_CONTAINS(mcps_error_message(err), "client_secret_env");
    clear_error(&err);
    mcps_store_free(s);
}

static void test_bad_input(mcps_store *s) {
    mcps_error *err = NULL;
    char *json = NULL;
    CHECK_STATUS(mcps_store_auth_status(NULL, "web", &json, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_auth_status(s, NULL, &json, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_auth_status(s, "web", NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_auth_status(s, "\xff\xfe", &json, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    CHECK_CONTAINS(mcps_error_message(err), "UTF-8");
    clear_error(&err);
    CHECK_STATUS(mcps_store_auth_status(s, "nope", &json, &err), MCPS_ERR_SERVICE_NOT_FOUND, err);
    clear_error(&err);
    CHECK(json == NULL); /* outputs only on success */

    CHECK_STATUS(mcps_store_auth_login(NULL, "web", 1000, &json, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_auth_login(s, NULL, 1000, &json, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_auth_login(s, "nope", 1000, &json, &err), MCPS_ERR_SERVICE_NOT_FOUND, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_auth_login(s, "local", 1000, &json, &err), MCPS_ERR_CONFIG, err);
    CHECK_CONTAINS(mcps_error_message(err), "OAuth");
    clear_error(&err);
    CHECK(json == NULL);

    CHECK_STATUS(mcps_store_auth_logout(NULL, "web", &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_auth_logout(s, NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_auth_logout(s, "nope", &err), MCPS_ERR_SERVICE_NOT_FOUND, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_auth_logout(s, "local", &err), MCPS_OK, err); /* nothing to forget */

    CHECK_STATUS(mcps_store_set_authorizer(NULL, browser, &g_agent, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_use_headless_authorizer(NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_authorization_redirect(NULL, "http://x", &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_authorization_fail(NULL, "x", &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK(!mcps_authorization_is_pending(NULL));
    mcps_authorization_free(NULL);

    /* A service without OAuth: status "none". */
    json = status_of(s, "local");
    CHECK_CONTAINS(json, "\"service\":\"local\"");
    CHECK_CONTAINS(json, "\"mode\":\"none\"");
    CHECK_CONTAINS(json, "\"authorized\":false");
    mcps_string_free(json);
}

static void test_login_call_logout(mcps_store *s, const oauth_world *w) {
    mcps_error *err = NULL;
    char *json = status_of(s, "web");
    CHECK_CONTAINS(json, "\"mode\":\"oauth\"");
    CHECK_CONTAINS(json, "\"authorized\":false");
    mcps_string_free(json);

    /* No authorizer, no login: a clear error at once. */
    double started = now_ms();
    echo_expect(s, "x", MCPS_ERR_AUTH, "service 'web' refused the request (HTTP 401");
    echo_expect(s, "x", MCPS_ERR_AUTH, "mcps_store_auth_login");
    CHECK(now_ms() - started < 10000);
    CHECK(as_stat(w, "registrations") == 0); /* nothing registered for a login nobody can do */

    /* Login through the C authorizer. */
    CHECK_STATUS(mcps_store_set_authorizer(s, browser, &g_agent, &err), MCPS_OK, err);
    json = NULL;
    CHECK_STATUS(mcps_store_auth_login(s, "web", 20000, &json, &err), MCPS_OK, err);
    clear_error(&err);
    CHECK_CONTAINS(json, "\"authorized\":true");
    CHECK_CONTAINS(json, "\"renewable\":true");
    CHECK_CONTAINS(json, "\"mode\":\"oauth\"");
    CHECK_CONTAINS(json, w->issuer);
    CHECK_CONTAINS(json, w->resource);
    CHECK_CONTAINS(json, "mcp:tools");
    CHECK(json != NULL && strstr(json, "token\"") == NULL); /* no token in the status */
    mcps_string_free(json);
    CHECK(calls(&g_agent) == 1);
    CHECK(strcmp(g_agent.service, "web") == 0);
    CHECK(strncmp(g_agent.url, w->issuer, strlen(w->issuer)) == 0);
    CHECK_CONTAINS(g_agent.url, "/authorize?");
    CHECK_CONTAINS(g_agent.url, "code_challenge_method=S256");
    CHECK(strcmp(g_agent.redirect_uri, "http://127.0.0.1:0/callback") == 0);
    CHECK(g_agent.timeout_ms > 0 && g_agent.timeout_ms <= 20000);
    CHECK(as_stat(w, "registrations") == 1);
    CHECK(as_stat(w, "authorizations") == 1);
    CHECK(as_stat(w, "authorization_code") == 1);

    /* Calls carry the token; the demo server accepts it. */
    echo_expect(s, "hello through OAuth", MCPS_OK, NULL);
    echo_expect(s, "again", MCPS_OK, NULL);
    json = status_of(s, "web");
    CHECK_CONTAINS(json, "\"authorized\":true");
    CHECK(json_number(json, "expires_at") > 0);
    mcps_string_free(json);
    CHECK(calls(&g_agent) == 1);

    /* The default token store: a file of mode 0600 in the configuration directory. */
    struct stat st;
    CHECK(stat(credentials_path(), &st) == 0 && (st.st_mode & 0777) == 0600);

    /* Logout: forgotten; with the authorizer still set, the next call authorizes again. */
    CHECK_STATUS(mcps_store_auth_logout(s, "web", &err), MCPS_OK, err);
    json = status_of(s, "web");
    CHECK_CONTAINS(json, "\"authorized\":false");
    mcps_string_free(json);
    echo_expect(s, "after logout", MCPS_OK, NULL);
    CHECK(calls(&g_agent) == 2);
    CHECK(as_stat(w, "authorizations") == 2);

    /* Without an authorizer, a logged-out service refuses calls again. */
    CHECK_STATUS(mcps_store_set_authorizer(s, NULL, NULL, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_auth_logout(s, "web", &err), MCPS_OK, err);
    echo_expect(s, "x", MCPS_ERR_AUTH, "needs a user to authorize it");
    CHECK(calls(&g_agent) == 2);
}

static void expect_login(mcps_store *s, uint64_t timeout_ms, mcps_status want, const char *words) {
    mcps_error *err = NULL;
    char *json = NULL;
    CHECK_STATUS(mcps_store_auth_login(s, "web", timeout_ms, &json, &err), want, err);
    if (want == MCPS_OK) {
        CHECK_CONTAINS(json, "\"authorized\":true");
    } else {
        CHECK(json == NULL);
        if (words != NULL) {
            CHECK_CONTAINS(mcps_error_message(err), words);
        }
    }
    mcps_string_free(json);
    mcps_error_free(err);
}

static void test_authorizer_answers(mcps_store *s) {
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_set_authorizer(s, refuser, &g_agent, &err), MCPS_OK, err);
    expect_login(s, 10000, MCPS_ERR_AUTH, "the user said no");

    CHECK_STATUS(mcps_store_set_authorizer(s, releaser, &g_agent, &err), MCPS_OK, err);
    expect_login(s, 10000, MCPS_ERR_AUTH, "without answering");

    /* Never answered: the login fails at its deadline; a late answer is refused. */
    g_agent.kept = NULL;
    CHECK_STATUS(mcps_store_set_authorizer(s, silent, &g_agent, &err), MCPS_OK, err);
    double started = now_ms();
    expect_login(s, 800, MCPS_ERR_AUTH, "deadline");
    CHECK(now_ms() - started < 800 + LOAD_MARGIN_MS);
    CHECK(g_agent.kept != NULL);
    if (g_agent.kept != NULL) {
        CHECK(!mcps_authorization_is_pending(g_agent.kept));
        CHECK_STATUS(mcps_authorization_redirect(g_agent.kept, "http://127.0.0.1:0/callback?code=x&state=y", &err),
                     MCPS_ERR_TIMEOUT, err);
        clear_error(&err);
        g_agent.kept = NULL;
    }

    /* Answered later from another thread. */
    CHECK_STATUS(mcps_store_set_authorizer(s, deferring, &g_agent, &err), MCPS_OK, err);
    expect_login(s, 10000, MCPS_OK, NULL);
    echo_expect(s, "deferred", MCPS_OK, NULL);
}

static mcps_store *g_login_store;

static void *login_thread(void *arg) {
    (void)arg;
    expect_login(g_login_store, 10000, MCPS_OK, NULL);
    return NULL;
}

static int is_running(void *arg) {
    return ((agent *)arg)->running;
}

static void test_replace_safely(mcps_store *s) {
    mcps_error *err = NULL;
    /* Replacing while the old callback runs returns only after it returned. */
    g_agent.running = g_agent.returned = 0;
    CHECK_STATUS(mcps_store_set_authorizer(s, slow, &g_agent, &err), MCPS_OK, err);
    g_login_store = s;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, login_thread, NULL) == 0);
    CHECK(wait_until(is_running, &g_agent, 10000));
    CHECK_STATUS(mcps_store_set_authorizer(s, NULL, NULL, &err), MCPS_OK, err);
    CHECK(g_agent.returned == 1);
    pthread_join(t, NULL);

    /* Replacing from inside the callback returns at once. */
    g_agent.store = s;
    int before = calls(&g_agent);
    CHECK_STATUS(mcps_store_set_authorizer(s, replacing, &g_agent, &err), MCPS_OK, err);
    expect_login(s, 10000, MCPS_OK, NULL);
    expect_login(s, 10000, MCPS_OK, NULL); /* the browser it installed */
    CHECK(calls(&g_agent) == before + 2);
}

static void test_headless(mcps_store *s, const oauth_world *w) {
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_auth_logout(s, "web", &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_use_headless_authorizer(s, &err), MCPS_OK, err);
    int before = calls(&g_agent);
    long long authorizations = as_stat(w, "authorizations");
    echo_expect(s, "headless", MCPS_OK, NULL); /* authorized during the call */
    CHECK(calls(&g_agent) == before);
    CHECK(as_stat(w, "authorizations") == authorizations + 1);
    expect_login(s, 10000, MCPS_OK, NULL);
    /* A C authorizer replaces it again. */
    CHECK_STATUS(mcps_store_set_authorizer(s, browser, &g_agent, &err), MCPS_OK, err);
    expect_login(s, 10000, MCPS_OK, NULL);
    CHECK(calls(&g_agent) == before + 1);
}

/* A new store finds the stored credential: no new login. */
static void test_stored(const char *config, const oauth_world *w) {
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_new(config, &s, &err), MCPS_OK, err);
    if (s == NULL) {
        return;
    }
    long long authorizations = as_stat(w, "authorizations");
    char *json = status_of(s, "web");
    CHECK_CONTAINS(json, "\"authorized\":true"); /* from the file, before any request */
    mcps_string_free(json);
    echo_expect(s, "stored", MCPS_OK, NULL);
    CHECK(as_stat(w, "authorizations") == authorizations);
    CHECK_STATUS(mcps_store_auth_logout(s, "web", &err), MCPS_OK, err);
    mcps_store_free(s);
}

/* The whole file at `path` (NULL when it cannot be read); the caller frees it. */
static char *file_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *text = calloc(1, 65536);
    if (text != NULL) {
        size_t n = fread(text, 1, 65535, f);
        text[n] = '\0';
    }
    fclose(f);
    return text;
}

/* A store from `config` with a top-level "credentials": `value`, logged in headlessly. */
static mcps_store *store_with_credentials(const char *config, const char *value) {
    char with[4096];
    snprintf(with, sizeof with, "{\"credentials\": %s, %s", value, config + 1);
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_new(with, &s, &err), MCPS_OK, err);
    mcps_error_free(err);
    return s;
}

/* mcp.json's "credentials" chooses the token store: memory, or a file of the caller's. */
static void test_credentials_choice(const char *config, const oauth_world *w) {
    mcps_error *err = NULL;
    char *default_before = file_text(credentials_path());

    /* In memory: authorized for this store only, the default file untouched. */
    mcps_store *s = store_with_credentials(config, "\"memory\"");
    if (s != NULL) {
        CHECK_STATUS(mcps_store_use_headless_authorizer(s, &err), MCPS_OK, err);
        long long authorizations = as_stat(w, "authorizations");
        echo_expect(s, "kept in memory", MCPS_OK, NULL);
        CHECK(as_stat(w, "authorizations") == authorizations + 1);
        char *json = status_of(s, "web");
        CHECK_CONTAINS(json, "\"authorized\":true");
        mcps_string_free(json);
        mcps_store_free(s);
    }
    s = store_with_credentials(config, "\"memory\"");
    if (s != NULL) {
        char *json = status_of(s, "web");
        CHECK_CONTAINS(json, "\"authorized\":false"); /* a new store logs in again */
        mcps_string_free(json);
        mcps_store_free(s);
    }
    char *default_after = file_text(credentials_path());
    CHECK((default_before == NULL) == (default_after == NULL));
    CHECK(default_before == NULL || default_after == NULL || strcmp(default_before, default_after) == 0);
    free(default_before);
    free(default_after);

    /* A file of the caller's: written there (mode 0600), read by the next store. */
    char path[192], value[256];
    snprintf(path, sizeof path, "%s/chosen-credentials.json", g_config_home);
    snprintf(value, sizeof value, "{\"file\": \"%s\"}", path);
    s = store_with_credentials(config, value);
    if (s != NULL) {
        CHECK_STATUS(mcps_store_use_headless_authorizer(s, &err), MCPS_OK, err);
        echo_expect(s, "kept in my file", MCPS_OK, NULL);
        mcps_store_free(s);
    }
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    char *chosen = file_text(path);
    CHECK_CONTAINS(chosen, w->issuer);
    free(chosen);
    s = store_with_credentials(config, value);
    if (s != NULL) {
        char *json = status_of(s, "web");
        CHECK_CONTAINS(json, "\"authorized\":true"); /* from the chosen file */
        mcps_string_free(json);
        CHECK_STATUS(mcps_store_auth_logout(s, "web", &err), MCPS_OK, err);
        mcps_store_free(s);
    }
    unlink(path);

    /* Anything else is a config error naming the key. */
    char bad[4096];
    snprintf(bad, sizeof bad, "{\"credentials\": \"disk\", %s", config + 1);
    s = NULL;
    CHECK_STATUS(mcps_store_new(bad, &s, &err), MCPS_ERR_CONFIG, err);
    CHECK(s == NULL);
    CHECK_CONTAINS(mcps_error_message(err), "credentials");
    mcps_error_free(err);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_config_home, sizeof g_config_home, "/tmp/mcps-c-auth-XXXXXX");
    if (mkdtemp(g_config_home) == NULL) {
        fatal("mkdtemp: %s", strerror(errno));
    }
    setenv("XDG_CONFIG_HOME", g_config_home, 1); /* before any store: the default token store */

    oauth_world w;
    world_start(&w);
    test_config(&w);

    char *local = stdio_service("");
    char config[2048];
    snprintf(config, sizeof config,
             "{\"mcpServers\": {\"web\": {\"url\": \"%s\", \"auth\": {\"type\": \"oauth\", \"scopes\": "
             "[\"mcp:tools\"], \"client_name\": \"mcpstore C test\"}}, \"local\": %s}, "
             "\"performance\": {\"call_timeout\": 15, \"connection_timeout\": 10}}",
             w.resource, local);
    free(local);
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    if (mcps_store_new(config, &s, &err) != MCPS_OK) {
        fatal("mcps_store_new: %s", mcps_error_message(err));
    }
    test_bad_input(s);
    test_login_call_logout(s, &w);
    test_authorizer_answers(s);
    test_replace_safely(s);
    test_headless(s, &w);
    mcps_store_free(s); /* with a C authorizer set */
    test_stored(config, &w);
    test_credentials_choice(config, &w);

    world_stop(&w);
    unlink(credentials_path());
    char dir[128];
    snprintf(dir, sizeof dir, "%s/mcpstore", g_config_home);
    rmdir(dir);
    rmdir(g_config_home);
    return finish("test_auth");
}
