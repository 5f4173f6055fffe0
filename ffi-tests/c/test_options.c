/* Per-call options from C, over stdio and HTTP: timeout, cache key, cache
 * bypass, retry opt-in, and cancel tokens shared by several calls, for
 * single calls, background calls and completion queues; bad options give a
 * status, never a crash. */
#include "common.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void call_with(mcps_store *s, const char *tool, const char *args, const char *options,
                      const mcps_cancel *cancel, mcps_status want) {
    mcps_result *r = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_call_tool_with(s, tool, args, options, cancel, &r, &err), want, err);
    mcps_result_free(r);
    clear_error(&err);
}

static void test_timeout_and_cache(transport t) {
    /* One session: the counter below is one process's counter. */
    mcps_store *s = open_demo_store(t, "{\"min_connections\": 1, \"max_connections\": 1}");
    double start = now_ms();
    call_with(s, "sleep", "{\"ms\": 5000}", "{\"timeout_ms\": 300}", NULL, MCPS_ERR_TIMEOUT);
    CHECK(now_ms() - start < 3000); /* the call's own limit, not the sleep */

    const char *keyed = "{\"cache_key\": \"c-1\"}";
    mcps_result *first = NULL, *second = NULL, *bypassed = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_call_tool_with(s, "counter", NULL, keyed, NULL, &first, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_call_tool_with(s, "counter", NULL, keyed, NULL, &second, &err), MCPS_OK, err);
    CHECK(!mcps_result_from_cache(first) && mcps_result_from_cache(second));
    CHECK(strcmp(mcps_result_text(first), mcps_result_text(second)) == 0);
    const char *bypass = "{\"cache_key\": \"c-1\", \"bypass_cache\": true}";
    CHECK_STATUS(mcps_store_call_tool_with(s, "counter", NULL, bypass, NULL, &bypassed, &err), MCPS_OK, err);
    CHECK(!mcps_result_from_cache(bypassed));
    CHECK(strcmp(mcps_result_text(first), mcps_result_text(bypassed)) != 0); /* the counter moved on */
    mcps_result_free(first);
    mcps_result_free(second);
    mcps_result_free(bypassed);

    /* NULL options are the defaults; bad ones are refused before anything runs. */
    call_with(s, "echo", "{\"message\": \"x\"}", NULL, NULL, MCPS_OK);
    call_with(s, "echo", "{\"message\": \"x\"}", "[1]", NULL, MCPS_ERR_INVALID_ARGUMENT);
    call_with(s, "echo", "{\"message\": \"x\"}", "{\"timeout_ms\": \"soon\"}", NULL, MCPS_ERR_INVALID_ARGUMENT);
    call_with(s, "echo", "{\"message\": \"x\"}", "{\"cache_key\": 5}", NULL, MCPS_ERR_INVALID_ARGUMENT);
    call_with(s, "echo", "{\"message\": \"x\"}", "{not json", NULL, MCPS_ERR_INVALID_ARGUMENT);
    mcps_store_free(s);
}

typedef struct blocked_call {
    mcps_store *store;
    const mcps_cancel *token;
    mcps_status status;
    double returned_ms;
} blocked_call;

static void *sleep_with_token(void *arg) {
    blocked_call *c = arg;
    mcps_result *r = NULL;
    c->status = mcps_store_call_tool_with(c->store, "sleep", "{\"ms\": 10000}", NULL, c->token, &r, NULL);
    c->returned_ms = now_ms();
    mcps_result_free(r);
    return NULL;
}

/* One token stops a blocking call, a background call and a queued call at once. */
static void test_shared_cancel_token(transport t) {
    mcps_store *s = open_demo_store(t, "{\"min_connections\": 1}");
    mcps_cancel *token = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_cancel_new(&token, &err), MCPS_OK, err);
    CHECK(!mcps_cancel_is_cancelled(token));

    blocked_call blocked = {s, token, MCPS_OK, 0};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, sleep_with_token, &blocked) == 0);
    mcps_call *call = NULL;
    CHECK_STATUS(mcps_store_submit_with(s, "sleep", "{\"ms\": 10000}", NULL, token, NULL, NULL, &call, &err),
                 MCPS_OK, err);
    mcps_queue *q = NULL;
    CHECK_STATUS(mcps_queue_new(s, &q, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_queue_submit_with(q, "sleep", "{\"ms\": 10000}", NULL, token, 7, &err), MCPS_OK, err);
    sleep_ms(300);
    double cancelled_at = now_ms();
    CHECK_STATUS(mcps_cancel_cancel(token), MCPS_OK, NULL);
    CHECK(mcps_cancel_is_cancelled(token));
    pthread_join(thread, NULL);
    CHECK(blocked.status == MCPS_ERR_CANCELLED);
    CHECK(blocked.returned_ms - cancelled_at < 2000);

    mcps_result *r = NULL;
    CHECK_STATUS(mcps_call_wait(call, 2000, &r, &err), MCPS_ERR_CANCELLED, err);
    clear_error(&err);
    uint64_t tag = 0;
    mcps_status call_status = MCPS_OK;
    mcps_error *call_error = NULL;
    CHECK_STATUS(mcps_queue_next(q, 2000, &tag, &call_status, &r, &call_error, &err), MCPS_OK, err);
    CHECK(tag == 7 && call_status == MCPS_ERR_CANCELLED && r == NULL);
    mcps_error_free(call_error);

    /* A call given a cancelled token never starts. */
    double start = now_ms();
    call_with(s, "sleep", "{\"ms\": 10000}", NULL, token, MCPS_ERR_CANCELLED);
    CHECK(now_ms() - start < 1000);

    /* Freeing a token does not cancel the calls that hold it. */
    mcps_cancel *other = NULL;
    CHECK_STATUS(mcps_cancel_new(&other, &err), MCPS_OK, err);
    mcps_call *held = NULL;
    CHECK_STATUS(mcps_store_submit_with(s, "echo", "{\"message\": \"kept\"}", NULL, other, NULL, NULL, &held, &err),
                 MCPS_OK, err);
    mcps_cancel_free(other);
    CHECK_STATUS(mcps_call_wait(held, 10000, &r, &err), MCPS_OK, err);
    CHECK(r != NULL && strcmp(mcps_result_text(r), "kept") == 0);
    mcps_result_free(r);

    CHECK_STATUS(mcps_cancel_cancel(NULL), MCPS_ERR_INVALID_ARGUMENT, NULL);
    CHECK(!mcps_cancel_is_cancelled(NULL));
    CHECK_STATUS(mcps_cancel_new(NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    mcps_cancel_free(NULL);

    mcps_call_free(held);
    mcps_call_free(call);
    mcps_queue_free(q);
    mcps_cancel_free(token);
    mcps_store_free(s);
}

int main(void) {
    for (int i = 0; i < 2; i++) {
        transport t = i == 0 ? TRANSPORT_STDIO : TRANSPORT_HTTP;
        printf("-- %s\n", transport_name(t));
        test_timeout_and_cache(t);
        test_shared_cancel_token(t);
    }
    stop_shared_http_server();
    return finish("test_options");
}
