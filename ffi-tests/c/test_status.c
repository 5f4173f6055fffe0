/* Every status a caller can reach through the C API from a real server, each
 * on the path that produces it (MCPS_ERR_PANIC and MCPS_ERR_INTERNAL are
 * bugs, unreachable from C: the Rust unit tests of src/ffi cover the panic
 * boundary). Statuses of the synchronous argument checks are in test_basic,
 * those of background calls (cancel, not ready, closed) in test_async. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

/* A store with one demo service named `name` over stdio started with `args`. */
static mcps_store *stdio_store(const char *name, const char *args, const char *perf) {
    char *service = stdio_service(args);
    char *config = one_service_config(name, service, perf);
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    if (mcps_store_new(config, &s, &err) != MCPS_OK) {
        fatal("mcps_store_new: %s", mcps_error_message(err));
    }
    free(service);
    free(config);
    return s;
}

static void expect_call(mcps_store *s, const char *tool, const char *args, mcps_status want,
                        const char *message_part, int line) {
    mcps_result *r = NULL;
    mcps_error *err = NULL;
    mcps_status st = mcps_store_call_tool(s, tool, args, &r, &err);
    check_status_at(st, want, err, __FILE__, line, tool);
    if (st != MCPS_OK) {
        check_record(r == NULL, __FILE__, line, "no result on failure");
        check_record(mcps_error_code(err) == st, __FILE__, line, "error code == status");
        if (message_part != NULL) {
            const char *m = mcps_error_message(err);
            int ok = strstr(m, message_part) != NULL;
            if (!ok) {
                fprintf(stderr, "message was: %s\n", m);
            }
            check_record(ok, __FILE__, line, message_part);
        }
    }
    mcps_result_free(r);
    mcps_error_free(err);
}

#define EXPECT_CALL(s, tool, args, want, part) expect_call((s), (tool), (args), (want), (part), __LINE__)

/* Garbage instead of a reply: over HTTP that body was the answer (a protocol
 * error); over stdio a stray line is skipped, so the call times out and says
 * what the server wrote instead. */
static void test_protocol_error(void) {
    http_server garbled;
    const char *extra[] = {"--json", "--garbage-after", "0", NULL};
    http_server_start(&garbled, extra);
    char *service = http_service(garbled.url);
    char config[1024];
    snprintf(config, sizeof config, "{\"mcpServers\": {\"g\": %s}, \"performance\": {\"min_connections\": 1}}",
             service);
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_new(config, &s, &err), MCPS_OK, err);
    EXPECT_CALL(s, "echo", "{\"message\": \"x\"}", MCPS_ERR_PROTOCOL, "<<garbage>>");
    mcps_store_free(s);
    free(service);
    http_server_stop(&garbled);

    /* One session: after its health check clears it, the same process serves on. */
    s = stdio_store("g", "\"--garbage-after\", \"0\"", "{\"min_connections\": 1, \"max_connections\": 1}");
    mcps_result *r = NULL;
    CHECK_STATUS(mcps_store_call_tool_with(s, "echo", "{\"message\": \"x\"}", "{\"timeout_ms\": 1000}", NULL, &r,
                                           &err),
                 MCPS_ERR_TIMEOUT, err);
    CHECK_CONTAINS(mcps_error_message(err), "<<garbage>>");
    clear_error(&err);
    EXPECT_CALL(s, "echo", "{\"message\": \"still serving\"}", MCPS_OK, NULL);
    mcps_store_free(s);
}

static void test_closed_when_the_server_dies(void) {
    mcps_store *s = stdio_store("c", "\"--crash-after\", \"0\"",
                                "{\"min_connections\": 1, \"max_retries\": 0}");
    EXPECT_CALL(s, "echo", "{\"message\": \"x\"}", MCPS_ERR_CLOSED, "exited");
    mcps_store_free(s);
}

static void test_response_too_large(void) {
    mcps_store *s = stdio_store("b", "", "{\"min_connections\": 1, \"max_response_bytes\": 20000}");
    EXPECT_CALL(s, "big", "{\"bytes\": 100}", MCPS_OK, NULL);
    EXPECT_CALL(s, "big", "{\"bytes\": 50000}", MCPS_ERR_RESPONSE_TOO_LARGE, "20000");
    mcps_store_free(s);
}

