/* Bad input at the C boundary, table-driven: every function of
 * include/mcpstore.h (the table is checked against the header, so a new
 * function cannot be left out) gets, one argument at a time with the others
 * valid:
 *   - NULL for each pointer argument (handles, strings, out-parameters, the
 *     error out-parameter, callbacks: the thunks pass NULL callbacks);
 *   - for each string: invalid UTF-8; for each JSON string also malformed
 *     JSON, 100,000 levels of nesting, and $MCPS_BIG_JSON_MB (default 100)
 *     MB of valid JSON of the wrong shape;
 * and must return the documented status, never write an out-parameter on
 * failure, and give an error object whose code is the status. Then:
 *   - handles freed twice (detected and ignored: docs/c-api.md);
 *   - a reply answered twice;
 *   - calls through queues, event queues, call handles and results that
 *     outlive their store;
 *   - one call with $MCPS_BIG_JSON_MB MB of valid arguments.
 * It runs under ASan/UBSan/LSan and under valgrind (`make valgrind`), so a
 * crash, an invalid access or a leak fails it. */
#include "common.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ kinds */

enum kind {
    K_NONE,     /* the end of an entry's parameters */
    K_STORE,    /* a live store with the demo service "demo" over stdio */
    K_AUX,      /* a store without services, for the setters (NULL callbacks remove handlers) */
    K_QUEUE,    /* a completion queue of K_STORE */
    K_EVQ,      /* an event queue of K_STORE */
    K_CALL,     /* a finished call handle */
    K_CANCEL,   /* a cancel token */
    K_ERROR,    /* an error object */
    K_RESULT,   /* a result */
    K_REPLY,    /* a fresh reply to a sampling request (consumed unless the entry borrows it) */
    K_AUTHZ,    /* an authorization: only NULL is tried (a live one needs the OAuth world: test_auth) */
    K_STR,      /* a string */
    K_JSON,     /* a JSON text */
    K_OUT_STR,  /* char ** */
    K_OUT_RESULT,
    K_OUT_STORE,
    K_OUT_QUEUE,
    K_OUT_EVQ,
    K_OUT_CALL,
    K_OUT_CANCEL,
    K_OUT_ERROR, /* mcps_error ** that is an output, not the err parameter */
    K_OUT_SCALAR, /* uint64_t * or mcps_status * */
    K_ERR       /* the last mcps_error **err */
};

#define ANY (-1)
#define INV MCPS_ERR_INVALID_ARGUMENT
#define CFG MCPS_ERR_CONFIG

enum shape { SHAPE_NONE, BIG_ARRAY, BIG_OBJECT };

typedef struct param {
    enum kind kind;
    const char *valid; /* K_STR / K_JSON */
    int null_want;     /* the status when it is NULL (ANY: whatever the valid call gives) */
    int bad_want;      /* K_JSON: malformed, deeply nested (invalid UTF-8 is always INVALID_ARGUMENT) */
    int big_want;      /* K_JSON: big JSON of the wrong shape */
    enum shape big_shape;
} param;

#define MAXP 9
typedef int (*thunk)(void **p);

typedef struct entry {
    const char *name;
    thunk call;
    int borrows_reply; /* the function does not consume its reply */
    param param[MAXP];
} entry;

/* Shorthands for parameters. */
#define P_STORE {K_STORE, NULL, INV, 0, 0, SHAPE_NONE}
#define P_AUX {K_AUX, NULL, INV, 0, 0, SHAPE_NONE}
#define P_QUEUE {K_QUEUE, NULL, INV, 0, 0, SHAPE_NONE}
#define P_EVQ {K_EVQ, NULL, INV, 0, 0, SHAPE_NONE}
#define P_CALL {K_CALL, NULL, INV, 0, 0, SHAPE_NONE}
#define P_OPT_CANCEL {K_CANCEL, NULL, ANY, 0, 0, SHAPE_NONE}
#define P_REPLY {K_REPLY, NULL, INV, 0, 0, SHAPE_NONE}
#define P_AUTHZ {K_AUTHZ, NULL, INV, 0, 0, SHAPE_NONE}
#define P_STR(v) {K_STR, (v), INV, INV, 0, SHAPE_NONE}
#define P_OPT_STR(v) {K_STR, (v), ANY, INV, 0, SHAPE_NONE}
#define P_OBJ(v) {K_JSON, (v), INV, INV, INV, BIG_ARRAY}
#define P_OPT_OBJ(v) {K_JSON, (v), ANY, INV, INV, BIG_ARRAY}
#define P_ARR(v) {K_JSON, (v), INV, INV, INV, BIG_OBJECT}
#define P_OUT(k) {(k), NULL, INV, 0, 0, SHAPE_NONE}
#define P_OPT_OUT(k) {(k), NULL, ANY, 0, 0, SHAPE_NONE}
#define P_ERR {K_ERR, NULL, ANY, 0, 0, SHAPE_NONE}
/* A handle a free or accessor function takes, with what NULL gives (via the thunk's check). */
#define P_H(k) {(k), NULL, MCPS_OK, 0, 0, SHAPE_NONE}

/* Non-status functions report through their thunk: MCPS_OK when the value
 * is the documented one for NULL, MCPS_ERR_INTERNAL otherwise. */
#define IS(cond) ((cond) ? MCPS_OK : MCPS_ERR_INTERNAL)

/* ------------------------------------------------------------------ thunks */

