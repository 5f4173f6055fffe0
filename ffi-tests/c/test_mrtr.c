/* Multi-round-trip results (MRTR, protocol 2026-07-28) through the C API,
 * against the rmcp 3.11 interop server over stdio and Streamable HTTP: its
 * confirm_action (elicitation), ask_model (sampling) and client_roots (roots)
 * tools answer `tools/call` with `resultType: "input_required"`, and the
 * store fulfils the input requests through the C handlers and retries. Each
 * tool through a blocking call, a batch (beside echo), and a background call
 * (a handle, a callback, a completion queue); a handler that declines, one
 * that refuses, one too slow for the call's deadline; an MRTR result is never
 * cached. Then the same with the service pinned to 2025-11-25, where the
 * tools send classic server requests to the same handlers.
 *
 * The server comes from MCPSTORE_RMCP_SERVER (target/test-deps/env.sh,
 * written by scripts/install-test-deps.sh); a server that cannot start
 * fails the test. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MODERN "2026-07-28"
#define HANDSHAKE "2025-11-25"
#define WAIT_MS 30000
/* The sampling handler's delay for questions containing "slow", and the deadline of that call. */
#define SLOW_ANSWER_MS 2500
#define SLOW_CALL_TIMEOUT_MS 500

static const char *rmcp_server(void) {
    const char *path = getenv("MCPSTORE_RMCP_SERVER");
    if (path == NULL || path[0] == '\0') {
        fatal("MCPSTORE_RMCP_SERVER is not set: run `bash scripts/install-test-deps.sh` and "
              "`source target/test-deps/env.sh`");
    }
    if (access(path, X_OK) != 0) {
        fatal("MCPSTORE_RMCP_SERVER=%s is not executable: %s", path, strerror(errno));
    }
    return path;
}

/* ------------------------------------------------------------------ the HTTP server process */

typedef struct rmcp_http {
    pid_t pid;
    int stdout_fd;
    char url[512];
} rmcp_http;

/* The server process, killed at exit when a check was fatal. */
static rmcp_http *g_running;

static void kill_running_server(void) {
    if (g_running != NULL && g_running->pid > 0) {
        kill(g_running->pid, SIGKILL);
        waitpid(g_running->pid, NULL, 0);
        g_running->pid = 0;
    }
}

/* Starts `rmcp-interop-server --http 0` and reads `READY http://127.0.0.1:PORT/mcp` from its stdout. */
static void rmcp_http_start(rmcp_http *srv) {
    const char *path = rmcp_server();
    const char *argv[] = {path, "--http", "0", NULL};
    int out = -1;
    pid_t pid = spawn_piped(path, argv, 1, &out);
    char line[256];
    size_t len = 0;
    int ready = 0;
    double deadline = now_ms() + 20000;
    while (!ready && now_ms() < deadline) {
        struct pollfd p = {out, POLLIN, 0};
        int left = (int)(deadline - now_ms());
        int r = poll(&p, 1, left > 0 ? left : 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        char c;
        if (read(out, &c, 1) != 1) {
            break; /* the server exited */
        }
        if (c != '\n' && len + 1 < sizeof line) {
            line[len++] = c;
            continue;
        }
        line[len] = '\0';
        len = 0;
        if (strncmp(line, "READY http://", strlen("READY http://")) == 0) {
            snprintf(srv->url, sizeof srv->url, "%s", line + strlen("READY "));
            ready = 1;
        }
    }
    if (!ready) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(out);
        fatal("%s --http 0 did not print its READY line within 20 s", path);
    }
    srv->pid = pid;
    srv->stdout_fd = out;
    g_running = srv;
    atexit(kill_running_server);
}

static void rmcp_http_stop(rmcp_http *srv) {
    if (srv->pid <= 0) {
        return;
    }
    kill(srv->pid, SIGTERM);
    double deadline = now_ms() + 5000;
    while (waitpid(srv->pid, NULL, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(srv->pid, SIGKILL);
            waitpid(srv->pid, NULL, 0);
            break;
        }
        sleep_ms(10);
    }
    srv->pid = 0;
    close(srv->stdout_fd);
    g_running = NULL;
}

