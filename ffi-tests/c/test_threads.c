/* Eight threads share one store (over stdio, then HTTP): synchronous calls,
 * cached calls, batches, background calls with callbacks, a completion
 * queue per thread and one shared queue, listings and statistics, all at
 * once. */
#include "common.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 8, ROUNDS = 25 };

typedef struct shared {
    mcps_store *store;
    mcps_queue *queue; /* shared by every thread */
    int callbacks;     /* updated atomically */
} shared;

typedef struct worker {
    shared *sh;
    int id;
} worker;

static void on_done(void *userdata, mcps_status status, const mcps_result *result,
                    const mcps_error *error) {
    shared *sh = userdata;
    (void)error;
    if (status == MCPS_OK && result != NULL && strncmp(mcps_result_text(result), "cb-", 3) == 0) {
        __sync_fetch_and_add(&sh->callbacks, 1);
    }
}

static void one_round(worker *w, int round, mcps_queue *own) {
    mcps_store *s = w->sh->store;
    mcps_error *err = NULL;
    mcps_result *r = NULL;
    char args[128];
    char want[64];

    snprintf(want, sizeof want, "t%d-r%d", w->id, round);
    snprintf(args, sizeof args, "{\"message\": \"%s\"}", want);
    CHECK_STATUS(mcps_store_call_tool(s, "echo", args, &r, &err), MCPS_OK, err);
    CHECK(r != NULL && strcmp(mcps_result_text(r), want) == 0);
    mcps_result_free(r);
    r = NULL;
    clear_error(&err);

    /* Cached (read-only) calls: the same few keys from every thread. */
    snprintf(args, sizeof args, "{\"a\": %d, \"b\": 1}", round % 5);
    CHECK_STATUS(mcps_store_call_tool(s, "add", args, &r, &err), MCPS_OK, err);
    snprintf(want, sizeof want, "\"sum\":%d", round % 5 + 1);
    CHECK(r != NULL && strstr(mcps_result_json(r), want) != NULL);
    mcps_result_free(r);
    r = NULL;
    clear_error(&err);

    /* A background call with a callback and a handle. */
    mcps_call *call = NULL;
    snprintf(args, sizeof args, "{\"message\": \"cb-%d-%d\"}", w->id, round);
    CHECK_STATUS(mcps_store_submit(s, "echo", args, on_done, w->sh, &call, &err), MCPS_OK, err);
    clear_error(&err);
    CHECK_STATUS(mcps_call_wait(call, 20000, &r, &err), MCPS_OK, err);
    mcps_result_free(r);
    r = NULL;
    clear_error(&err);
    mcps_call_free(call);

    /* Own queue and the shared queue. */
    uint64_t tag = ((uint64_t)w->id << 32) | (uint64_t)round;
    CHECK_STATUS(mcps_queue_submit(own, "echo", "{\"message\": \"q\"}", tag, &err), MCPS_OK, err);
    clear_error(&err);
    CHECK_STATUS(mcps_queue_submit(w->sh->queue, "add", "{\"a\": 2, \"b\": 2}", tag, &err), MCPS_OK,
                 err);
    clear_error(&err);
    uint64_t got = 0;
    mcps_status call_status = MCPS_ERR_INTERNAL;
    CHECK_STATUS(mcps_queue_next(own, 20000, &got, &call_status, &r, NULL, &err), MCPS_OK, err);
    CHECK(got == tag && call_status == MCPS_OK);
    mcps_result_free(r);
    r = NULL;
    clear_error(&err);

    if (round % 5 == 0) {
        char *out = NULL;
        CHECK_STATUS(mcps_store_batch_call(s,
                                           "[{\"tool\": \"echo\", \"arguments\": {\"message\": \"b1\"}},"
                                           " {\"tool\": \"add\", \"arguments\": {\"a\": 5, \"b\": 5}},"
                                           " {\"tool\": \"echo\", \"arguments\": {\"message\": \"b2\"}}]",
                                           &out, &err),
                     MCPS_OK, err);
        CHECK_CONTAINS(out, "\"text\":\"b1\"");
        CHECK_CONTAINS(out, "\"sum\":10");
        CHECK_CONTAINS(out, "\"text\":\"b2\"");
        mcps_string_free(out);
        out = NULL;
        clear_error(&err);
        CHECK_STATUS(mcps_store_list_tools(s, NULL, &out, &err), MCPS_OK, err);
        mcps_string_free(out);
        out = NULL;
        clear_error(&err);
        CHECK_STATUS(mcps_store_stats(s, &out, &err), MCPS_OK, err);
        mcps_string_free(out);
        clear_error(&err);
    }
    if (round % 7 == 3) {
        /* A cancelled call among the others. */
        call = NULL;
        CHECK_STATUS(mcps_store_submit(s, "sleep", "{\"ms\": 10000}", NULL, NULL, &call, &err),
                     MCPS_OK, err);
        clear_error(&err);
        CHECK_STATUS(mcps_call_cancel(call), MCPS_OK, NULL);
        CHECK_STATUS(mcps_call_wait(call, 10000, &r, &err), MCPS_ERR_CANCELLED, err);
        clear_error(&err);
        mcps_call_free(call);
    }
}