#define T(fn) static int t_##fn(void **p)
T(mcps_authorization_fail) { return mcps_authorization_fail(p[0], p[1], p[2]); }
T(mcps_authorization_free) { mcps_authorization_free(p[0]); return MCPS_OK; }
T(mcps_authorization_is_pending) { return IS(!mcps_authorization_is_pending(p[0])); }
T(mcps_authorization_redirect) { return mcps_authorization_redirect(p[0], p[1], p[2]); }
T(mcps_call_cancel) { return mcps_call_cancel(p[0]); }
T(mcps_call_free) { mcps_call_free(p[0]); return MCPS_OK; }
T(mcps_call_wait) { return mcps_call_wait(p[0], 5000, p[1], p[2]); }
T(mcps_cancel_cancel) { return mcps_cancel_cancel(p[0]); }
T(mcps_cancel_free) { mcps_cancel_free(p[0]); return MCPS_OK; }
T(mcps_cancel_is_cancelled) { return IS(!mcps_cancel_is_cancelled(p[0])); }
T(mcps_cancel_new) { return mcps_cancel_new(p[0], p[1]); }
T(mcps_error_code) { return mcps_error_code(p[0]); }
T(mcps_error_free) { mcps_error_free(p[0]); return MCPS_OK; }
T(mcps_error_message) { const char *m = mcps_error_message(p[0]); return IS(m != NULL && m[0] == '\0'); }
T(mcps_error_rpc_code) { return IS(mcps_error_rpc_code(p[0]) == 0); }
T(mcps_event_queue_dropped) { return IS(mcps_event_queue_dropped(p[0]) == 0); }
T(mcps_event_queue_free) { mcps_event_queue_free(p[0]); return MCPS_OK; }
T(mcps_event_queue_next) { return mcps_event_queue_next(p[0], 0, p[1], p[2]); }
T(mcps_queue_free) { mcps_queue_free(p[0]); return MCPS_OK; }
T(mcps_queue_new) { return mcps_queue_new(p[0], p[1], p[2]); }
T(mcps_queue_next) { return mcps_queue_next(p[0], 0, p[1], p[2], p[3], p[4], p[5]); }
T(mcps_queue_pending) { return IS(mcps_queue_pending(p[0]) == 0); }
T(mcps_queue_submit) { return mcps_queue_submit(p[0], p[1], p[2], 1, p[3]); }
T(mcps_queue_submit_with) { return mcps_queue_submit_with(p[0], p[1], p[2], p[3], p[4], 2, p[5]); }
T(mcps_reply_error) { return mcps_reply_error(p[0], -1, p[1], p[2]); }
T(mcps_reply_free) { mcps_reply_free(p[0]); return MCPS_OK; }
T(mcps_reply_is_pending) { return IS(!mcps_reply_is_pending(p[0])); }
T(mcps_reply_result) { return mcps_reply_result(p[0], p[1], p[2]); }
T(mcps_result_cache_age_ms) { return IS(mcps_result_cache_age_ms(p[0]) == -1); }
T(mcps_result_free) { mcps_result_free(p[0]); return MCPS_OK; }
T(mcps_result_from_cache) { return IS(!mcps_result_from_cache(p[0])); }
T(mcps_result_is_error) { return IS(!mcps_result_is_error(p[0])); }
T(mcps_result_json) { return IS(mcps_result_json(p[0]) == NULL); }
T(mcps_result_schema_mismatch) { return IS(mcps_result_schema_mismatch(p[0]) == NULL); }
T(mcps_result_text) { return IS(mcps_result_text(p[0]) == NULL); }
T(mcps_store_add_service) { return mcps_store_add_service(p[0], p[1], p[2], p[3]); }
T(mcps_store_apply_performance) { return mcps_store_apply_performance(p[0], p[1], p[2], p[3]); }
T(mcps_store_auth_login) { return mcps_store_auth_login(p[0], p[1], 100, p[2], p[3]); }
T(mcps_store_auth_logout) { return mcps_store_auth_logout(p[0], p[1], p[2]); }
T(mcps_store_auth_status) { return mcps_store_auth_status(p[0], p[1], p[2], p[3]); }
T(mcps_store_batch_call) { return mcps_store_batch_call(p[0], p[1], p[2], p[3]); }
T(mcps_store_call_tool) { return mcps_store_call_tool(p[0], p[1], p[2], p[3], p[4]); }
T(mcps_store_call_tool_with) { return mcps_store_call_tool_with(p[0], p[1], p[2], p[3], p[4], p[5], p[6]); }
T(mcps_store_clear_cache) { return mcps_store_clear_cache(p[0]); }
T(mcps_store_complete) { return mcps_store_complete(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]); }
T(mcps_store_event_queue_new) { return mcps_store_event_queue_new(p[0], p[1], p[2]); }
T(mcps_store_free) { mcps_store_free(p[0]); return MCPS_OK; }
T(mcps_store_get_prompt) { return mcps_store_get_prompt(p[0], p[1], p[2], p[3], p[4]); }
T(mcps_store_get_prompt_with) { return mcps_store_get_prompt_with(p[0], p[1], p[2], p[3], p[4], p[5], p[6]); }
T(mcps_store_list_prompts) { return mcps_store_list_prompts(p[0], p[1], p[2], p[3]); }
T(mcps_store_list_resource_templates) { return mcps_store_list_resource_templates(p[0], p[1], p[2], p[3]); }
T(mcps_store_list_resources) { return mcps_store_list_resources(p[0], p[1], p[2], p[3]); }
T(mcps_store_list_services) { return mcps_store_list_services(p[0], p[1], p[2]); }
T(mcps_store_list_tools) { return mcps_store_list_tools(p[0], p[1], p[2], p[3]); }
T(mcps_store_load_json) { return mcps_store_load_json(p[0], p[1], p[2]); }
T(mcps_store_memory_summary) { return mcps_store_memory_summary(p[0], p[1], p[2]); }
T(mcps_store_monitor_start) { return mcps_store_monitor_start(p[0], 1000); }
T(mcps_store_monitor_stop) { return mcps_store_monitor_stop(p[0]); }
T(mcps_store_new) { return mcps_store_new(p[0], p[1], p[2]); }
T(mcps_store_new_from_file) { return mcps_store_new_from_file(p[0], p[1], p[2]); }
T(mcps_store_on_event) { return mcps_store_on_event(p[0], NULL, NULL); }
T(mcps_store_on_memory_pressure) { return mcps_store_on_memory_pressure(p[0], NULL, NULL); }
T(mcps_store_read_resource) { return mcps_store_read_resource(p[0], p[1], p[2], p[3]); }
T(mcps_store_read_resource_with) { return mcps_store_read_resource_with(p[0], p[1], p[2], p[3], p[4], p[5], p[6]); }
T(mcps_store_remove_service) { return mcps_store_remove_service(p[0], p[1], p[2]); }
T(mcps_store_resolve_resource) { return mcps_store_resolve_resource(p[0], p[1], p[2], p[3]); }
T(mcps_store_roots_changed) { return mcps_store_roots_changed(p[0], p[1], p[2]); }
T(mcps_store_set_authorizer) { return mcps_store_set_authorizer(p[0], NULL, NULL, p[1]); }
T(mcps_store_set_elicitation_handler) { return mcps_store_set_elicitation_handler(p[0], p[1], NULL, NULL, false, p[2]); }
T(mcps_store_set_log_level) { return mcps_store_set_log_level(p[0], p[1], p[2], p[3]); }
T(mcps_store_set_memory_threshold) { return mcps_store_set_memory_threshold(p[0], 100000.0); }
T(mcps_store_set_roots) { return mcps_store_set_roots(p[0], p[1], p[2], p[3]); }
T(mcps_store_set_roots_handler) { return mcps_store_set_roots_handler(p[0], p[1], NULL, NULL, p[2]); }
T(mcps_store_set_sampling_handler) { return mcps_store_set_sampling_handler(p[0], p[1], NULL, NULL, false, p[2]); }
T(mcps_store_stats) { return mcps_store_stats(p[0], p[1], p[2]); }
T(mcps_store_stats_prometheus) { return mcps_store_stats_prometheus(p[0], p[1], p[2]); }
T(mcps_store_submit) { return mcps_store_submit(p[0], p[1], p[2], NULL, NULL, p[3], p[4]); }
T(mcps_store_submit_with) { return mcps_store_submit_with(p[0], p[1], p[2], p[3], p[4], NULL, NULL, p[5], p[6]); }
T(mcps_store_subscribe_resource) { return mcps_store_subscribe_resource(p[0], p[1], p[2], p[3], p[4]); }
T(mcps_store_subscriptions) { return mcps_store_subscriptions(p[0], p[1], p[2], p[3]); }
T(mcps_store_unsubscribe_resource) { return mcps_store_unsubscribe_resource(p[0], p[1], p[2], p[3]); }
T(mcps_store_use_accept_defaults) { return mcps_store_use_accept_defaults(p[0], p[1], p[2]); }
T(mcps_store_use_headless_authorizer) { return mcps_store_use_headless_authorizer(p[0], p[1]); }
T(mcps_string_free) { mcps_string_free(p[0]); return MCPS_OK; }
T(mcps_version) { (void)p; const char *v = mcps_version(); return IS(v != NULL && v[0] != '\0'); }