/* ------------------------------------------------------------------ handlers */

/* What the handlers saw; they run on the store's dispatch thread. */
typedef struct seen {
    atomic_int elicitations;
    atomic_int samplings;
    atomic_int roots;
    pthread_mutex_t lock;
    char elicitation[4096]; /* the last request of each kind */
    char sampling[4096];
    char service[64];
} seen;

static seen g_seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void remember(char *dst, size_t size, const char *service, const char *request_json) {
    pthread_mutex_lock(&g_seen.lock);
    snprintf(dst, size, "%s", request_json);
    snprintf(g_seen.service, sizeof g_seen.service, "%s", service);
    pthread_mutex_unlock(&g_seen.lock);
}

/* Accepts (confirmed: true), but declines an action containing "drop". */
static void on_elicitation(void *userdata, const char *service, const char *request_json, mcps_reply *reply) {
    (void)userdata;
    atomic_fetch_add(&g_seen.elicitations, 1);
    remember(g_seen.elicitation, sizeof g_seen.elicitation, service, request_json);
    const char *answer = strstr(request_json, "drop") != NULL
                             ? "{\"action\": \"decline\"}"
                             : "{\"action\": \"accept\", \"content\": {\"confirmed\": true}}";
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_reply_result(reply, answer, &err), MCPS_OK, err);
    mcps_error_free(err);
}

/* Copies the first `"text":"..."` of `json` (no escapes in these tests) into `out`. */
static void first_text(const char *json, char *out, size_t size) {
    out[0] = '\0';
    const char *at = strstr(json, "\"text\":\"");
    if (at == NULL) {
        return;
    }
    at += strlen("\"text\":\"");
    const char *end = strchr(at, '"');
    size_t n = end != NULL ? (size_t)(end - at) : strlen(at);
    if (n >= size) {
        n = size - 1;
    }
    memcpy(out, at, n);
    out[n] = '\0';
}

/* Answers "C says <question>" as model c-model; refuses a question containing
 * "refuse"; answers one containing "slow" after SLOW_ANSWER_MS. */
static void on_sampling(void *userdata, const char *service, const char *request_json, mcps_reply *reply) {
    (void)userdata;
    atomic_fetch_add(&g_seen.samplings, 1);
    remember(g_seen.sampling, sizeof g_seen.sampling, service, request_json);
    char question[256];
    first_text(request_json, question, sizeof question);
    mcps_error *err = NULL;
    if (strstr(question, "refuse") != NULL) {
        CHECK_STATUS(mcps_reply_error(reply, -1, "the user said no", &err), MCPS_OK, err);
        mcps_error_free(err);
        return;
    }
    if (strstr(question, "slow") != NULL) {
        sleep_ms(SLOW_ANSWER_MS);
    }
    char answer[512];
    snprintf(answer, sizeof answer,
             "{\"role\": \"assistant\", \"content\": {\"type\": \"text\", \"text\": \"C says %s\"}, "
             "\"model\": \"c-model\", \"stopReason\": \"endTurn\"}",
             question);
    mcps_status st = mcps_reply_result(reply, answer, &err);
    if (strstr(question, "slow") == NULL) {
        CHECK_STATUS(st, MCPS_OK, err); /* the slow one's call may have given up on it */
    }
    mcps_error_free(err);
}

static void on_roots(void *userdata, const char *service, const char *request_json, mcps_reply *reply) {
    (void)userdata;
    (void)service;
    (void)request_json;
    atomic_fetch_add(&g_seen.roots, 1);
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_reply_result(reply, "{\"roots\": [{\"uri\": \"file:///srv/c-mrtr\", \"name\": \"c\"}]}", &err),
                 MCPS_OK, err);
    mcps_error_free(err);
}

