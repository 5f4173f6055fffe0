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
    test_apply_performance();
    stop_shared_http_server();
    return finish("test_monitor");
}