/* ------------------------------------------------------------------ the table */

#define E(fn) #fn, t_##fn
#define ARGS "{\"message\": \"bad input\"}"
#define OPTS "{\"timeout_ms\": 10000}"
#define URI "demo://notes/bad-input"
static const entry TABLE[] = {
    {E(mcps_authorization_fail), 0, {P_AUTHZ, P_OPT_STR("no"), P_ERR}},
    {E(mcps_authorization_free), 0, {P_H(K_AUTHZ)}},
    {E(mcps_authorization_is_pending), 0, {P_H(K_AUTHZ)}},
    {E(mcps_authorization_redirect), 0, {P_AUTHZ, P_STR("http://127.0.0.1:1/cb?code=x"), P_ERR}},
    {E(mcps_call_cancel), 0, {P_CALL}},
    {E(mcps_call_free), 0, {P_H(K_CALL)}},
    {E(mcps_call_wait), 0, {P_CALL, P_OUT(K_OUT_RESULT), P_ERR}},
    {E(mcps_cancel_cancel), 0, {{K_CANCEL, NULL, INV, 0, 0, SHAPE_NONE}}},
    {E(mcps_cancel_free), 0, {P_H(K_CANCEL)}},
    {E(mcps_cancel_is_cancelled), 0, {P_H(K_CANCEL)}},
    {E(mcps_cancel_new), 0, {P_OUT(K_OUT_CANCEL), P_ERR}},
    {E(mcps_error_code), 0, {{K_ERROR, NULL, INV, 0, 0, SHAPE_NONE}}},
    {E(mcps_error_free), 0, {P_H(K_ERROR)}},
    {E(mcps_error_message), 0, {P_H(K_ERROR)}},
    {E(mcps_error_rpc_code), 0, {P_H(K_ERROR)}},
    {E(mcps_event_queue_dropped), 0, {P_H(K_EVQ)}},
    {E(mcps_event_queue_free), 0, {P_H(K_EVQ)}},
    {E(mcps_event_queue_next), 0, {P_EVQ, P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_queue_free), 0, {P_H(K_QUEUE)}},
    {E(mcps_queue_new), 0, {P_STORE, P_OUT(K_OUT_QUEUE), P_ERR}},
    {E(mcps_queue_next), 0, {P_QUEUE, P_OUT(K_OUT_SCALAR), P_OUT(K_OUT_SCALAR), P_OUT(K_OUT_RESULT),
                             P_OPT_OUT(K_OUT_ERROR), P_ERR}},
    {E(mcps_queue_pending), 0, {P_H(K_QUEUE)}},
    {E(mcps_queue_submit), 0, {P_QUEUE, P_STR("echo"), P_OPT_OBJ(ARGS), P_ERR}},
    {E(mcps_queue_submit_with), 0, {P_QUEUE, P_STR("echo"), P_OPT_OBJ(ARGS), P_OPT_OBJ(OPTS), P_OPT_CANCEL, P_ERR}},
    {E(mcps_reply_error), 0, {P_REPLY, P_OPT_STR("declined"), P_ERR}},
    {E(mcps_reply_free), 0, {P_H(K_REPLY)}},
    {E(mcps_reply_is_pending), 1, {P_H(K_REPLY)}},
    {E(mcps_reply_result), 0,
     {P_REPLY, P_OBJ("{\"role\": \"assistant\", \"content\": {\"type\": \"text\", \"text\": \"hi\"}, \"model\": \"m\"}"),
      P_ERR}},
    {E(mcps_result_cache_age_ms), 0, {P_H(K_RESULT)}},
    {E(mcps_result_free), 0, {P_H(K_RESULT)}},
    {E(mcps_result_from_cache), 0, {P_H(K_RESULT)}},
    {E(mcps_result_is_error), 0, {P_H(K_RESULT)}},
    {E(mcps_result_json), 0, {P_H(K_RESULT)}},
    {E(mcps_result_schema_mismatch), 0, {P_H(K_RESULT)}},
    {E(mcps_result_text), 0, {P_H(K_RESULT)}},
    {E(mcps_store_add_service), 0,
     {P_AUX, P_STR("x"), {K_JSON, "{\"command\": \"/nonexistent/server\"}", INV, INV, CFG, BIG_ARRAY}, P_ERR}},
    {E(mcps_store_apply_performance), 0,
     {P_AUX, {K_JSON, "{\"cache_size\": 100}", INV, INV, CFG, BIG_ARRAY}, P_OPT_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_auth_login), 0, {P_STORE, P_STR("demo"), P_OPT_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_auth_logout), 0, {P_STORE, P_STR("demo"), P_ERR}},
    {E(mcps_store_auth_status), 0, {P_STORE, P_STR("demo"), P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_batch_call), 0,
     {P_STORE, P_ARR("[{\"tool\": \"echo\", \"arguments\": " ARGS "}]"), P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_call_tool), 0, {P_STORE, P_STR("echo"), P_OPT_OBJ(ARGS), P_OUT(K_OUT_RESULT), P_ERR}},
    {E(mcps_store_call_tool_with), 0,
     {P_STORE, P_STR("echo"), P_OPT_OBJ(ARGS), P_OPT_OBJ(OPTS), P_OPT_CANCEL, P_OUT(K_OUT_RESULT), P_ERR}},
    {E(mcps_store_clear_cache), 0, {P_STORE}},
    {E(mcps_store_complete), 0,
     {P_STORE, P_OPT_STR("demo"), P_OBJ("{\"type\": \"ref/prompt\", \"name\": \"nope\"}"), P_STR("a"),
      P_STR("b"), P_OPT_OBJ("{}"), P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_event_queue_new), 0, {P_STORE, P_OUT(K_OUT_EVQ), P_ERR}},
    {E(mcps_store_free), 0, {P_H(K_STORE)}},
    {E(mcps_store_get_prompt), 0, {P_STORE, P_STR("nope"), P_OPT_OBJ("{}"), P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_get_prompt_with), 0,
     {P_STORE, P_STR("nope"), P_OPT_OBJ("{}"), P_OPT_OBJ(OPTS), P_OPT_CANCEL, P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_list_prompts), 0, {P_STORE, P_OPT_STR("demo"), P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_list_resource_templates), 0, {P_STORE, P_OPT_STR("demo"), P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_list_resources), 0, {P_STORE, P_OPT_STR("demo"), P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_list_services), 0, {P_STORE, P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_list_tools), 0, {P_STORE, P_OPT_STR("demo"), P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_load_json), 0,
     {P_AUX, {K_JSON, "{\"mcpServers\": {}}", INV, CFG, CFG, BIG_ARRAY}, P_ERR}},
    {E(mcps_store_memory_summary), 0, {P_STORE, P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_monitor_start), 0, {P_AUX}},
    {E(mcps_store_monitor_stop), 0, {P_AUX}},
    /* NULL config: the defaults (documented); invalid UTF-8: INVALID_ARGUMENT; bad JSON: CONFIG. */
    {E(mcps_store_new), 0,
     {{K_JSON, "{\"mcpServers\": {}}", MCPS_OK, CFG, CFG, BIG_ARRAY}, P_OUT(K_OUT_STORE), P_ERR}},
    {E(mcps_store_new_from_file), 0, {P_STR("/nonexistent/mcp.json"), P_OUT(K_OUT_STORE), P_ERR}},
    {E(mcps_store_on_event), 0, {P_AUX}},
    {E(mcps_store_on_memory_pressure), 0, {P_AUX}},
    {E(mcps_store_read_resource), 0, {P_STORE, P_STR(URI), P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_read_resource_with), 0,
     {P_STORE, P_OPT_STR("demo"), P_STR(URI), P_OPT_OBJ(OPTS), P_OPT_CANCEL, P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_remove_service), 0, {P_AUX, P_STR("nope"), P_ERR}},
    {E(mcps_store_resolve_resource), 0, {P_STORE, P_STR(URI), P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_roots_changed), 0, {P_AUX, P_OPT_STR("nope"), P_ERR}},
    {E(mcps_store_set_authorizer), 0, {P_AUX, P_ERR}},
    {E(mcps_store_set_elicitation_handler), 0, {P_AUX, P_OPT_STR("nope"), P_ERR}},
    {E(mcps_store_set_log_level), 0, {P_STORE, P_OPT_STR("demo"), P_STR("info"), P_ERR}},
    {E(mcps_store_set_memory_threshold), 0, {P_AUX}},
    {E(mcps_store_set_roots), 0, {P_AUX, P_OPT_STR("nope"), P_ARR("[]"), P_ERR}},
    {E(mcps_store_set_roots_handler), 0, {P_AUX, P_OPT_STR("nope"), P_ERR}},
    {E(mcps_store_set_sampling_handler), 0, {P_AUX, P_OPT_STR("nope"), P_ERR}},
    {E(mcps_store_stats), 0, {P_STORE, P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_stats_prometheus), 0, {P_STORE, P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_submit), 0, {P_STORE, P_STR("echo"), P_OPT_OBJ(ARGS), P_OPT_OUT(K_OUT_CALL), P_ERR}},
    {E(mcps_store_submit_with), 0,
     {P_STORE, P_STR("echo"), P_OPT_OBJ(ARGS), P_OPT_OBJ(OPTS), P_OPT_CANCEL, P_OPT_OUT(K_OUT_CALL), P_ERR}},
    {E(mcps_store_subscribe_resource), 0, {P_STORE, P_OPT_STR("demo"), P_STR(URI), P_OPT_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_subscriptions), 0, {P_STORE, P_STR("demo"), P_OUT(K_OUT_STR), P_ERR}},
    {E(mcps_store_unsubscribe_resource), 0, {P_STORE, P_OPT_STR("demo"), P_STR(URI), P_ERR}},
    {E(mcps_store_use_accept_defaults), 0, {P_AUX, P_OPT_STR("nope"), P_ERR}},
    {E(mcps_store_use_headless_authorizer), 0, {P_AUX, P_ERR}},
    {E(mcps_string_free), 0, {{K_OUT_STR, NULL, MCPS_OK, 0, 0, SHAPE_NONE}}},
    {E(mcps_version), 0, {{K_ERR, NULL, -2, 0, 0, SHAPE_NONE}}}, /* no pointer: called once */
};
#define NENTRIES (sizeof TABLE / sizeof TABLE[0])