/* ------------------------------------------------------------------ helpers */

typedef struct era_case {
    const char *name;     /* for messages */
    const char *service;  /* the service's mcp.json entry */
    const char *want_era; /* what list_services must report */
} era_case;

/* A store with the three handlers registered before the service is added
 * (a 2025-11-25 server learns of the capabilities at initialize). */
static mcps_store *open_rmcp(const era_case *c) {
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    if (mcps_store_new("{\"mcpServers\": {}, \"performance\": {\"handler_timeout\": 10}}", &s, &err) != MCPS_OK) {
        fatal("mcps_store_new: %s", mcps_error_message(err));
    }
    CHECK_STATUS(mcps_store_set_elicitation_handler(s, NULL, on_elicitation, NULL, false, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_set_sampling_handler(s, NULL, on_sampling, NULL, false, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_set_roots_handler(s, NULL, on_roots, NULL, &err), MCPS_OK, err);
    if (mcps_store_add_service(s, "rmcp", c->service, &err) != MCPS_OK) {
        fatal("%s: add_service(%s): %s", c->name, c->service, mcps_error_message(err));
    }
    char *tools = NULL;
    if (mcps_store_list_tools(s, "rmcp", &tools, &err) != MCPS_OK) {
        fatal("%s: the rmcp server did not start: %s", c->name, mcps_error_message(err));
    }
    if (strstr(tools, "\"confirm_action\"") == NULL || strstr(tools, "\"ask_model\"") == NULL ||
        strstr(tools, "\"client_roots\"") == NULL) {
        fatal("%s: the rmcp server does not offer the MRTR tools: %.300s", c->name, tools);
    }
    mcps_string_free(tools);
    return s;
}

/* Calls a tool; returns its text (or the error's message), malloc'ed. */
static char *call_text(mcps_store *s, const char *tool, const char *args, const char *options, mcps_status *status,
                       int *is_error, int *from_cache) {
    mcps_result *r = NULL;
    mcps_error *err = NULL;
    mcps_status st = mcps_store_call_tool_with(s, tool, args, options, NULL, &r, &err);
    char *text = strdup(st == MCPS_OK ? mcps_result_text(r) : mcps_error_message(err));
    *status = st;
    if (is_error != NULL) {
        *is_error = st == MCPS_OK && mcps_result_is_error(r);
    }
    if (from_cache != NULL) {
        *from_cache = st == MCPS_OK && mcps_result_from_cache(r);
    }
    mcps_result_free(r);
    mcps_error_free(err);
    return text;
}

/* Checks that a call succeeds with exactly `want` as its text. */
static void expect_text(mcps_store *s, const char *tool, const char *args, const char *want) {
    mcps_status st;
    int is_error = 1;
    char *text = call_text(s, tool, args, NULL, &st, &is_error, NULL);
    int ok = st == MCPS_OK && !is_error && strcmp(text, want) == 0;
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  %s %s: status %d isError %d: got '%s', want '%s'\n", tool, args, (int)st, is_error,
                text, want);
    }
    free(text);
}

/* ------------------------------------------------------------------ the checks */

static void check_era(mcps_store *s, const era_case *c) {
    char *json = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_list_services(s, &json, &err), MCPS_OK, err);
    char want[64];
    snprintf(want, sizeof want, "\"protocol_version\":\"%s\"", c->want_era);
    CHECK_CONTAINS(json, want);
    if (json == NULL || strstr(json, want) == NULL) {
        fprintf(stderr, "  %s: services %s\n", c->name, json != NULL ? json : "(none)");
    }
    mcps_string_free(json);
}

