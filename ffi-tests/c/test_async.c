/* Background calls through the C API over stdio and HTTP: submit with and
 * without callbacks and handles, wait (before and after the callback),
 * cancel, not-ready, completion queues, and freeing a store while calls
 * are pending. */
#include "common.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* What callbacks saw, for one submission or a group of them. */
typedef struct outcome {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int calls;
    mcps_status status;
    int had_result;
    int had_error;
    int on_submitting_thread;
    int64_t rpc_code;
    char text[256];
    pthread_t submitter;
} outcome;

static void outcome_init(outcome *o) {
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->changed, NULL);
    o->submitter = pthread_self();
}

static void outcome_destroy(outcome *o) {
    pthread_mutex_destroy(&o->lock);
    pthread_cond_destroy(&o->changed);
}

static void on_done(void *userdata, mcps_status status, const mcps_result *result,
                    const mcps_error *error) {
    outcome *o = userdata;
    pthread_mutex_lock(&o->lock);
    o->calls++;
    o->status = status;
    o->had_result = result != NULL;
    o->had_error = error != NULL;
    o->on_submitting_thread = pthread_equal(pthread_self(), o->submitter);
    if (result != NULL) {
        snprintf(o->text, sizeof o->text, "%s", mcps_result_text(result));
    } else if (error != NULL) {
        snprintf(o->text, sizeof o->text, "%s", mcps_error_message(error));
        o->rpc_code = mcps_error_rpc_code(error);
        if (mcps_error_code(error) != status) {
            o->status = MCPS_ERR_INTERNAL; /* flagged by the checks */
        }
    }
    pthread_cond_broadcast(&o->changed);
    pthread_mutex_unlock(&o->lock);
}

/* Waits until the callbacks ran `n` times in all; returns the count. */
static int wait_calls(outcome *o, int n, long timeout_ms) {
    double deadline = now_ms() + (double)timeout_ms;
    pthread_mutex_lock(&o->lock);
    while (o->calls < n && now_ms() < deadline) {
        pthread_mutex_unlock(&o->lock);
        sleep_ms(2);
        pthread_mutex_lock(&o->lock);
    }
    int calls = o->calls;
    pthread_mutex_unlock(&o->lock);
    return calls;
}

static void test_submit_with_callback(mcps_store *s) {
    outcome o;
    outcome_init(&o);
    mcps_call *call = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_submit(s, "echo", "{\"message\": \"bg\"}", on_done, &o, &call, &err),
                 MCPS_OK, err);
    CHECK(call != NULL);
    CHECK(wait_calls(&o, 1, 10000) == 1);
    CHECK(o.status == MCPS_OK && o.had_result && !o.had_error);
    CHECK(strcmp(o.text, "bg") == 0);
    CHECK(!o.on_submitting_thread);

    /* Waiting after the callback ran, several times, gives the result again. */
    for (int i = 0; i < 2; i++) {
        mcps_result *r = NULL;
        CHECK_STATUS(mcps_call_wait(call, 1000, &r, &err), MCPS_OK, err);
        CHECK(r != NULL && strcmp(mcps_result_text(r), "bg") == 0);
        mcps_result_free(r);
    }
    /* Cancelling a finished call changes nothing. */
    CHECK_STATUS(mcps_call_cancel(call), MCPS_OK, NULL);
    mcps_result *r = NULL;
    CHECK_STATUS(mcps_call_wait(call, 0, &r, &err), MCPS_OK, err);
    mcps_result_free(r);
    sleep_ms(50);
    CHECK(wait_calls(&o, 1, 0) == 1); /* exactly once */
    mcps_call_free(call);
    outcome_destroy(&o);
}