/* ------------------------------------------------------------------ context */

typedef struct ctx {
    mcps_store *s;
    mcps_store *aux;
    mcps_queue *q;
    mcps_event_queue *eq;
    mcps_call *call;
    mcps_cancel *cancel;
    mcps_error *error;
    mcps_result *result;
    mcps_call *asks[4096]; /* the ask_model calls behind the replies */
    int nasks;
} ctx;

static pthread_mutex_t g_reply_lock = PTHREAD_MUTEX_INITIALIZER;
static mcps_reply *g_reply = NULL;

static void on_sampling(void *userdata, const char *service, const char *request_json, mcps_reply *reply) {
    (void)userdata;
    (void)service;
    (void)request_json;
    pthread_mutex_lock(&g_reply_lock);
    mcps_reply *old = g_reply;
    g_reply = reply;
    pthread_mutex_unlock(&g_reply_lock);
    mcps_reply_free(old); /* never happens: one request at a time */
}

static int reply_arrived(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g_reply_lock);
    int got = g_reply != NULL;
    pthread_mutex_unlock(&g_reply_lock);
    return got;
}

/* A reply to a new sampling request (ask_model), taken by the test thread. */
static mcps_reply *fresh_reply(ctx *c) {
    mcps_call *call = NULL;
    mcps_error *err = NULL;
    if (mcps_store_submit(c->s, "ask_model", "{\"question\": \"q\"}", NULL, NULL, &call, &err) != MCPS_OK) {
        fatal("submit ask_model: %s", mcps_error_message(err));
    }
    if (c->nasks == (int)(sizeof c->asks / sizeof c->asks[0])) {
        fatal("too many replies");
    }
    c->asks[c->nasks++] = call;
    if (!wait_until(reply_arrived, NULL, 30000)) {
        fatal("no sampling request within 30 s");
    }
    pthread_mutex_lock(&g_reply_lock);
    mcps_reply *r = g_reply;
    g_reply = NULL;
    pthread_mutex_unlock(&g_reply_lock);
    return r;
}