static void check_blocking(mcps_store *s, const era_case *c) {
    int elicitations = atomic_load(&g_seen.elicitations);
    int samplings = atomic_load(&g_seen.samplings);
    int roots = atomic_load(&g_seen.roots);

    expect_text(s, "rmcp.confirm_action", "{\"action\": \"deploy\"}", "confirmed: deploy");
    CHECK(atomic_load(&g_seen.elicitations) == elicitations + 1);
    pthread_mutex_lock(&g_seen.lock);
    CHECK_CONTAINS(g_seen.elicitation, "\"mode\":\"form\"");
    CHECK_CONTAINS(g_seen.elicitation, "Confirm deploy?");
    CHECK_CONTAINS(g_seen.elicitation, "\"requestedSchema\":");
    CHECK_CONTAINS(g_seen.elicitation, "\"confirmed\"");
    CHECK(strcmp(g_seen.service, "rmcp") == 0);
    pthread_mutex_unlock(&g_seen.lock);

    /* The handler declines: the server hears it. */
    expect_text(s, "rmcp.confirm_action", "{\"action\": \"drop table\"}", "not confirmed: drop table");

    expect_text(s, "rmcp.ask_model", "{\"question\": \"what is 6*7\"}", "model c-model said: C says what is 6*7");
    CHECK(atomic_load(&g_seen.samplings) == samplings + 1);
    pthread_mutex_lock(&g_seen.lock);
    CHECK_CONTAINS(g_seen.sampling, "\"messages\":[");
    CHECK_CONTAINS(g_seen.sampling, "what is 6*7");
    CHECK_CONTAINS(g_seen.sampling, "\"maxTokens\":100");
    pthread_mutex_unlock(&g_seen.lock);

    expect_text(s, "rmcp.client_roots", NULL, "roots: file:///srv/c-mrtr");
    CHECK(atomic_load(&g_seen.roots) >= roots + 1);

    /* A handler that refuses: the call fails (2026-07-28: the client could
     * not give the input) or the tool reports it (2025-11-25), with the message. */
    mcps_status st;
    int is_error = 0;
    char *text = call_text(s, "rmcp.ask_model", "{\"question\": \"refuse this\"}", NULL, &st, &is_error, NULL);
    if (strcmp(c->want_era, MODERN) == 0) {
        CHECK(st == MCPS_ERR_RPC);
    } else {
        CHECK(st == MCPS_OK && is_error);
    }
    CHECK_CONTAINS(text, "the user said no");
    if (strstr(text, "the user said no") == NULL) {
        fprintf(stderr, "  %s: refused sampling gave status %d: %s\n", c->name, (int)st, text);
    }
    free(text);

    /* The call's deadline holds across the rounds: a handler slower than it
     * ends the call with a timeout, long before the handler answers. */
    char options[64];
    snprintf(options, sizeof options, "{\"timeout_ms\": %d}", SLOW_CALL_TIMEOUT_MS);
    double start = now_ms();
    text = call_text(s, "rmcp.ask_model", "{\"question\": \"slow one\"}", options, &st, NULL, NULL);
    double took = now_ms() - start;
    CHECK(st == MCPS_ERR_TIMEOUT);
    CHECK(took < SLOW_CALL_TIMEOUT_MS + LOAD_MARGIN_MS);
    if (st != MCPS_ERR_TIMEOUT) {
        fprintf(stderr, "  %s: slow sampling gave status %d after %.0f ms: %s\n", c->name, (int)st, took, text);
    }
    free(text);

    /* The session lives on (the next call waits for the dispatch thread the slow handler holds). */
    expect_text(s, "rmcp.echo", "{\"message\": \"after the timeout\"}", "after the timeout");
    expect_text(s, "rmcp.confirm_action", "{\"action\": \"again\"}", "confirmed: again");
}

