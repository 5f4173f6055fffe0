/* Synchronous C API against the demo server over stdio and HTTP: version,
 * store life cycle, services, tools, calls, results, batches, statistics,
 * and NULL / invalid UTF-8 / malformed JSON arguments. */
#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Not UTF-8: a lone continuation byte. */
static const char BAD_UTF8[] = {'e', (char)0x80, 'o', '\0'};

static void test_version(void) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", MCPS_VERSION_MAJOR, MCPS_VERSION_MINOR,
             MCPS_VERSION_PATCH);
    CHECK(strcmp(mcps_version(), want) == 0);
}

static void test_free_null_and_accessors(void) {
    mcps_store_free(NULL);
    mcps_result_free(NULL);
    mcps_error_free(NULL);
    mcps_string_free(NULL);
    mcps_call_free(NULL);
    mcps_queue_free(NULL);
    CHECK(mcps_error_code(NULL) == MCPS_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(mcps_error_message(NULL), "") == 0);
    CHECK(mcps_error_rpc_code(NULL) == 0);
    CHECK(mcps_result_json(NULL) == NULL);
    CHECK(mcps_result_text(NULL) == NULL);
    CHECK(!mcps_result_is_error(NULL));
    CHECK(mcps_queue_pending(NULL) == 0);
    CHECK_STATUS(mcps_store_clear_cache(NULL), MCPS_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(mcps_call_cancel(NULL), MCPS_ERR_INVALID_ARGUMENT, NULL);
}

static void test_store_new(void) {
    mcps_store *s = NULL;
    mcps_error *err = NULL;

    CHECK_STATUS(mcps_store_new(NULL, &s, &err), MCPS_OK, err);
    CHECK(s != NULL);
    mcps_store_free(s);
    s = NULL;

    CHECK_STATUS(mcps_store_new("{}", &s, NULL), MCPS_OK, NULL);
    mcps_store_free(s);
    s = NULL;

    /* Outputs are written only on success. */
    mcps_store *sentinel = (mcps_store *)&err;
    s = sentinel;
    CHECK_STATUS(mcps_store_new("{not json", &s, &err), MCPS_ERR_CONFIG, err);
    CHECK(s == sentinel);
    CHECK(mcps_error_code(err) == MCPS_ERR_CONFIG);
    CHECK_CONTAINS(mcps_error_message(err), "JSON");
    clear_error(&err);

    CHECK_STATUS(mcps_store_new("{\"mcpServers\": {\"x\": {}}}", &s, &err), MCPS_ERR_CONFIG, err);
    CHECK(s == sentinel);
    clear_error(&err);
    CHECK_STATUS(mcps_store_new("{\"performance\": {\"cache_size\": \"many\"}}", &s, &err),
                 MCPS_ERR_CONFIG, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_new(BAD_UTF8, &s, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    CHECK_CONTAINS(mcps_error_message(err), "UTF-8");
    clear_error(&err);
    CHECK_STATUS(mcps_store_new("{}", NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_new("{not json", &s, NULL), MCPS_ERR_CONFIG, NULL);
    CHECK(s == sentinel);
}

static void test_store_new_from_file(void) {
    char path[] = "/tmp/mcps-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) {
        return;
    }
    char *service = stdio_service("");
    char *config = one_service_config("demo", service, "{\"min_connections\": 1}");
    CHECK(write(fd, config, strlen(config)) == (ssize_t)strlen(config));
    close(fd);

    mcps_store *s = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_new_from_file(path, &s, &err), MCPS_OK, err);
    mcps_result *r = NULL;
    CHECK_STATUS(mcps_store_call_tool(s, "echo", "{\"message\": \"from file\"}", &r, &err),
                 MCPS_OK, err);
    CHECK(r != NULL && strcmp(mcps_result_text(r), "from file") == 0);
    mcps_result_free(r);
    mcps_store_free(s);
    s = NULL;
    unlink(path);

    CHECK_STATUS(mcps_store_new_from_file(path, &s, &err), MCPS_ERR_CONFIG, err);
    CHECK(s == NULL);
    clear_error(&err);
    CHECK_STATUS(mcps_store_new_from_file(NULL, &s, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_new_from_file(BAD_UTF8, &s, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_new_from_file(path, NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    free(service);
    free(config);
}

static void test_services(transport t) {
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_new("{\"performance\": {\"min_connections\": 1}}", &s, &err), MCPS_OK,
                 err);
    char *service = demo_service(t);

    CHECK_STATUS(mcps_store_add_service(s, "demo", service, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_add_service(s, "demo", service, &err), MCPS_ERR_CONFIG, err);
    CHECK_CONTAINS(mcps_error_message(err), "already exists");
    clear_error(&err);
    CHECK_STATUS(mcps_store_add_service(s, "bad name", service, &err), MCPS_ERR_CONFIG, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_add_service(s, "x", "{\"args\": []}", &err), MCPS_ERR_CONFIG, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_add_service(s, "x", "{\"command\": ", &err),
                 MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_add_service(s, "x", NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_add_service(s, NULL, service, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_add_service(s, BAD_UTF8, service, &err), MCPS_ERR_INVALID_ARGUMENT,
                 err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_add_service(NULL, "x", service, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);

    char *more = one_service_config("more", service, "{}");
    CHECK_STATUS(mcps_store_load_json(s, more, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_load_json(s, "[]", &err), MCPS_ERR_CONFIG, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_load_json(s, NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_load_json(NULL, more, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    free(more);

    char *json = NULL;
    CHECK_STATUS(mcps_store_list_tools(s, "demo", &json, &err), MCPS_OK, err);
    CHECK_CONTAINS(json, "\"name\":\"echo\"");
    CHECK_CONTAINS(json, "\"service\":\"demo\"");
    CHECK_CONTAINS(json, "inputSchema");
    CHECK(json == NULL || strstr(json, "\"service\":\"more\"") == NULL);
    mcps_string_free(json);
    json = NULL;
    CHECK_STATUS(mcps_store_list_tools(s, NULL, &json, &err), MCPS_OK, err);
    CHECK_CONTAINS(json, "\"service\":\"more\"");
    mcps_string_free(json);
    json = NULL;
    CHECK_STATUS(mcps_store_list_tools(s, "nope", &json, &err), MCPS_ERR_SERVICE_NOT_FOUND, err);
    CHECK(json == NULL);
    clear_error(&err);
    CHECK_STATUS(mcps_store_list_tools(s, BAD_UTF8, &json, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_list_tools(s, NULL, NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_list_tools(NULL, NULL, &json, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);

    CHECK_STATUS(mcps_store_list_services(s, &json, &err), MCPS_OK, err);
    CHECK_CONTAINS(json, "\"name\":\"demo\"");
    CHECK_CONTAINS(json, "\"name\":\"more\"");
    CHECK_CONTAINS(json, t == TRANSPORT_STDIO ? "\"transport\":\"stdio\""
                                              : "\"transport\":\"streamable-http\"");
    mcps_string_free(json);
    json = NULL;
    CHECK_STATUS(mcps_store_list_services(s, NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_list_services(NULL, &json, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);

    /* Both services offer echo: a bare name is ambiguous. */
    mcps_result *r = NULL;
    CHECK_STATUS(mcps_store_call_tool(s, "echo", "{\"message\": \"x\"}", &r, &err),
                 MCPS_ERR_AMBIGUOUS_TOOL, err);
    CHECK_CONTAINS(mcps_error_message(err), "more.echo");
    clear_error(&err);

    CHECK_STATUS(mcps_store_remove_service(s, "more", &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_remove_service(s, "more", &err), MCPS_ERR_SERVICE_NOT_FOUND, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_remove_service(s, NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_remove_service(NULL, "demo", &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_call_tool(s, "echo", "{\"message\": \"y\"}", &r, &err), MCPS_OK, err);
    CHECK(r != NULL && strcmp(mcps_result_text(r), "y") == 0);
    mcps_result_free(r);

    free(service);
    mcps_store_free(s);
}

static void test_calls(transport t) {
    mcps_store *s = open_demo_store(t, "{\"min_connections\": 1}");
    mcps_error *err = NULL;
    mcps_result *r = NULL;

    CHECK_STATUS(mcps_store_call_tool(s, "echo", "{\"message\": \"hello\"}", &r, &err), MCPS_OK,
                 err);
    CHECK(r != NULL);
    CHECK(strcmp(mcps_result_text(r), "hello") == 0);
    CHECK_CONTAINS(mcps_result_json(r), "\"content\":[");
    CHECK_CONTAINS(mcps_result_json(r), "\"text\":\"hello\"");
    CHECK(mcps_result_json(r) == mcps_result_json(r)); /* built once, lives with r */
    CHECK(!mcps_result_is_error(r));
    mcps_result_free(r);
    r = NULL;

    /* Qualified names, UTF-8 text. */
    CHECK_STATUS(mcps_store_call_tool(s, "demo.echo", "{\"message\": \"h\xc3\xa9 \xe2\x9c\x93\"}", &r,
                                      &err),
                 MCPS_OK, err);
    CHECK(r != NULL && strcmp(mcps_result_text(r), "h\xc3\xa9 \xe2\x9c\x93") == 0);
    mcps_result_free(r);
    CHECK_STATUS(mcps_store_call_tool(s, "demo_echo", "{\"message\": \"u\"}", &r, &err), MCPS_OK,
                 err);
    mcps_result_free(r);

    /* A tool error is data. */
    CHECK_STATUS(mcps_store_call_tool(s, "fail", "{\"message\": \"boom\"}", &r, &err), MCPS_OK, err);
    CHECK(mcps_result_is_error(r));
    CHECK(strcmp(mcps_result_text(r), "boom") == 0);
    CHECK_CONTAINS(mcps_result_json(r), "\"isError\":true");
    mcps_result_free(r);

    /* Structured content and every content kind. */
    CHECK_STATUS(mcps_store_call_tool(s, "add", "{\"a\": 2, \"b\": 40}", &r, &err), MCPS_OK, err);
    CHECK_CONTAINS(mcps_result_json(r), "\"structuredContent\":{\"sum\":42");
    mcps_result_free(r);
    CHECK_STATUS(mcps_store_call_tool(s, "mixed_content", NULL, &r, &err), MCPS_OK, err);
    CHECK_CONTAINS(mcps_result_json(r), "\"type\":\"image\"");
    CHECK_CONTAINS(mcps_result_json(r), "\"_meta\"");
    mcps_result_free(r);

    /* Bad arguments. */
    mcps_result *sentinel = (mcps_result *)&err;
    r = sentinel;
    CHECK_STATUS(mcps_store_call_tool(s, "echo", "{\"message\": ", &r, &err),
                 MCPS_ERR_INVALID_ARGUMENT, err);
    CHECK(r == sentinel);
    CHECK_CONTAINS(mcps_error_message(err), "args_json");
    clear_error(&err);
    CHECK_STATUS(mcps_store_call_tool(s, "echo", "[1, 2]", &r, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_call_tool(s, "echo", BAD_UTF8, &r, &err), MCPS_ERR_INVALID_ARGUMENT,
                 err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_call_tool(s, BAD_UTF8, "{}", &r, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_call_tool(s, NULL, "{}", &r, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_call_tool(NULL, "echo", "{}", &r, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_call_tool(s, "echo", "{}", NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK(r == sentinel);

    /* Unknown tool, with a suggestion. */
    CHECK_STATUS(mcps_store_call_tool(s, "ecoh", "{}", &r, &err), MCPS_ERR_TOOL_NOT_FOUND, err);
    CHECK_CONTAINS(mcps_error_message(err), "echo");
    CHECK(mcps_error_rpc_code(err) == 0);
    clear_error(&err);

    /* The server's JSON-RPC error (missing argument). */
    CHECK_STATUS(mcps_store_call_tool(s, "echo", "{}", &r, &err), MCPS_ERR_RPC, err);
    CHECK(mcps_error_code(err) == MCPS_ERR_RPC);
    CHECK(mcps_error_rpc_code(err) == -32602);
    CHECK_CONTAINS(mcps_error_message(err), "message");
    clear_error(&err);
    CHECK_STATUS(mcps_store_call_tool(s, "echo", "{}", &r, NULL), MCPS_ERR_RPC, NULL);
    CHECK(r == sentinel);

    /* Nothing is cached unless asked: a read-only tool without a key comes from the server. */
    char *stats = NULL;
    for (int i = 0; i < 2; i++) {
        CHECK_STATUS(mcps_store_call_tool(s, "add", "{\"a\": 1, \"b\": 1}", &r, &err), MCPS_OK, err);
        CHECK(!mcps_result_from_cache(r));
        CHECK(mcps_result_cache_age_ms(r) == -1);
        mcps_result_free(r);
    }
    /* With a cache key the second call is a hit, and says so; clear_cache empties the cache. */
    const char *keyed = "{\"cache_key\": \"one-plus-one\"}";
    CHECK_STATUS(mcps_store_call_tool_with(s, "add", "{\"a\": 1, \"b\": 1}", keyed, NULL, &r, &err), MCPS_OK, err);
    CHECK(!mcps_result_from_cache(r));
    mcps_result_free(r);
    CHECK_STATUS(mcps_store_call_tool_with(s, "add", "{\"a\": 1, \"b\": 1}", keyed, NULL, &r, &err), MCPS_OK, err);
    CHECK(mcps_result_from_cache(r));
    CHECK(mcps_result_cache_age_ms(r) >= 0);
    CHECK_CONTAINS(mcps_result_json(r), "\"sum\":2");
    mcps_result_free(r);
    CHECK(!mcps_result_from_cache(NULL));
    CHECK(mcps_result_cache_age_ms(NULL) == -1);
    CHECK_STATUS(mcps_store_stats(s, &stats, &err), MCPS_OK, err);
    CHECK_CONTAINS(stats, "\"cache\":{");
    CHECK_CONTAINS(stats, "\"pool\":{\"demo\":{");
    CHECK_CONTAINS(stats, "\"executor\":{");
    CHECK_CONTAINS(stats, "\"c_results\":{");
    CHECK(stats != NULL && strstr(stats, "\"hits\":0,") == NULL);
    mcps_string_free(stats);
    CHECK_STATUS(mcps_store_clear_cache(s), MCPS_OK, NULL);
    CHECK_STATUS(mcps_store_stats(s, &stats, &err), MCPS_OK, err);
    CHECK_CONTAINS(stats, "\"entries\":0");
    mcps_string_free(stats);
    CHECK_STATUS(mcps_store_stats(s, NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_stats(NULL, &stats, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);

    mcps_store_free(s);
}

static void test_batch(transport t) {
    mcps_store *s = open_demo_store(t, "{\"min_connections\": 1}");
    mcps_error *err = NULL;
    char *out = NULL;
    const char *calls = "["
                        "{\"tool\": \"echo\", \"arguments\": {\"message\": \"first\"}},"
                        "{\"tool\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}},"
                        "{\"arguments\": {}},"
                        "{\"tool\": \"nope\"},"
                        "{\"tool\": \"echo\", \"arguments\": {}},"
                        "{\"tool\": \"echo\", \"arguments\": {\"message\": \"k\"}, \"cache_key\": \"k1\"},"
                        "{\"tool\": \"fail\", \"arguments\": {\"message\": \"bad\"}},"
                        "{\"tool\": \"echo\", \"arguments\": {\"message\": \"last\"}}"
                        "]";
    CHECK_STATUS(mcps_store_batch_call(s, calls, &out, &err), MCPS_OK, err);
    CHECK(out != NULL);
    if (out != NULL) {
        /* In input order. */
        const char *first = strstr(out, "\"text\":\"first\"");
        const char *sum = strstr(out, "\"sum\":3");
        const char *invalid = strstr(out, "\"code\":100");
        const char *unknown = strstr(out, "\"code\":103");
        const char *rpc = strstr(out, "\"rpc_code\":-32602");
        const char *keyed = strstr(out, "\"text\":\"k\"");
        const char *failed = strstr(out, "\"isError\":true");
        const char *last = strstr(out, "\"text\":\"last\"");
        CHECK(first && sum && invalid && unknown && rpc && keyed && failed && last);
        CHECK(first < sum && sum < invalid && invalid < unknown && unknown < rpc && rpc < keyed &&
              keyed < failed && failed < last);
        CHECK(out[0] == '[');
    }
    mcps_string_free(out);
    out = NULL;

    CHECK_STATUS(mcps_store_batch_call(s, "[]", &out, &err), MCPS_OK, err);
    CHECK(out != NULL && strcmp(out, "[]") == 0);
    mcps_string_free(out);
    out = NULL;
    CHECK_STATUS(mcps_store_batch_call(s, "{\"tool\": \"echo\"}", &out, &err),
                 MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_batch_call(s, "[", &out, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_batch_call(s, NULL, &out, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_batch_call(s, BAD_UTF8, &out, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_batch_call(s, "[]", NULL, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_batch_call(NULL, "[]", &out, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK(out == NULL);
    mcps_store_free(s);
}

int main(void) {
    test_version();
    test_free_null_and_accessors();
    test_store_new();
    test_store_new_from_file();
    for (int i = 0; i < 2; i++) {
        transport t = i == 0 ? TRANSPORT_STDIO : TRANSPORT_HTTP;
        fprintf(stderr, "-- %s\n", transport_name(t));
        test_services(t);
        test_calls(t);
        test_batch(t);
    }
    return finish("test_basic");
}