/* ------------------------------------------------------------------ bad inputs */

static const char BAD_UTF8[] = "{\"message\": \"\xff\xfe\xc3\x28\"}";
static const char MALFORMED[] = "{\"message\": \"x\",,";
static char *g_deep = NULL;      /* 100,000 [ then 100,000 ] */
static char *g_big_array = NULL; /* ["xxxx...."] */
static char *g_big_object = NULL; /* {"message": "xxxx...."} */
static size_t g_big_bytes = 0;

static char *big_json(const char *head, const char *tail) {
    size_t h = strlen(head), t = strlen(tail);
    char *s = malloc(g_big_bytes + h + t + 1);
    if (s == NULL) {
        fatal("out of memory");
    }
    memcpy(s, head, h);
    memset(s + h, 'x', g_big_bytes);
    memcpy(s + h + g_big_bytes, tail, t + 1);
    return s;
}

static void make_inputs(void) {
    const char *mb = getenv("MCPS_BIG_JSON_MB");
    long n = (mb != NULL && mb[0] != '\0') ? atol(mb) : 100;
    g_big_bytes = (size_t)(n > 0 ? n : 1) << 20;
    const size_t depth = 100000;
    g_deep = malloc(2 * depth + 1);
    if (g_deep == NULL) {
        fatal("out of memory");
    }
    memset(g_deep, '[', depth);
    memset(g_deep + depth, ']', depth);
    g_deep[2 * depth] = '\0';
    g_big_array = big_json("[\"", "\"]");
    g_big_object = big_json("{\"message\": \"", "\"}");
}

/* ------------------------------------------------------------------ the driver */

static char g_sentinel_byte;
#define SENTINEL ((void *)&g_sentinel_byte)
#define SCALAR_FILL 0xABABABABABABABABull

typedef struct slots {
    void *ptr[MAXP];
    uint64_t scalar[MAXP];
    mcps_reply *reply[MAXP];
} slots;

/* What one case gave: its label, for messages. */
static int g_cases = 0;

/* Builds the arguments of `e` with argument `bad` replaced by `value`
 * (`bad < 0`: all valid); returns 0 when an argument has no valid value
 * here (a live authorization), so the case is skipped. */
static int build(ctx *c, const entry *e, int n, int bad, const char *value, void **p, slots *sl) {
    for (int j = 0; j < n; j++) {
        sl->ptr[j] = SENTINEL;
        sl->scalar[j] = SCALAR_FILL;
        sl->reply[j] = NULL;
        if (j == bad) {
            p[j] = (void *)value;
            continue;
        }
        const param *pr = &e->param[j];
        switch (pr->kind) {
        case K_STORE: p[j] = c->s; break;
        case K_AUX: p[j] = c->aux; break;
        case K_QUEUE: p[j] = c->q; break;
        case K_EVQ: p[j] = c->eq; break;
        case K_CALL: p[j] = c->call; break;
        case K_CANCEL: p[j] = c->cancel; break;
        case K_ERROR: p[j] = c->error; break;
        case K_RESULT: p[j] = c->result; break;
        case K_REPLY: sl->reply[j] = fresh_reply(c); p[j] = sl->reply[j]; break;
        case K_AUTHZ: return 0;
        case K_STR:
        case K_JSON: p[j] = (void *)pr->valid; break;
        case K_OUT_SCALAR: p[j] = &sl->scalar[j]; break;
        case K_ERR: sl->ptr[j] = NULL; p[j] = &sl->ptr[j]; break;
        default: p[j] = &sl->ptr[j]; break;
        }
    }
    return 1;
}