/* In 2026-07-28 a result that took input rounds is never cached, even under a cache key. */
static void check_never_cached(mcps_store *s) {
    const char *options = "{\"cache_key\": \"mrtr-confirm\"}";
    for (int i = 0; i < 2; i++) {
        mcps_status st;
        int is_error = 1, from_cache = 1;
        char *text = call_text(s, "rmcp.confirm_action", "{\"action\": \"cache\"}", options, &st, &is_error,
                               &from_cache);
        CHECK(st == MCPS_OK && !is_error && strcmp(text, "confirmed: cache") == 0);
        CHECK(!from_cache);
        free(text);
    }
    /* A plain call under a key is served from the cache the second time. */
    const char *plain = "{\"cache_key\": \"mrtr-echo\"}";
    int from_cache = 0;
    mcps_status st;
    char *text = call_text(s, "rmcp.echo", "{\"message\": \"cached\"}", plain, &st, NULL, &from_cache);
    CHECK(st == MCPS_OK && !from_cache);
    free(text);
    text = call_text(s, "rmcp.echo", "{\"message\": \"cached\"}", plain, &st, NULL, &from_cache);
    CHECK(st == MCPS_OK && from_cache);
    free(text);
    CHECK_STATUS(mcps_store_clear_cache(s), MCPS_OK, NULL);
}

/* Checks that `json` holds each of `wants` (NULL-terminated), in that order. */
static void expect_in_order(const char *json, const char *const *wants) {
    const char *at = json;
    for (; *wants != NULL; wants++) {
        const char *found = at != NULL ? strstr(at, *wants) : NULL;
        CHECK(found != NULL);
        if (found == NULL) {
            fprintf(stderr, "  '%s' missing (in order) from %s\n", *wants, json);
            return;
        }
        at = found + strlen(*wants);
    }
}

static void check_batch(mcps_store *s, int modern) {
    const char *calls =
        "["
        "{\"tool\": \"rmcp.confirm_action\", \"arguments\": {\"action\": \"b0\"}},"
        "{\"tool\": \"rmcp.ask_model\", \"arguments\": {\"question\": \"b1\"}},"
        "{\"tool\": \"rmcp.echo\", \"arguments\": {\"message\": \"beside\"}},"
        "{\"tool\": \"rmcp.client_roots\", \"arguments\": {}},"
        "{\"tool\": \"rmcp.confirm_action\", \"arguments\": {\"action\": \"drop b4\"}},"
        "{\"tool\": \"rmcp.confirm_action\", \"arguments\": {\"action\": \"b5\"}},"
        "{\"tool\": \"rmcp.ask_model\", \"arguments\": {\"question\": \"b6\"}},"
        "{\"tool\": \"rmcp.confirm_action\", \"arguments\": {\"action\": \"b7\"}, \"cache_key\": \"mrtr-b7\"}"
        "]";
    const char *const wants[] = {
        "\"text\":\"confirmed: b0\"",
        "\"text\":\"model c-model said: C says b1\"",
        "\"text\":\"beside\"",
        "\"text\":\"roots: file:///srv/c-mrtr\"",
        "\"text\":\"not confirmed: drop b4\"",
        "\"text\":\"confirmed: b5\"",
        "\"text\":\"model c-model said: C says b6\"",
        "\"text\":\"confirmed: b7\"",
        NULL,
    };
    /* The second time, b7's cache key finds nothing cached in 2026-07-28 (its
     * result took input rounds); in 2025-11-25 the call is a plain one. */
    for (int round = 0; round < 2; round++) {
        char *json = NULL;
        mcps_error *err = NULL;
        CHECK_STATUS(mcps_store_batch_call(s, calls, &json, &err), MCPS_OK, err);
        clear_error(&err);
        CHECK(json != NULL && strstr(json, "\"error\"") == NULL);
        CHECK(json != NULL && strstr(json, "\"isError\":true") == NULL);
        if (json != NULL) {
            expect_in_order(json, wants);
        }
        if (modern) {
            CHECK(json != NULL && strstr(json, "\"hit\":true") == NULL);
        }
        mcps_string_free(json);
    }
}

typedef struct callback_seen {
    atomic_int runs;
    mcps_status status;
    char text[256];
} callback_seen;