static void test_timeout(void) {
    mcps_store *s = stdio_store("t", "", "{\"min_connections\": 1, \"call_timeout\": 0.3}");
    double start = now_ms();
    EXPECT_CALL(s, "sleep", "{\"ms\": 5000}", MCPS_ERR_TIMEOUT, "timed out");
    /* At the call timeout (300 ms) plus a margin for a loaded machine, long before the 5 s sleep ends. */
    CHECK(now_ms() - start < 300 + LOAD_MARGIN_MS);
    mcps_store_free(s);
}

typedef struct pool_in_flight {
    mcps_store *store;
    const char *sample; /* the Prometheus line to wait for */
} pool_in_flight;

/* Whether the store's Prometheus text holds the sample line. */
static int has_sample(void *arg) {
    pool_in_flight *w = arg;
    char *text = NULL;
    if (mcps_store_stats_prometheus(w->store, &text, NULL) != MCPS_OK) {
        return 0;
    }
    int found = strstr(text, w->sample) != NULL;
    mcps_string_free(text);
    return found;
}

static void test_tool_not_found_and_rpc(void) {
    mcps_store *s = stdio_store("d", "", "{\"min_connections\": 1}");
    EXPECT_CALL(s, "d.nope", "{}", MCPS_ERR_TOOL_NOT_FOUND, "nope");
    EXPECT_CALL(s, "add", "{\"a\": \"x\"}", MCPS_ERR_RPC, NULL);
    mcps_store_free(s);
}

static void test_pool_exhausted(void) {
    mcps_store *s = stdio_store("p", "",
                                "{\"min_connections\": 1, \"max_connections\": 1, "
                                "\"max_in_flight_per_connection\": 1, \"acquire_timeout\": 0.2, "
                                "\"max_retries\": 0}");
    EXPECT_CALL(s, "echo", "{\"message\": \"warm\"}", MCPS_OK, NULL);
    mcps_call *call = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_submit(s, "sleep", "{\"ms\": 1500}", NULL, NULL, &call, &err), MCPS_OK,
                 err);
    /* Wait (bounded) until the sleep holds the only session. */
    pool_in_flight busy = {s, "mcpstore_pool_calls_in_flight{service=\"p\"} 1\n"};
    CHECK(wait_until(has_sample, &busy, 10000));
    EXPECT_CALL(s, "echo", "{\"message\": \"x\"}", MCPS_ERR_POOL_EXHAUSTED, "no free session");
    mcps_result *r = NULL;
    CHECK_STATUS(mcps_call_wait(call, 10000, &r, &err), MCPS_OK, err);
    mcps_result_free(r);
    mcps_call_free(call);
    mcps_store_free(s);
}

static int g_busy_callbacks = 0;

static void count_callback(void *userdata, mcps_status status, const mcps_result *result,
                           const mcps_error *error) {
    (void)status;
    (void)result;
    (void)error;
    __sync_fetch_and_add((int *)userdata, 1);
}

static void test_busy(void) {
    mcps_store *s = stdio_store("q", "",
                                "{\"min_connections\": 1, \"max_concurrent_calls\": 1, "
                                "\"submit_timeout\": 0.1}");
    mcps_call *first = NULL;
    mcps_call *second = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_submit(s, "sleep", "{\"ms\": 800}", count_callback, &g_busy_callbacks,
                                   &first, &err),
                 MCPS_OK, err);
    CHECK_STATUS(mcps_store_submit(s, "echo", "{\"message\": \"x\"}", count_callback,
                                   &g_busy_callbacks, &second, &err),
                 MCPS_ERR_BUSY, err);
    CHECK(second == NULL);
    CHECK(mcps_error_code(err) == MCPS_ERR_BUSY);
    clear_error(&err);
    mcps_result *r = NULL;
    CHECK_STATUS(mcps_call_wait(first, 10000, &r, &err), MCPS_OK, err);
    mcps_result_free(r);
    mcps_call_free(first);
    mcps_store_free(s);
    sleep_ms(100);
    /* The refused submission never runs its callback. */
    CHECK(__sync_fetch_and_add(&g_busy_callbacks, 0) == 1);
}