/* Checks the outputs of a case and frees what it got. */
static void finish_case(const entry *e, int n, int bad, int status, void **p, slots *sl, const char *label) {
    mcps_error *err = NULL;
    for (int j = 0; j < n; j++) {
        const param *pr = &e->param[j];
        if (j == bad && pr->kind != K_STR && pr->kind != K_JSON) {
            continue; /* NULL: nothing was written */
        }
        void *got = sl->ptr[j];
        if (pr->kind == K_ERR) {
            err = got;
            continue;
        }
        if (pr->kind == K_OUT_SCALAR) {
            if (status != MCPS_OK && sl->scalar[j] != SCALAR_FILL) {
                fprintf(stderr, "%s (%s): an output was written on failure\n", e->name, label);
                CHECK(0);
            }
            continue;
        }
        if (pr->kind == K_REPLY) {
            if (e->borrows_reply) {
                mcps_reply_free(sl->reply[j]);
            }
            continue;
        }
        if (pr->kind < K_OUT_STR || pr->kind > K_OUT_ERROR || p[j] == NULL) {
            continue;
        }
        if (status != MCPS_OK) {
            if (got != SENTINEL) {
                fprintf(stderr, "%s (%s): an output was written on failure\n", e->name, label);
                CHECK(0);
            }
            continue;
        }
        if (got == SENTINEL || got == NULL) {
            continue;
        }
        switch (pr->kind) {
        case K_OUT_STR: mcps_string_free(got); break;
        case K_OUT_RESULT: mcps_result_free(got); break;
        case K_OUT_STORE: mcps_store_free(got); break;
        case K_OUT_QUEUE: mcps_queue_free(got); break;
        case K_OUT_EVQ: mcps_event_queue_free(got); break;
        case K_OUT_CALL: mcps_call_free(got); break;
        case K_OUT_CANCEL: mcps_cancel_free(got); break;
        case K_OUT_ERROR: mcps_error_free(got); break;
        default: break;
        }
    }
    /* A failure with an err out-parameter gives an error object with the status as its code. */
    int has_err = 0;
    for (int j = 0; j < n; j++) {
        has_err |= e->param[j].kind == K_ERR && j != bad;
    }
    if (has_err && status != MCPS_OK && status != ANY) {
        if (err == NULL || mcps_error_code(err) != (mcps_status)status) {
            fprintf(stderr, "%s (%s): status %d without a matching error object\n", e->name, label, status);
            CHECK(0);
        }
    }
    if (has_err && status == MCPS_OK && err != NULL) {
        fprintf(stderr, "%s (%s): an error object on success\n", e->name, label);
        CHECK(0);
    }
    mcps_error_free(err);
}

static void run_case(ctx *c, const entry *e, int n, int bad, const char *value, int want, const char *label) {
    void *p[MAXP] = {0};
    slots sl;
    if (!build(c, e, n, bad, value, p, &sl)) {
        return;
    }
    int status = e->call(p);
    g_cases++;
    if (want != ANY && status != want) {
        fprintf(stderr, "%s with %s: status %d, want %d\n", e->name, label, status, want);
        CHECK(0);
    } else {
        CHECK(1);
    }
    finish_case(e, n, bad, status, p, &sl, label);
}

static void run_entry(ctx *c, const entry *e) {
    int n = 0;
    while (n < MAXP && e->param[n].kind != K_NONE) {
        n++;
    }
    if (e->param[0].null_want == -2) { /* no pointer argument */
        run_case(c, e, 0, -1, NULL, MCPS_OK, "no argument");
        return;
    }
    char label[96];
    for (int i = 0; i < n; i++) {
        const param *pr = &e->param[i];
        snprintf(label, sizeof label, "NULL argument %d", i);
        run_case(c, e, n, i, NULL, pr->null_want, label);
        if (pr->kind != K_STR && pr->kind != K_JSON) {
            continue;
        }
        snprintf(label, sizeof label, "invalid UTF-8 as argument %d", i);
        run_case(c, e, n, i, BAD_UTF8, INV, label);
        if (pr->kind != K_JSON) {
            continue;
        }
        snprintf(label, sizeof label, "malformed JSON as argument %d", i);
        run_case(c, e, n, i, MALFORMED, pr->bad_want, label);
        snprintf(label, sizeof label, "100,000 levels of nesting as argument %d", i);
        run_case(c, e, n, i, g_deep, pr->bad_want, label);
        snprintf(label, sizeof label, "%zu MB of JSON as argument %d", g_big_bytes >> 20, i);
        run_case(c, e, n, i, pr->big_shape == BIG_ARRAY ? g_big_array : g_big_object, pr->big_want, label);
    }
}

/* ------------------------------------------------------------------ coverage of the header */

/* Every `mcps_*(` declared outside comments in the header has a table entry, and every entry is declared. */
static void check_coverage(void) {
    const char *path = getenv("MCPS_HEADER");
    if (path == NULL || path[0] == '\0') {
        fatal("MCPS_HEADER is not set (the Makefile sets it to include/mcpstore.h)");
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fatal("cannot open %s", path);
    }
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    /* Blank out comments. */
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] == '/' && text[i + 1] == '*') {
            char *end = strstr(text + i + 2, "*/");
            size_t stop = end == NULL ? len : (size_t)(end - text) + 2;
            memset(text + i, ' ', stop - i);
            i = stop - 1;
        } else if (text[i] == '/' && text[i + 1] == '/') {
            while (i < len && text[i] != '\n') {
                text[i++] = ' ';
            }
        }
    }
    int declared = 0, missing = 0;
    char found[256][64];
    for (const char *s = text; (s = strstr(s, "mcps_")) != NULL;) {
        const char *start = s;
        while (*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) {
            s++;
        }
        int ident_start = start > text && !(start[-1] == '_' || (start[-1] >= 'a' && start[-1] <= 'z'));
        if (*s != '(' || !ident_start || (size_t)(s - start) >= sizeof found[0]) {
            continue;
        }
        char name[64];
        memcpy(name, start, (size_t)(s - start));
        name[s - start] = '\0';
        if (declared < 256) {
            strcpy(found[declared], name);
        }
        declared++;
        int in_table = 0;
        for (size_t k = 0; k < NENTRIES; k++) {
            in_table |= strcmp(TABLE[k].name, name) == 0;
        }
        if (!in_table) {
            fprintf(stderr, "%s is declared in the header but has no entry in test_bad_input.c\n", name);
            missing++;
        }
    }
    for (size_t k = 0; k < NENTRIES; k++) {
        int in_header = 0;
        for (int d = 0; d < declared && d < 256; d++) {
            in_header |= strcmp(found[d], TABLE[k].name) == 0;
        }
        if (!in_header) {
            fprintf(stderr, "%s has a table entry but is not declared in the header\n", TABLE[k].name);
            missing++;
        }
    }
    printf("header: %d functions declared, %zu table entries\n", declared, NENTRIES);
    CHECK(declared > 50);
    CHECK(missing == 0);
    CHECK((size_t)declared == NENTRIES);
}

