/* Statistics (JSON and Prometheus), the memory monitor with its pressure
 * callback, and runtime performance settings, through the C API. */
#include "common.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_int pressure_calls;

/* Runs on the store's maintenance thread with the sample that tripped the threshold. */
static void on_pressure(void *userdata, const char *sample_json) {
    if (userdata == &pressure_calls && sample_json != NULL && strstr(sample_json, "\"rss_mb\"") != NULL) {
        atomic_fetch_add(&pressure_calls, 1);
    }
}

static void call_echo(mcps_store *s) {
    mcps_result *r = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_call_tool(s, "echo", "{\"message\": \"m\"}", &r, &err), MCPS_OK, err);
    mcps_result_free(r);
}

static void test_stats_and_prometheus(void) {
    mcps_store *s = open_demo_store(TRANSPORT_STDIO, "{}");
    call_echo(s);
    char *text = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_stats(s, &text, &err), MCPS_OK, err);
    CHECK_CONTAINS(text, "\"tools\":[");
    CHECK_CONTAINS(text, "\"memory\":{");
    mcps_string_free(text);
    text = NULL;
    CHECK_STATUS(mcps_store_stats_prometheus(s, &text, &err), MCPS_OK, err);
    CHECK_CONTAINS(text, "# TYPE mcpstore_calls_total counter");
    CHECK_CONTAINS(text, "mcpstore_calls_total{service=\"demo\",tool=\"echo\"} 1");
    mcps_string_free(text);
    CHECK_STATUS(mcps_store_stats_prometheus(NULL, &text, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_stats_prometheus(s, NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    mcps_store_free(s);
}

static void test_monitor_relief(void) {
    mcps_store *s = open_demo_store(TRANSPORT_STDIO, "{}");
    call_echo(s);
    mcps_error *err = NULL;
    CHECK(mcps_store_on_memory_pressure(s, on_pressure, &pressure_calls) == MCPS_OK);
    CHECK(mcps_store_set_memory_threshold(s, -1.0) == MCPS_ERR_INVALID_ARGUMENT);
    CHECK(mcps_store_set_memory_threshold(s, 0.001) == MCPS_OK);
    CHECK(mcps_store_monitor_start(s, 20) == MCPS_OK);
    double start = now_ms();
    while (atomic_load(&pressure_calls) == 0 && now_ms() - start < 5000) {
        sleep_ms(10);
    }
    CHECK(atomic_load(&pressure_calls) >= 1);
    CHECK(mcps_store_monitor_stop(s) == MCPS_OK);
    CHECK(mcps_store_on_memory_pressure(s, NULL, NULL) == MCPS_OK);
    char *summary = NULL;
    CHECK_STATUS(mcps_store_memory_summary(s, &summary, &err), MCPS_OK, err);
    CHECK_CONTAINS(summary, "\"current_rss_mb\"");
    CHECK(summary != NULL && strstr(summary, "\"trips\":0") == NULL);
    mcps_string_free(summary);
    CHECK(mcps_store_monitor_start(NULL, 10) == MCPS_ERR_INVALID_ARGUMENT);
    mcps_store_free(s);
}

/* A store without services whose monitor samples every 5 ms with a tiny
 * threshold: the first sample crosses it and runs the pressure callback. */
static mcps_store *tripping_store(mcps_pressure_callback cb, void *userdata) {
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_new(NULL, &s, &err), MCPS_OK, err);
    if (s == NULL) {
        fatal("mcps_store_new(NULL) failed");
    }
    CHECK(mcps_store_on_memory_pressure(s, cb, userdata) == MCPS_OK);
    CHECK(mcps_store_set_memory_threshold(s, 0.001) == MCPS_OK);
    CHECK(mcps_store_monitor_start(s, 5) == MCPS_OK);
    return s;
}

/* The userdata of a slow callback: freed (and poisoned first) by the main
 * thread as soon as the callback was replaced. */
typedef struct slow_data {
    atomic_int entered;
    atomic_int finished;
    int poison;
    char *buffer;
} slow_data;

/* Sleeps while the main thread replaces it, then touches its userdata: had
 * the replacement returned early, the main thread would have freed it and
 * AddressSanitizer reports a heap use after free here. */
static void slow_pressure(void *userdata, const char *sample_json) {
    (void)sample_json;
    slow_data *d = userdata;
    atomic_store(&d->entered, 1);
    sleep_ms(300);
    check_record(d->poison == 0, __FILE__, __LINE__, "userdata still valid while the callback runs");
    d->buffer[0] = 'x';
    atomic_store(&d->finished, 1);
}

static int slow_entered(void *arg) {
    return atomic_load(&((slow_data *)arg)->entered);
}

static slow_data *new_slow_data(void) {
    slow_data *d = calloc(1, sizeof *d);
    if (d == NULL || (d->buffer = malloc(16)) == NULL) {
        fatal("out of memory");
    }
    return d;
}

static void poison_and_free(slow_data *d) {
    d->poison = 1;
    free(d->buffer);
    d->buffer = NULL;
    free(d);
}

/* Replacing (with another callback) or clearing (NULL) a running callback
 * returns only after it returned: the old userdata may be freed at once. */
static void test_replacing_a_running_callback(void) {
    for (int clear = 0; clear < 2; clear++) {
        slow_data *d = new_slow_data();
        mcps_store *s = tripping_store(slow_pressure, d);
        CHECK(wait_until(slow_entered, d, 10000));
        if (clear) {
            CHECK(mcps_store_on_memory_pressure(s, NULL, NULL) == MCPS_OK);
        } else {
            CHECK(mcps_store_on_memory_pressure(s, on_pressure, &pressure_calls) == MCPS_OK);
        }
        CHECK(atomic_load(&d->finished) == 1); /* the old callback had returned */
        poison_and_free(d);
        sleep_ms(50); /* more samples: the old callback must never run again */
        mcps_store_free(s);
    }
}

/* mcps_store_free with a callback running returns after it returned. */
static void test_free_store_while_the_callback_runs(void) {
    slow_data *d = new_slow_data();
    mcps_store *s = tripping_store(slow_pressure, d);
    CHECK(wait_until(slow_entered, d, 10000));
    mcps_store_free(s);
    CHECK(atomic_load(&d->finished) == 1);
    poison_and_free(d);
}

typedef struct self_replacing {
    mcps_store *store;
    atomic_int status;
    atomic_int done;
} self_replacing;

static atomic_int second_calls;

static void second_pressure(void *userdata, const char *sample_json) {
    (void)sample_json;
    atomic_fetch_add((atomic_int *)userdata, 1);
}

/* Replaces itself from inside: must return at once, not deadlock. */
static void replacing_pressure(void *userdata, const char *sample_json) {
    (void)sample_json;
    self_replacing *r = userdata;
    atomic_store(&r->status, (int)mcps_store_on_memory_pressure(r->store, second_pressure, &second_calls));
    atomic_store(&r->done, 1);
}

static int replaced(void *arg) {
    return atomic_load(&((self_replacing *)arg)->done);
}

static int second_ran(void *arg) {
    (void)arg;
    return atomic_load(&second_calls) > 0;
}

static long long samples_of(mcps_store *s) {
    char *summary = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_memory_summary(s, &summary, &err), MCPS_OK, err);
    long long n = json_number(summary, "samples");
    mcps_string_free(summary);
    return n;
}