static void *run_worker(void *arg) {
    worker *w = arg;
    mcps_queue *own = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_queue_new(w->sh->store, &own, &err), MCPS_OK, err);
    clear_error(&err);
    for (int round = 0; round < ROUNDS; round++) {
        one_round(w, round, own);
    }
    CHECK(mcps_queue_pending(own) == 0);
    mcps_queue_free(own);
    return NULL;
}

static void run(transport t) {
    shared sh;
    memset(&sh, 0, sizeof sh);
    /* Enough background slots for every thread, two sessions to share. */
    sh.store = open_demo_store(t, "{\"min_connections\": 2, \"max_concurrent_calls\": 32}");
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_queue_new(sh.store, &sh.queue, &err), MCPS_OK, err);

    pthread_t threads[THREADS];
    worker workers[THREADS];
    double start = now_ms();
    for (int i = 0; i < THREADS; i++) {
        workers[i].sh = &sh;
        workers[i].id = i;
        if (pthread_create(&threads[i], NULL, run_worker, &workers[i]) != 0) {
            fatal("pthread_create failed");
        }
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    fprintf(stderr, "%s: %d threads x %d rounds in %.0f ms\n", transport_name(t), THREADS, ROUNDS,
            now_ms() - start);

    /* The shared queue holds one completion per round of every thread. */
    int seen = 0;
    for (;;) {
        uint64_t tag = 0;
        mcps_status call_status = MCPS_ERR_INTERNAL;
        mcps_result *r = NULL;
        mcps_status st = mcps_queue_next(sh.queue, 5000, &tag, &call_status, &r, NULL, NULL);
        if (st != MCPS_OK) {
            break;
        }
        CHECK(call_status == MCPS_OK && r != NULL && strstr(mcps_result_json(r), "\"sum\":4") != NULL);
        mcps_result_free(r);
        if (++seen == THREADS * ROUNDS) {
            break;
        }
    }
    CHECK(seen == THREADS * ROUNDS);
    CHECK(mcps_queue_pending(sh.queue) == 0);
    mcps_queue_free(sh.queue);
    CHECK(__sync_fetch_and_add(&sh.callbacks, 0) == THREADS * ROUNDS);

    /* Every result went back to the pool. */
    char *stats = NULL;
    CHECK_STATUS(mcps_store_stats(sh.store, &stats, &err), MCPS_OK, err);
    CHECK_CONTAINS(stats, "\"c_results\":{\"active_objects\":0,");
    mcps_string_free(stats);
    mcps_store_free(sh.store);
}

int main(void) {
    run(TRANSPORT_STDIO);
    run(TRANSPORT_HTTP);
    return finish("test_threads");
}