/* ------------------------------------------------------------------ double frees */

/* Each handle that the library tracks, freed twice: the second free is detected and does nothing. */
static void test_double_free(ctx *c) {
    mcps_store *s = NULL;
    CHECK_STATUS(mcps_store_new(NULL, &s, NULL), MCPS_OK, NULL);
    mcps_queue *q = NULL;
    CHECK_STATUS(mcps_queue_new(s, &q, NULL), MCPS_OK, NULL);
    mcps_event_queue *eq = NULL;
    CHECK_STATUS(mcps_store_event_queue_new(s, &eq, NULL), MCPS_OK, NULL);
    mcps_cancel *t = NULL;
    CHECK_STATUS(mcps_cancel_new(&t, NULL), MCPS_OK, NULL);
    mcps_error *e = NULL;
    mcps_result *none = NULL;
    CHECK_STATUS(mcps_store_call_tool(s, "nope", NULL, &none, &e), MCPS_ERR_TOOL_NOT_FOUND, e);
    mcps_call *call = NULL;
    CHECK_STATUS(mcps_store_submit(c->s, "echo", ARGS, NULL, NULL, &call, NULL), MCPS_OK, NULL);
    mcps_result *r = NULL;
    CHECK_STATUS(mcps_call_wait(call, 30000, &r, NULL), MCPS_OK, NULL);
    mcps_result_free(r);

    mcps_call_free(call);
    mcps_call_free(call);
    mcps_cancel_free(t);
    mcps_cancel_free(t);
    mcps_error_free(e);
    mcps_error_free(e);
    mcps_queue_free(q);
    mcps_queue_free(q);
    mcps_event_queue_free(eq);
    mcps_event_queue_free(eq);
    mcps_store_free(s);
    mcps_store_free(s);
    /* A pointer that never was a handle of that type is left alone too. */
    size_t pending = mcps_queue_pending(c->q);
    mcps_store_free((mcps_store *)c->q);
    mcps_error_free((mcps_error *)c->cancel);
    CHECK(mcps_queue_pending(c->q) == pending); /* c->q is intact */
    CHECK(!mcps_cancel_is_cancelled(c->cancel));

    /* A reply given back twice: the second is refused. */
    mcps_reply *reply = fresh_reply(c);
    CHECK_STATUS(mcps_reply_error(reply, -1, "no", NULL), MCPS_OK, NULL);
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_reply_result(reply, "{}", &err), MCPS_ERR_INVALID_ARGUMENT, err);
    CHECK_CONTAINS(mcps_error_message(err), "not a live reply");
    clear_error(&err);
    CHECK_STATUS(mcps_reply_error(reply, -1, "no", NULL), MCPS_ERR_INVALID_ARGUMENT, NULL);
    mcps_reply_free(reply);
    /* The authorization is checked the same way (no live one here: test_auth has the OAuth world). */
    CHECK_STATUS(mcps_authorization_redirect((mcps_authorization *)c->q, "x", NULL), MCPS_ERR_INVALID_ARGUMENT,
                 NULL);
    mcps_authorization_free((mcps_authorization *)c->q);
}

/* ------------------------------------------------------------------ after the store was freed */

static void test_after_store_free(void) {
    char *service = stdio_service("");
    char *config = one_service_config("demo", service, "{}");
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_new(config, &s, &err), MCPS_OK, err);
    free(service);
    free(config);
    mcps_queue *q = NULL;
    mcps_event_queue *eq = NULL;
    CHECK_STATUS(mcps_queue_new(s, &q, NULL), MCPS_OK, NULL);
    CHECK_STATUS(mcps_store_event_queue_new(s, &eq, NULL), MCPS_OK, NULL);
    mcps_result *kept = NULL;
    CHECK_STATUS(mcps_store_call_tool(s, "echo", ARGS, &kept, &err), MCPS_OK, err);
    mcps_error *kept_error = NULL;
    CHECK_STATUS(mcps_store_call_tool(s, "nope", NULL, &kept, &kept_error), MCPS_ERR_TOOL_NOT_FOUND, kept_error);
    mcps_call *pending = NULL;
    CHECK_STATUS(mcps_store_submit(s, "sleep", "{\"ms\": 20000}", NULL, NULL, &pending, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_queue_submit(q, "sleep", "{\"ms\": 20000}", 7, &err), MCPS_OK, err);
    mcps_cancel *t = NULL;
    CHECK_STATUS(mcps_cancel_new(&t, NULL), MCPS_OK, NULL);

    mcps_store_free(s);

    /* The call pending at the free ends with CLOSED. */
    mcps_result *r = NULL;
    CHECK_STATUS(mcps_call_wait(pending, 10000, &r, &err), MCPS_ERR_CLOSED, err);
    CHECK(r == NULL);
    clear_error(&err);
    CHECK_STATUS(mcps_call_cancel(pending), MCPS_OK, NULL);
    CHECK_STATUS(mcps_call_wait(pending, 0, &r, NULL), MCPS_ERR_CLOSED, NULL);
    mcps_call_free(pending);
    /* So does the queue's; new submissions fail with CLOSED. */
    uint64_t tag = 0;
    mcps_status call_status = MCPS_OK;
    mcps_error *call_error = NULL;
    CHECK_STATUS(mcps_queue_next(q, 10000, &tag, &call_status, &r, &call_error, &err), MCPS_OK, err);
    CHECK(tag == 7 && call_status == MCPS_ERR_CLOSED && r == NULL && call_error != NULL);
    mcps_error_free(call_error);
    CHECK_STATUS(mcps_queue_submit(q, "echo", ARGS, 8, &err), MCPS_ERR_CLOSED, err);
    clear_error(&err);
    CHECK_STATUS(mcps_queue_submit_with(q, "echo", ARGS, OPTS, t, 9, &err), MCPS_ERR_CLOSED, err);
    clear_error(&err);
    CHECK_STATUS(mcps_queue_submit(q, "echo", BAD_UTF8, 10, NULL), MCPS_ERR_INVALID_ARGUMENT, NULL);
    CHECK(mcps_queue_pending(q) == 0);
    CHECK_STATUS(mcps_queue_next(q, 0, &tag, &call_status, &r, NULL, NULL), MCPS_ERR_NOT_READY, NULL);
    /* The event queue drains, then says CLOSED. */
    char *event = NULL;
    mcps_status st;
    int events = 0;
    while ((st = mcps_event_queue_next(eq, 1000, &event, NULL)) == MCPS_OK) {
        mcps_string_free(event);
        event = NULL;
        events++;
    }
    CHECK_STATUS(st, MCPS_ERR_CLOSED, NULL);
    CHECK_STATUS(mcps_event_queue_next(eq, 0, &event, NULL), MCPS_ERR_CLOSED, NULL);
    CHECK(mcps_event_queue_dropped(eq) == 0);
    /* Results, errors and tokens outlive the store. */
    CHECK_CONTAINS(mcps_result_json(kept), "bad input");
    CHECK(strcmp(mcps_result_text(kept), "bad input") == 0);
    CHECK(mcps_error_code(kept_error) == MCPS_ERR_TOOL_NOT_FOUND);
    CHECK_STATUS(mcps_cancel_cancel(t), MCPS_OK, NULL);
    CHECK(mcps_cancel_is_cancelled(t));
    mcps_result_free(kept);
    mcps_error_free(kept_error);
    mcps_cancel_free(t);
    mcps_queue_free(q);
    mcps_event_queue_free(eq);
    printf("after the store was freed: %d events drained, then CLOSED\n", events);
}