/* Runs on the store's dispatch thread. */
static void on_done(void *userdata, mcps_status status, const mcps_result *result, const mcps_error *error) {
    callback_seen *cs = userdata;
    cs->status = status;
    snprintf(cs->text, sizeof cs->text, "%s",
             status == MCPS_OK ? mcps_result_text(result) : mcps_error_message(error));
    atomic_fetch_add(&cs->runs, 1);
}

static void check_background(mcps_store *s) {
    mcps_error *err = NULL;

    /* A handle, waited on. */
    mcps_call *call = NULL;
    CHECK_STATUS(mcps_store_submit(s, "rmcp.confirm_action", "{\"action\": \"bg-handle\"}", NULL, NULL, &call, &err),
                 MCPS_OK, err);
    clear_error(&err);
    mcps_result *r = NULL;
    CHECK_STATUS(mcps_call_wait(call, WAIT_MS, &r, &err), MCPS_OK, err);
    clear_error(&err);
    CHECK(r != NULL && strcmp(mcps_result_text(r), "confirmed: bg-handle") == 0);
    mcps_result_free(r);
    r = NULL;
    mcps_call_free(call);
    call = NULL;

    /* A callback (and its handle: waiting returns once the callback returned). */
    static callback_seen sampled, rooted, declined;
    atomic_store(&sampled.runs, 0);
    atomic_store(&rooted.runs, 0);
    atomic_store(&declined.runs, 0);
    mcps_call *calls[3] = {NULL, NULL, NULL};
    CHECK_STATUS(mcps_store_submit(s, "rmcp.ask_model", "{\"question\": \"bg-callback\"}", on_done, &sampled,
                                   &calls[0], &err),
                 MCPS_OK, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_submit(s, "rmcp.client_roots", NULL, on_done, &rooted, &calls[1], &err), MCPS_OK, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_submit(s, "rmcp.confirm_action", "{\"action\": \"drop bg\"}", on_done, &declined,
                                   &calls[2], &err),
                 MCPS_OK, err);
    clear_error(&err);
    for (int i = 0; i < 3; i++) {
        if (calls[i] == NULL) {
            continue;
        }
        CHECK_STATUS(mcps_call_wait(calls[i], WAIT_MS, &r, &err), MCPS_OK, err);
        clear_error(&err);
        mcps_result_free(r);
        r = NULL;
        mcps_call_free(calls[i]);
    }
    CHECK(atomic_load(&sampled.runs) == 1 && sampled.status == MCPS_OK);
    CHECK(strcmp(sampled.text, "model c-model said: C says bg-callback") == 0);
    CHECK(atomic_load(&rooted.runs) == 1 && rooted.status == MCPS_OK);
    CHECK(strcmp(rooted.text, "roots: file:///srv/c-mrtr") == 0);
    CHECK(atomic_load(&declined.runs) == 1 && declined.status == MCPS_OK);
    CHECK(strcmp(declined.text, "not confirmed: drop bg") == 0);

    /* A completion queue, with tags. */
    mcps_queue *q = NULL;
    CHECK_STATUS(mcps_queue_new(s, &q, &err), MCPS_OK, err);
    clear_error(&err);
    static const struct {
        const char *tool, *args, *want;
    } subs[] = {
        {"rmcp.confirm_action", "{\"action\": \"q1\"}", "confirmed: q1"},
        {"rmcp.ask_model", "{\"question\": \"q2\"}", "model c-model said: C says q2"},
        {"rmcp.client_roots", "{}", "roots: file:///srv/c-mrtr"},
        {"rmcp.echo", "{\"message\": \"q4\"}", "q4"},
        {"rmcp.confirm_action", "{\"action\": \"drop q5\"}", "not confirmed: drop q5"},
    };
    const size_t n = sizeof subs / sizeof subs[0];
    for (size_t i = 0; i < n; i++) {
        CHECK_STATUS(mcps_queue_submit(q, subs[i].tool, subs[i].args, (uint64_t)(100 + i), &err), MCPS_OK, err);
        clear_error(&err);
    }
    int done[8] = {0};
    for (size_t i = 0; i < n; i++) {
        uint64_t tag = 0;
        mcps_status call_status = MCPS_ERR_INTERNAL;
        mcps_error *call_err = NULL;
        mcps_status st = mcps_queue_next(q, WAIT_MS, &tag, &call_status, &r, &call_err, &err);
        CHECK_STATUS(st, MCPS_OK, err);
        clear_error(&err);
        if (st != MCPS_OK) {
            break;
        }
        CHECK_STATUS(call_status, MCPS_OK, call_err);
        CHECK(tag >= 100 && tag < 100 + n);
        if (tag >= 100 && tag < 100 + n && r != NULL) {
            size_t k = (size_t)(tag - 100);
            int ok = strcmp(mcps_result_text(r), subs[k].want) == 0;
            CHECK(ok);
            if (!ok) {
                fprintf(stderr, "  queue tag %llu: got '%s', want '%s'\n", (unsigned long long)tag,
                        mcps_result_text(r), subs[k].want);
            }
            done[k]++;
        }
        mcps_result_free(r);
        r = NULL;
        mcps_error_free(call_err);
    }
    for (size_t i = 0; i < n; i++) {
        CHECK(done[i] == 1);
    }
    CHECK(mcps_queue_pending(q) == 0);
    mcps_queue_free(q);
}

