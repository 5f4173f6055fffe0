/* The complete example of docs/c-api.md: start a store with one MCP server,
 * list its tools, call one, handle errors, run a background call.
 *
 *   cc -std=c99 example.c $(pkg-config --cflags --libs mcpstore) \
 *      -Wl,-rpath,$(pkg-config --variable=libdir mcpstore) -o example
 *   ./example /path/to/mcpstore-demo-server
 */
#include <stdio.h>
#include <stdlib.h>

#include "mcpstore.h"

/* Runs on a library worker thread when the background call finishes. */
static void on_done(void *userdata, mcps_status status, const mcps_result *result,
                    const mcps_error *error) {
    const char *label = userdata;
    if (status == MCPS_OK) {
        printf("%s: %s\n", label, mcps_result_text(result)); /* lent: do not free */
    } else {
        printf("%s failed (%d): %s\n", label, (int)status, mcps_error_message(error));
    }
}

int main(int argc, char **argv) {
    const char *server = argc > 1 ? argv[1] : "mcpstore-demo-server";
    char config[1024];
    snprintf(config, sizeof config, "{\"mcpServers\": {\"demo\": {\"command\": \"%s\"}}}", server);

    printf("mcpstore %s\n", mcps_version());
    mcps_store *store = NULL;
    mcps_error *err = NULL;
    if (mcps_store_new(config, &store, &err) != MCPS_OK) {
        fprintf(stderr, "cannot create the store: %s\n", mcps_error_message(err));
        mcps_error_free(err);
        return 1;
    }

    char *tools = NULL;
    if (mcps_store_list_tools(store, NULL, &tools, &err) == MCPS_OK) {
        printf("tools: %.60s...\n", tools);
        mcps_string_free(tools);
    }

    mcps_result *result = NULL;
    mcps_status status =
        mcps_store_call_tool(store, "echo", "{\"message\": \"hello from C\"}", &result, &err);
    if (status != MCPS_OK) {
        fprintf(stderr, "echo failed (%d): %s\n", (int)status, mcps_error_message(err));
        mcps_error_free(err);
        mcps_store_free(store);
        return 1;
    }
    printf("text: %s\njson: %s\n", mcps_result_text(result), mcps_result_json(result));
    mcps_result_free(result); /* back to the object pool */

    /* A JSON-RPC error from the server: status, message and JSON-RPC code. */
    status = mcps_store_call_tool(store, "echo", "{}", &result, &err);
    printf("echo without a message: status %d, rpc code %lld: %s\n", (int)status,
           (long long)mcps_error_rpc_code(err), mcps_error_message(err));
    mcps_error_free(err);
    err = NULL;

    /* A background call with a callback, then its result again through the handle. */
    mcps_call *call = NULL;
    if (mcps_store_submit(store, "add", "{\"a\": 2, \"b\": 3}", on_done, "add", &call, &err) ==
        MCPS_OK) {
        if (mcps_call_wait(call, 5000, &result, &err) == MCPS_OK) {
            printf("add (waited): %s\n", mcps_result_json(result));
            mcps_result_free(result);
        } else {
            mcps_error_free(err);
        }
        mcps_call_free(call);
    } else {
        mcps_error_free(err);
    }

    mcps_store_free(store);
    return 0;
}