/* ------------------------------------------------------------------ big valid arguments */

/* One call with MCPS_BIG_JSON_MB MB of valid arguments: the answer (as big)
 * exceeds the store's max_response_bytes (1 MiB here). */
static void test_big_valid_call(ctx *c) {
    mcps_result *r = NULL;
    mcps_error *err = NULL;
    mcps_status st = mcps_store_call_tool(c->s, "echo", g_big_object, &r, &err);
    CHECK_STATUS(st, MCPS_ERR_RESPONSE_TOO_LARGE, err);
    CHECK(r == NULL);
    mcps_error_free(err);
    mcps_result_free(r);
    /* The service goes on. */
    CHECK_STATUS(mcps_store_call_tool(c->s, "echo", ARGS, &r, NULL), MCPS_OK, NULL);
    mcps_result_free(r);
}

/* ------------------------------------------------------------------ main */

int main(void) {
    make_inputs();
    check_coverage();

    ctx c;
    memset(&c, 0, sizeof c);
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_new("{\"performance\": {\"max_response_bytes\": 1048576, \"call_timeout\": 60}}",
                                &c.s, &err),
                 MCPS_OK, err);
    if (c.s == NULL) {
        fatal("mcps_store_new: %s", mcps_error_message(err));
    }
    CHECK_STATUS(mcps_store_set_sampling_handler(c.s, NULL, on_sampling, NULL, false, &err), MCPS_OK, err);
    char *service = stdio_service("");
    CHECK_STATUS(mcps_store_add_service(c.s, "demo", service, &err), MCPS_OK, err);
    free(service);
    CHECK_STATUS(mcps_store_new(NULL, &c.aux, NULL), MCPS_OK, NULL);
    CHECK_STATUS(mcps_queue_new(c.s, &c.q, NULL), MCPS_OK, NULL);
    CHECK_STATUS(mcps_store_event_queue_new(c.s, &c.eq, NULL), MCPS_OK, NULL);
    CHECK_STATUS(mcps_cancel_new(&c.cancel, NULL), MCPS_OK, NULL);
    CHECK_STATUS(mcps_store_submit(c.s, "echo", ARGS, NULL, NULL, &c.call, NULL), MCPS_OK, NULL);
    CHECK_STATUS(mcps_call_wait(c.call, 30000, &c.result, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_call_tool(c.s, "nope", NULL, &c.result, &c.error), MCPS_ERR_TOOL_NOT_FOUND, c.error);

    for (size_t k = 0; k < NENTRIES; k++) {
        run_entry(&c, &TABLE[k]);
    }
    printf("table: %zu functions, %d cases\n", NENTRIES, g_cases);

    test_double_free(&c);
    test_big_valid_call(&c);

    /* The ask_model calls behind the replies all finished (answered, refused or errored). */
    for (int i = 0; i < c.nasks; i++) {
        mcps_result *r = NULL;
        mcps_error *e = NULL;
        mcps_status st = mcps_call_wait(c.asks[i], 30000, &r, &e);
        CHECK(st != MCPS_ERR_NOT_READY);
        mcps_result_free(r);
        mcps_error_free(e);
        mcps_call_free(c.asks[i]);
    }
    /* Drain the queue of the table's submissions. */
    uint64_t tag;
    mcps_status call_status;
    mcps_result *r = NULL;
    mcps_error *e = NULL;
    while (mcps_queue_pending(c.q) > 0 &&
           mcps_queue_next(c.q, 30000, &tag, &call_status, &r, &e, NULL) == MCPS_OK) {
        mcps_result_free(r);
        mcps_error_free(e);
        r = NULL;
        e = NULL;
    }
    mcps_result_free(c.result);
    mcps_error_free(c.error);
    mcps_call_free(c.call);
    mcps_cancel_free(c.cancel);
    mcps_queue_free(c.q);
    mcps_event_queue_free(c.eq);
    mcps_store_free(c.aux);
    mcps_store_free(c.s);

    test_after_store_free();

    free(g_deep);
    free(g_big_array);
    free(g_big_object);
    return finish("test_bad_input");
}