typedef struct sampled {
    mcps_store *store;
    long long target;
} sampled;

static int has_sampled(void *arg) {
    sampled *w = arg;
    return samples_of(w->store) >= w->target;
}

static void test_replacing_the_callback_from_inside_it(void) {
    self_replacing r = {.store = NULL};
    atomic_init(&r.status, -1);
    atomic_init(&r.done, 0);
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_new(NULL, &s, &err), MCPS_OK, err);
    r.store = s;
    CHECK(mcps_store_on_memory_pressure(s, replacing_pressure, &r) == MCPS_OK);
    CHECK(mcps_store_set_memory_threshold(s, 0.001) == MCPS_OK);
    CHECK(mcps_store_monitor_start(s, 5) == MCPS_OK);
    CHECK(wait_until(replaced, &r, 10000)); /* a deadlock never gets here */
    CHECK(atomic_load(&r.status) == MCPS_OK);
    CHECK(atomic_load(&second_calls) == 0); /* the new callback applies from the next crossing */
    /* Back under the threshold (a sample sees it), then across again: the new callback runs. */
    CHECK(mcps_store_set_memory_threshold(s, 1e9) == MCPS_OK);
    sampled w = {s, samples_of(s) + 2};
    CHECK(wait_until(has_sampled, &w, 10000));
    CHECK(mcps_store_set_memory_threshold(s, 0.001) == MCPS_OK);
    CHECK(wait_until(second_ran, NULL, 10000));
    mcps_store_free(s);
}

static void test_apply_performance(void) {
    mcps_store *s = open_demo_store(TRANSPORT_STDIO, "{}");
    mcps_error *err = NULL;
    char *report = NULL;
    CHECK_STATUS(mcps_store_apply_performance(s, "{\"cache_size\": 7, \"max_response_bytes\": 4096}", &report,
                                              &err),
                 MCPS_OK, err);
    CHECK_CONTAINS(report, "\"applied\":[\"cache_size\"]");
    CHECK_CONTAINS(report, "\"needs_restart\":[\"max_response_bytes\"]");
    mcps_string_free(report);
    CHECK_STATUS(mcps_store_apply_performance(s, "{\"cache_sise\": 7}", NULL, &err), MCPS_ERR_CONFIG, err);
    CHECK_CONTAINS(mcps_error_message(err), "cache_sise");
    clear_error(&err);
    CHECK_STATUS(mcps_store_apply_performance(s, "{not json", NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    char *stats = NULL;
    CHECK_STATUS(mcps_store_stats(s, &stats, &err), MCPS_OK, err);
    CHECK_CONTAINS(stats, "\"capacity\":7");
    mcps_string_free(stats);
    mcps_store_free(s);
}

int main(void) {
    test_stats_and_prometheus();
    test_monitor_relief();
    test_replacing_a_running_callback();
    test_free_store_while_the_callback_runs();
    test_replacing_the_callback_from_inside_it();
    test_apply_performance();
    stop_shared_http_server();
    return finish("test_monitor");
}