static void run_case(const era_case *c) {
    printf("-- %s\n", c->name);
    fflush(stdout);
    int elicitations = atomic_load(&g_seen.elicitations);
    int samplings = atomic_load(&g_seen.samplings);
    int roots = atomic_load(&g_seen.roots);
    mcps_store *s = open_rmcp(c);
    check_era(s, c);
    check_blocking(s, c);
    if (strcmp(c->want_era, MODERN) == 0) {
        check_never_cached(s);
    }
    check_batch(s, strcmp(c->want_era, MODERN) == 0);
    check_background(s);
    check_era(s, c); /* still the same era */
    /* Every input went through the C handlers, in either era. */
    CHECK(atomic_load(&g_seen.elicitations) > elicitations);
    CHECK(atomic_load(&g_seen.samplings) > samplings);
    CHECK(atomic_load(&g_seen.roots) > roots);
    mcps_store_free(s);
}

static char *entry(const char *fmt, const char *a, const char *pin) {
    char pinned[64] = "";
    if (pin != NULL) {
        snprintf(pinned, sizeof pinned, ", \"protocol\": \"%s\"", pin);
    }
    char body[2048];
    snprintf(body, sizeof body, fmt, a);
    size_t len = strlen(body) + strlen(pinned) + 2;
    char *out = malloc(len + 1);
    if (out == NULL) {
        fatal("out of memory");
    }
    snprintf(out, len + 1, "{%s%s}", body, pinned);
    return out;
}

int main(void) {
    const char *server = rmcp_server();
    static rmcp_http http; /* static: the exit handler may kill it */
    rmcp_http_start(&http);

    char *stdio_auto = entry("\"command\": \"%s\", \"args\": [\"--stdio\"]", server, NULL);
    char *stdio_pinned = entry("\"command\": \"%s\", \"args\": [\"--stdio\"]", server, HANDSHAKE);
    char *http_auto = entry("\"url\": \"%s\"", http.url, NULL);
    char *http_pinned = entry("\"url\": \"%s\"", http.url, HANDSHAKE);
    const era_case cases[] = {
        {"stdio, protocol auto", stdio_auto, MODERN},
        {"streamable http, protocol auto", http_auto, MODERN},
        {"stdio, pinned to " HANDSHAKE, stdio_pinned, HANDSHAKE},
        {"streamable http, pinned to " HANDSHAKE, http_pinned, HANDSHAKE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(&cases[i]);
    }
    free(stdio_auto);
    free(stdio_pinned);
    free(http_auto);
    free(http_pinned);
    rmcp_http_stop(&http);
    return finish("test_mrtr");
}