static void test_submit_without_callback_or_handle(mcps_store *s) {
    mcps_call *call = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_submit(s, "add", "{\"a\": 20, \"b\": 22}", NULL, NULL, &call, &err),
                 MCPS_OK, err);
    mcps_result *r = NULL;
    CHECK_STATUS(mcps_call_wait(call, UINT64_MAX, &r, &err), MCPS_OK, err);
    CHECK_CONTAINS(mcps_result_json(r), "\"sum\":42");
    mcps_result_free(r);
    mcps_call_free(call);

    /* A callback without a handle (fire and forget). */
    outcome o;
    outcome_init(&o);
    CHECK_STATUS(mcps_store_submit(s, "echo", NULL, on_done, &o, NULL, &err), MCPS_OK, err);
    CHECK(wait_calls(&o, 1, 10000) == 1);
    CHECK(o.status == MCPS_ERR_RPC && !o.had_result && o.had_error);
    CHECK(o.rpc_code == -32602);
    outcome_destroy(&o);

    /* Neither (the result is dropped). */
    CHECK_STATUS(mcps_store_submit(s, "echo", "{\"message\": \"lost\"}", NULL, NULL, NULL, &err),
                 MCPS_OK, err);
}

static void test_failures_in_background(mcps_store *s) {
    outcome o;
    outcome_init(&o);
    mcps_call *call = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_submit(s, "echo", "{}", on_done, &o, &call, &err), MCPS_OK, err);
    CHECK(wait_calls(&o, 1, 10000) == 1);
    CHECK(o.status == MCPS_ERR_RPC);
    mcps_result *sentinel = (mcps_result *)&o;
    mcps_result *r = sentinel;
    CHECK_STATUS(mcps_call_wait(call, 1000, &r, &err), MCPS_ERR_RPC, err);
    CHECK(r == sentinel);
    CHECK(mcps_error_rpc_code(err) == -32602);
    clear_error(&err);
    mcps_call_free(call);
    outcome_destroy(&o);

    /* A tool error is a success carrying isError. */
    CHECK_STATUS(mcps_store_submit(s, "fail", "{\"message\": \"nope\"}", NULL, NULL, &call, &err),
                 MCPS_OK, err);
    CHECK_STATUS(mcps_call_wait(call, 10000, &r, &err), MCPS_OK, err);
    CHECK(r != sentinel && mcps_result_is_error(r));
    mcps_result_free(r);
    mcps_call_free(call);

    /* An unknown tool fails in the background, not at submission. */
    call = NULL;
    CHECK_STATUS(mcps_store_submit(s, "nope", "{}", NULL, NULL, &call, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_call_wait(call, 10000, &r, &err), MCPS_ERR_TOOL_NOT_FOUND, err);
    clear_error(&err);
    mcps_call_free(call);
}

static void test_not_ready_and_cancel(mcps_store *s) {
    outcome o;
    outcome_init(&o);
    mcps_call *call = NULL;
    mcps_error *err = NULL;
    /* Long enough that a loaded machine still polls it before it ends. */
    CHECK_STATUS(mcps_store_submit(s, "sleep", "{\"ms\": 1500}", NULL, NULL, &call, &err), MCPS_OK,
                 err);
    mcps_result *sentinel = (mcps_result *)&o;
    mcps_result *r = sentinel;
    CHECK_STATUS(mcps_call_wait(call, 0, &r, &err), MCPS_ERR_NOT_READY, err);
    CHECK(r == sentinel);
    CHECK(mcps_error_code(err) == MCPS_ERR_NOT_READY);
    clear_error(&err);
    CHECK_STATUS(mcps_call_wait(call, 50, &r, NULL), MCPS_ERR_NOT_READY, NULL);
    CHECK_STATUS(mcps_call_wait(call, 10000, &r, &err), MCPS_OK, err);
    CHECK(r != sentinel);
    mcps_result_free(r);
    mcps_call_free(call);

    /* Cancel a long call: it completes at once with MCPS_ERR_CANCELLED. */
    call = NULL;
    CHECK_STATUS(mcps_store_submit(s, "sleep", "{\"ms\": 20000}", on_done, &o, &call, &err), MCPS_OK,
                 err);
    sleep_ms(100);
    double start = now_ms();
    CHECK_STATUS(mcps_call_cancel(call), MCPS_OK, NULL);
    r = sentinel;
    CHECK_STATUS(mcps_call_wait(call, 5000, &r, &err), MCPS_ERR_CANCELLED, err);
    CHECK(r == sentinel);
    clear_error(&err);
    CHECK(wait_calls(&o, 1, 5000) == 1);
    CHECK(o.status == MCPS_ERR_CANCELLED && o.had_error && !o.had_result);
    CHECK(now_ms() - start < 5000);
    CHECK_STATUS(mcps_call_cancel(call), MCPS_OK, NULL);
    mcps_call_free(call);
    outcome_destroy(&o);
}