/* Services that cannot start: their tools are unknown, list_tools says why
 * (MCPS_ERR_CLOSED with the cause), and list_services shows the last error:
 * unsupported protocol version, HTTP status, connection failure. */
static void test_services_that_fail_to_start(void) {
    http_server guarded;
    const char *extra[] = {"--require-header", "X-Key: secret", NULL};
    http_server_start(&guarded, extra);
    char *version = stdio_service("\"--protocol-version\", \"1999-01-01\"");
    char *missing = stdio_service("");
    char *p = strstr(missing, "mcpstore-demo-server");
    if (p != NULL) {
        memcpy(p, "no-such-server-here!", strlen("mcpstore-demo-server"));
    }
    char *guarded_service = http_service(guarded.url);
    char config[4096];
    snprintf(config, sizeof config,
             "{\"mcpServers\": {\"v\": %s, \"m\": %s, \"h\": %s}, "
             "\"performance\": {\"connection_timeout\": 2, \"min_connections\": 1}}",
             version, missing, guarded_service);
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_new(config, &s, &err), MCPS_OK, err);

    char *json = NULL;
    CHECK_STATUS(mcps_store_list_tools(s, "v", &json, &err), MCPS_ERR_CLOSED, err);
    CHECK_CONTAINS(mcps_error_message(err), "unsupported protocol version");
    clear_error(&err);
    CHECK_STATUS(mcps_store_list_tools(s, "m", &json, &err), MCPS_ERR_CLOSED, err);
    /* Under valgrind a failed exec is the child's own exit (valgrind runs the exec in the
     * child), so the library sees a server that ended at once ("closed its input" or
     * "process exited", whichever it notices first), not a spawn error. */
    CHECK_CONTAINS(mcps_error_message(err), getenv("MCPS_UNDER_VALGRIND") ? "closed: server " : "cannot start");
    clear_error(&err);
    /* A 401 is a refusal for want of authorization: the auth status, naming the HTTP status. */
    CHECK_STATUS(mcps_store_list_tools(s, "h", &json, &err), MCPS_ERR_AUTH, err);
    CHECK_CONTAINS(mcps_error_message(err), "401");
    clear_error(&err);
    CHECK(json == NULL);
    /* A tool of a service that never connected: "closed", naming the cause. */
    EXPECT_CALL(s, "v.echo", "{\"message\": \"x\"}", MCPS_ERR_CLOSED, "unsupported protocol version");

    CHECK_STATUS(mcps_store_list_services(s, &json, &err), MCPS_OK, err);
    CHECK_CONTAINS(json, "unsupported protocol version");
    CHECK_CONTAINS(json, "HTTP 401");
    mcps_string_free(json);

    mcps_store_free(s);
    http_server_stop(&guarded);
    free(version);
    free(missing);
    free(guarded_service);
}

/* A connection refused after the server went away: MCPS_ERR_TRANSPORT. */
static void test_transport_error(void) {
    http_server srv;
    http_server_start(&srv, NULL);
    char *service = http_service(srv.url);
    char *config =
        one_service_config("web", service, "{\"min_connections\": 1, \"max_retries\": 0}");
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_new(config, &s, &err), MCPS_OK, err);
    EXPECT_CALL(s, "echo", "{\"message\": \"up\"}", MCPS_OK, NULL);
    http_server_stop(&srv);
    EXPECT_CALL(s, "echo", "{\"message\": \"down\"}", MCPS_ERR_TRANSPORT, "transport error");
    mcps_store_free(s);
    free(service);
    free(config);
}

int main(void) {
    test_protocol_error();
    test_closed_when_the_server_dies();
    test_response_too_large();
    test_timeout();
    test_tool_not_found_and_rpc();
    test_pool_exhausted();
    test_busy();
    test_services_that_fail_to_start();
    test_transport_error();
    return finish("test_status");
}