static void test_submit_arguments(mcps_store *s) {
    outcome o;
    outcome_init(&o);
    mcps_call *sentinel = (mcps_call *)&o;
    mcps_call *call = sentinel;
    mcps_error *err = NULL;
    static const char bad_utf8[] = {'{', '"', (char)0xff, '"', ':', '1', '}', '\0'};
    CHECK_STATUS(mcps_store_submit(NULL, "echo", NULL, on_done, &o, &call, &err),
                 MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_submit(s, NULL, NULL, on_done, &o, &call, &err),
                 MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_submit(s, "echo", "{", on_done, &o, &call, &err),
                 MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_submit(s, "echo", "\"text\"", on_done, &o, &call, &err),
                 MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_submit(s, "echo", bad_utf8, on_done, &o, &call, NULL),
                 MCPS_ERR_INVALID_ARGUMENT, NULL);
    CHECK(call == sentinel);
    sleep_ms(50);
    CHECK(wait_calls(&o, 1, 0) == 0); /* no callback for a refused submission */

    mcps_result *r = NULL;
    CHECK_STATUS(mcps_call_wait(NULL, 0, &r, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    call = NULL;
    CHECK_STATUS(mcps_store_submit(s, "echo", "{\"message\": \"a\"}", NULL, NULL, &call, &err),
                 MCPS_OK, err);
    CHECK_STATUS(mcps_call_wait(call, 0, NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_call_wait(call, 10000, &r, &err), MCPS_OK, err);
    mcps_result_free(r);
    mcps_call_free(call);
    outcome_destroy(&o);
}

static void test_queue(mcps_store *s) {
    mcps_queue *q = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_queue_new(s, &q, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_queue_new(NULL, &q, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_queue_new(s, NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);

    enum { N = 12 };
    for (uint64_t tag = 0; tag < N; tag++) {
        char args[64];
        if (tag % 4 == 3) {
            snprintf(args, sizeof args, "{}"); /* fails: missing message */
        } else {
            snprintf(args, sizeof args, "{\"message\": \"m%d\"}", (int)tag);
        }
        CHECK_STATUS(mcps_queue_submit(q, "echo", args, 1000 + tag, &err), MCPS_OK, err);
    }
    CHECK(mcps_queue_pending(q) == N);
    int seen[N] = {0};
    for (int i = 0; i < N; i++) {
        uint64_t tag = 0;
        mcps_status call_status = MCPS_ERR_INTERNAL;
        mcps_result *r = NULL;
        mcps_error *call_err = NULL;
        mcps_error **errp = (i % 2 == 0) ? &call_err : NULL; /* call_error_out is optional */
        CHECK_STATUS(mcps_queue_next(q, 10000, &tag, &call_status, &r, errp, &err), MCPS_OK, err);
        int k = (int)(tag - 1000);
        CHECK(k >= 0 && k < N);
        if (k < 0 || k >= N) {
            continue;
        }
        seen[k]++;
        if (k % 4 == 3) {
            CHECK(call_status == MCPS_ERR_RPC && r == NULL);
            CHECK(errp == NULL || (call_err != NULL && mcps_error_rpc_code(call_err) == -32602));
        } else {
            char want[16];
            snprintf(want, sizeof want, "m%d", k);
            CHECK(call_status == MCPS_OK && call_err == NULL);
            CHECK(r != NULL && strcmp(mcps_result_text(r), want) == 0);
        }
        mcps_result_free(r);
        mcps_error_free(call_err);
    }
    for (int k = 0; k < N; k++) {
        CHECK(seen[k] == 1);
    }
    CHECK(mcps_queue_pending(q) == 0);

    /* Nothing left: not ready, nothing written. */
    uint64_t tag = 7;
    mcps_status call_status = MCPS_OK;
    mcps_result *r = NULL;
    CHECK_STATUS(mcps_queue_next(q, 0, &tag, &call_status, &r, NULL, &err), MCPS_ERR_NOT_READY, err);
    CHECK(tag == 7 && r == NULL);
    clear_error(&err);
    double start = now_ms();
    CHECK_STATUS(mcps_queue_next(q, 100, &tag, &call_status, &r, NULL, NULL), MCPS_ERR_NOT_READY,
                 NULL);
    CHECK(now_ms() - start >= 90);

    /* Argument checks. */
    CHECK_STATUS(mcps_queue_next(NULL, 0, &tag, &call_status, &r, NULL, &err),
                 MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_queue_next(q, 0, NULL, &call_status, &r, NULL, &err),
                 MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_queue_next(q, 0, &tag, NULL, &r, NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_queue_next(q, 0, &tag, &call_status, NULL, NULL, &err),
                 MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_queue_submit(NULL, "echo", NULL, 1, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_queue_submit(q, NULL, NULL, 1, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_queue_submit(q, "echo", "[]", 1, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK(mcps_queue_pending(q) == 0);

    /* A queue freed with completions not taken. */
    CHECK_STATUS(mcps_queue_submit(q, "echo", "{\"message\": \"dropped\"}", 1, &err), MCPS_OK, err);
    mcps_queue_free(q);
}

/* mcps_call_free frees the handle only: the call goes on and its callback
 * still runs, with success. */
static void test_free_handle_does_not_cancel(mcps_store *s) {
    outcome o;
    outcome_init(&o);
    mcps_call *call = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_submit(s, "sleep", "{\"ms\": 300}", on_done, &o, &call, &err), MCPS_OK,
                 err);
    mcps_call_free(call);
    CHECK(wait_calls(&o, 1, 10000) == 1);
    CHECK(o.status == MCPS_OK && o.had_result && !o.had_error);
    CHECK(strcmp(o.text, "slept 300 ms") == 0);
    outcome_destroy(&o);
}

enum { WAITERS = 4, QUEUED = 100 };

typedef struct shared_wait {
    mcps_call *call;
    mcps_queue *queue;
    pthread_mutex_t lock;
    int seen[QUEUED]; /* how often each tag was handed out */
    int taken;
    int failures;
} shared_wait;

/* Waits on the one shared call handle. */
static void *wait_on_handle(void *arg) {
    shared_wait *w = arg;
    mcps_result *r = NULL;
    mcps_error *err = NULL;
    mcps_status st = mcps_call_wait(w->call, 20000, &r, &err);
    int ok = st == MCPS_OK && r != NULL && strcmp(mcps_result_text(r), "slept 300 ms") == 0;
    mcps_result_free(r);
    mcps_error_free(err);
    pthread_mutex_lock(&w->lock);
    w->failures += !ok;
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Takes completions from the one shared queue until all were handed out. */
static void *drain_queue(void *arg) {
    shared_wait *w = arg;
    double deadline = now_ms() + 60000;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        int done = w->taken >= QUEUED;
        pthread_mutex_unlock(&w->lock);
        if (done || now_ms() > deadline) {
            return NULL;
        }
        uint64_t tag = 0;
        mcps_status call_status = MCPS_OK;
        mcps_result *r = NULL;
        if (mcps_queue_next(w->queue, 50, &tag, &call_status, &r, NULL, NULL) != MCPS_OK) {
            continue; /* MCPS_ERR_NOT_READY */
        }
        char want[32];
        snprintf(want, sizeof want, "%llu", (unsigned long long)tag);
        int ok = call_status == MCPS_OK && tag < QUEUED && r != NULL && strcmp(mcps_result_text(r), want) == 0;
        mcps_result_free(r);
        pthread_mutex_lock(&w->lock);
        w->failures += !ok;
        if (tag < QUEUED) {
            w->seen[tag]++;
        }
        w->taken++;
        pthread_mutex_unlock(&w->lock);
    }
}

/* One call handle and one completion queue waited on from several threads at once. */
static void test_waits_from_many_threads(mcps_store *s) {
    shared_wait w;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.lock, NULL);
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_submit(s, "sleep", "{\"ms\": 300}", NULL, NULL, &w.call, &err), MCPS_OK, err);
    pthread_t threads[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        CHECK(pthread_create(&threads[i], NULL, wait_on_handle, &w) == 0);
    }
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(threads[i], NULL);
    }
    CHECK(w.failures == 0);
    mcps_call_free(w.call);

    CHECK_STATUS(mcps_queue_new(s, &w.queue, &err), MCPS_OK, err);
    for (int tag = 0; tag < QUEUED; tag++) {
        char args[64];
        snprintf(args, sizeof args, "{\"message\": \"%d\"}", tag);
        CHECK_STATUS(mcps_queue_submit(w.queue, "echo", args, (uint64_t)tag, &err), MCPS_OK, err);
    }
    for (int i = 0; i < WAITERS; i++) {
        CHECK(pthread_create(&threads[i], NULL, drain_queue, &w) == 0);
    }
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(threads[i], NULL);
    }
    CHECK(w.taken == QUEUED && w.failures == 0);
    for (int tag = 0; tag < QUEUED; tag++) {
        if (w.seen[tag] != 1) {
            fprintf(stderr, "tag %d handed out %d times\n", tag, w.seen[tag]);
        }
        CHECK(w.seen[tag] == 1);
    }
    CHECK(mcps_queue_pending(w.queue) == 0);
    mcps_queue_free(w.queue);
    pthread_mutex_destroy(&w.lock);
}

/* A number from the demo server's own counters (its `stats` tool), read
 * through `observer`, a second store connected to the same HTTP server. */
static long long server_counter(mcps_store *observer, const char *key) {
    mcps_result *r = NULL;
    mcps_error *err = NULL;
    long long n = -1;
    if (mcps_store_call_tool(observer, "stats", "{}", &r, &err) == MCPS_OK) {
        n = json_number(mcps_result_json(r), key);
        mcps_result_free(r);
    } else {
        clear_error(&err);
    }
    return n;
}

typedef struct counter_wait {
    mcps_store *observer;
    const char *key;
    long long at_least;
} counter_wait;

static int counter_reached(void *arg) {
    counter_wait *w = arg;
    return server_counter(w->observer, w->key) >= w->at_least;
}

typedef struct sample_wait {
    mcps_store *store;
    char sample[128];
} sample_wait;

/* Whether the store's Prometheus text holds the sample line. */
static int has_sample(void *arg) {
    sample_wait *w = arg;
    char *text = NULL;
    if (mcps_store_stats_prometheus(w->store, &text, NULL) != MCPS_OK) {
        return 0;
    }
    int found = strstr(text, w->sample) != NULL;
    mcps_string_free(text);
    return found;
}

/* Freeing the store while calls are pending: they complete with
 * MCPS_ERR_CLOSED (as docs/c-api.md promises), callbacks run once, handles
 * and queues stay usable until freed, and the server is told to stop them
 * (over HTTP its own counters show the cancellations). */
static void test_free_store_with_pending_calls(transport t) {
    mcps_store *s = open_demo_store(t, "{\"min_connections\": 1, \"max_retries\": 0}");
    mcps_store *observer = t == TRANSPORT_HTTP ? open_demo_store(t, "{\"min_connections\": 1}") : NULL;
    mcps_error *err = NULL;
    mcps_result *r = NULL;
    CHECK_STATUS(mcps_store_call_tool(s, "echo", "{\"message\": \"warm\"}", &r, &err), MCPS_OK, err);
    mcps_result_free(r);
    r = NULL;
    long long cancelled_before = observer != NULL ? server_counter(observer, "cancelled") : 0;
    long long in_flight_before = observer != NULL ? server_counter(observer, "in_flight") : 0;

    enum { N = 3 };
    outcome o;
    outcome_init(&o);
    mcps_call *calls[N] = {NULL};
    for (int i = 0; i < N; i++) {
        CHECK_STATUS(mcps_store_submit(s, "sleep", "{\"ms\": 20000}", on_done, &o, &calls[i], &err),
                     MCPS_OK, err);
    }
    mcps_queue *q = NULL;
    CHECK_STATUS(mcps_queue_new(s, &q, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_queue_submit(q, "sleep", "{\"ms\": 20000}", 42, &err), MCPS_OK, err);
    /* Wait (bounded) until all four calls are in flight: on the store's
     * sessions, and over HTTP at the server itself. */
    sample_wait leased = {s, "mcpstore_pool_calls_in_flight{service=\"demo\"} 4\n"};
    CHECK(wait_until(has_sample, &leased, 10000));
    if (observer != NULL) {
        counter_wait running = {observer, "in_flight", in_flight_before + N + 1};
        CHECK(wait_until(counter_reached, &running, 10000));
    }

    double start = now_ms();
    mcps_store_free(s);
    CHECK(now_ms() - start < 10000);

    for (int i = 0; i < N; i++) {
        r = NULL;
        mcps_status st = mcps_call_wait(calls[i], 10000, &r, &err);
        CHECK(st == MCPS_ERR_CLOSED);
        if (st != MCPS_ERR_CLOSED) {
            fprintf(stderr, "pending call %d ended with %d: %s\n", i, (int)st,
                    mcps_error_message(err));
        }
        CHECK(r == NULL);
        clear_error(&err);
        mcps_call_free(calls[i]);
    }
    CHECK(wait_calls(&o, N, 10000) == N);
    CHECK(o.status == MCPS_ERR_CLOSED);
    CHECK(o.had_error && !o.had_result);

    uint64_t tag = 0;
    mcps_status call_status = MCPS_OK;
    CHECK_STATUS(mcps_queue_next(q, 10000, &tag, &call_status, &r, NULL, &err), MCPS_OK, err);
    CHECK(tag == 42);
    CHECK(call_status == MCPS_ERR_CLOSED);
    CHECK(r == NULL);
    /* The queue outlives its store: submissions now fail with MCPS_ERR_CLOSED. */
    CHECK_STATUS(mcps_queue_submit(q, "echo", "{\"message\": \"late\"}", 43, &err), MCPS_ERR_CLOSED,
                 err);
    clear_error(&err);
    mcps_queue_free(q);
    sleep_ms(50);
    CHECK(wait_calls(&o, N + 1, 0) == N); /* each callback exactly once */
    outcome_destroy(&o);

    if (observer != NULL) {
        /* The server received a cancellation for each of the four calls. */
        counter_wait told = {observer, "cancelled", cancelled_before + N + 1};
        CHECK(wait_until(counter_reached, &told, 10000));
        mcps_store_free(observer);
    }
}

int main(void) {
    for (int i = 0; i < 2; i++) {
        transport t = i == 0 ? TRANSPORT_STDIO : TRANSPORT_HTTP;
        fprintf(stderr, "-- %s\n", transport_name(t));
        mcps_store *s = open_demo_store(t, "{\"min_connections\": 1}");
        test_submit_with_callback(s);
        test_submit_without_callback_or_handle(s);
        test_failures_in_background(s);
        test_not_ready_and_cancel(s);
        test_submit_arguments(s);
        test_queue(s);
        test_free_handle_does_not_cancel(s);
        test_waits_from_many_threads(s);
        mcps_store_free(s);
        test_free_store_with_pending_calls(t);
    }
    return finish("test_async");
}
