/* The MCP 2025-11-25 client side through the C API, against
 * @modelcontextprotocol/server-everything over stdio: resources (text and
 * blob, templates, subscriptions), prompts, completions, log levels, events
 * (queue and callback), and C handlers answering the server's sampling,
 * elicitation and roots requests (now, later from another thread, wrongly,
 * never), replaced while they run; and NULL and bad input for every new
 * function. The paths come from MCPSTORE_NODE and MCPSTORE_EVERYTHING_JS
 * (target/test-deps/env.sh); a server that cannot start fails the test. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The store's handler_timeout (seconds): a handler that never answers is answered for after it. */
#define HANDLER_TIMEOUT_S 4
#define EVENT_WAIT_MS 30000

static const char *dependency(const char *var) {
    const char *path = getenv(var);
    if (path == NULL || path[0] == '\0') {
        fatal("%s is not set: run `bash scripts/install-test-deps.sh` and `source target/test-deps/env.sh`", var);
    }
    if (access(path, R_OK) != 0) {
        fatal("%s=%s cannot be read", var, path);
    }
    return path;
}

/* ------------------------------------------------------------------ sampling handler */

typedef enum sampling_mode {
    SAMPLE_NOW,     /* answers during the call */
    SAMPLE_LATER,   /* answers from another thread after the handler returned */
    SAMPLE_INVALID, /* answers with JSON that is no CreateMessageResult */
    SAMPLE_NULL,    /* answers with NULL */
    SAMPLE_REFUSE,  /* answers with an error */
    SAMPLE_FREE,    /* frees the reply unanswered */
    SAMPLE_SLOW,    /* answers after a while, during the call (for the replace test) */
    SAMPLE_KEEP,    /* keeps the reply and never answers (the watchdog does) */
} sampling_mode;

typedef struct sampler {
    const char *model;
    atomic_int mode;
    atomic_int calls;
    atomic_int running;
    atomic_int finished;
    atomic_int answer_status; /* of the last mcps_reply_* call */
    pthread_mutex_t lock;
    char service[64];
    char request[4096];
    mcps_reply *kept;
    pthread_t later;
    int later_started;
} sampler;

static void sampler_init(sampler *sp, const char *model) {
    memset(sp, 0, sizeof *sp);
    sp->model = model;
    pthread_mutex_init(&sp->lock, NULL);
}

static void answer_text(sampler *sp, mcps_reply *reply) {
    char json[512];
    snprintf(json, sizeof json,
             "{\"role\": \"assistant\", \"content\": {\"type\": \"text\", \"text\": \"%s says 4\"}, "
             "\"model\": \"%s\", \"stopReason\": \"endTurn\"}",
             sp->model, sp->model);
    mcps_error *err = NULL;
    mcps_status st = mcps_reply_result(reply, json, &err);
    atomic_store(&sp->answer_status, (int)st);
    if (st != MCPS_OK) {
        fprintf(stderr, "mcps_reply_result: %d %s\n", (int)st, mcps_error_message(err));
    }
    mcps_error_free(err);
}

typedef struct later_answer {
    sampler *sp;
    mcps_reply *reply;
} later_answer;

static void *answer_later(void *arg) {
    later_answer *la = arg;
    sleep_ms(200);
    answer_text(la->sp, la->reply);
    free(la);
    return NULL;
}

/* Runs on the store's dispatch thread. */
static void on_sampling(void *userdata, const char *service, const char *request_json, mcps_reply *reply) {
    sampler *sp = userdata;
    atomic_fetch_add(&sp->calls, 1);
    pthread_mutex_lock(&sp->lock);
    snprintf(sp->service, sizeof sp->service, "%s", service);
    snprintf(sp->request, sizeof sp->request, "%s", request_json);
    pthread_mutex_unlock(&sp->lock);
    mcps_error *err = NULL;
    switch ((sampling_mode)atomic_load(&sp->mode)) {
    case SAMPLE_NOW:
        answer_text(sp, reply);
        break;
    case SAMPLE_LATER: {
        later_answer *la = malloc(sizeof *la);
        la->sp = sp;
        la->reply = reply;
        sp->later_started = pthread_create(&sp->later, NULL, answer_later, la) == 0;
        break;
    }
    case SAMPLE_INVALID:
        atomic_store(&sp->answer_status, (int)mcps_reply_result(reply, "{\"role\": 5}", &err));
        break;
    case SAMPLE_NULL:
        atomic_store(&sp->answer_status, (int)mcps_reply_result(reply, NULL, &err));
        break;
    case SAMPLE_REFUSE:
        atomic_store(&sp->answer_status, (int)mcps_reply_error(reply, -1, "the user said no", &err));
        break;
    case SAMPLE_FREE:
        mcps_reply_free(reply);
        break;
    case SAMPLE_SLOW:
        atomic_store(&sp->running, 1);
        sleep_ms(700);
        answer_text(sp, reply);
        atomic_store(&sp->finished, 1);
        break;
    case SAMPLE_KEEP:
        pthread_mutex_lock(&sp->lock);
        sp->kept = reply;
        pthread_mutex_unlock(&sp->lock);
        break;
    }
    mcps_error_free(err);
}

/* ------------------------------------------------------------------ elicitation and roots handlers */

typedef struct elicitor {
    atomic_int calls;
    atomic_int answer_status;
    const char *answer; /* the ElicitResult to send */
    pthread_mutex_t lock;
    char request[8192];
} elicitor;

static void on_elicitation(void *userdata, const char *service, const char *request_json, mcps_reply *reply) {
    elicitor *el = userdata;
    (void)service;
    atomic_fetch_add(&el->calls, 1);
    pthread_mutex_lock(&el->lock);
    snprintf(el->request, sizeof el->request, "%s", request_json);
    pthread_mutex_unlock(&el->lock);
    mcps_error *err = NULL;
    atomic_store(&el->answer_status, (int)mcps_reply_result(reply, el->answer, &err));
    mcps_error_free(err);
}

typedef struct rooter {
    atomic_int calls;
    const char *answer;
} rooter;

static void on_roots(void *userdata, const char *service, const char *request_json, mcps_reply *reply) {
    rooter *r = userdata;
    (void)service;
    (void)request_json;
    atomic_fetch_add(&r->calls, 1);
    mcps_reply_result(reply, r->answer, NULL);
}

/* ------------------------------------------------------------------ helpers */

/* Calls a tool; returns its text (or the error's message) as malloc'ed text
 * and its status and isError through the pointers. */
static char *call_text(mcps_store *s, const char *tool, const char *args, mcps_status *status, int *is_error) {
    mcps_result *r = NULL;
    mcps_error *err = NULL;
    mcps_status st = mcps_store_call_tool(s, tool, args, &r, &err);
    char *text = strdup(st == MCPS_OK ? mcps_result_text(r) : mcps_error_message(err));
    if (status != NULL) {
        *status = st;
    }
    if (is_error != NULL) {
        *is_error = st == MCPS_OK && mcps_result_is_error(r);
    }
    mcps_result_free(r);
    mcps_error_free(err);
    return text;
}

/* Takes events until one contains `needle`; returns it (free with mcps_string_free) or NULL. */
static char *wait_event(mcps_event_queue *q, const char *needle, long timeout_ms) {
    double deadline = now_ms() + (double)timeout_ms;
    while (now_ms() < deadline) {
        char *event = NULL;
        mcps_status st = mcps_event_queue_next(q, 500, &event, NULL);
        if (st == MCPS_OK) {
            if (strstr(event, needle) != NULL) {
                return event;
            }
            mcps_string_free(event);
        } else if (st != MCPS_ERR_NOT_READY) {
            fprintf(stderr, "mcps_event_queue_next: status %d\n", (int)st);
            return NULL;
        }
    }
    fprintf(stderr, "no event with %s within %ld ms\n", needle, timeout_ms);
    return NULL;
}

static sampler g_sampler;
static elicitor g_elicitor;

/* A store with handlers for sampling and elicitation and roots, registered
 * before the service is added (server-everything offers the tools that
 * send these requests only to clients that declared the capabilities). */
static mcps_store *open_everything(void) {
    const char *node = dependency("MCPSTORE_NODE");
    const char *js = dependency("MCPSTORE_EVERYTHING_JS");
    char perf[256];
    snprintf(perf, sizeof perf,
             "{\"mcpServers\": {}, \"performance\": {\"min_connections\": 1, \"max_connections\": 1, "
             "\"handler_timeout\": %d}}",
             HANDLER_TIMEOUT_S);
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    if (mcps_store_new(perf, &s, &err) != MCPS_OK) {
        fatal("mcps_store_new: %s", mcps_error_message(err));
    }
    CHECK_STATUS(mcps_store_set_sampling_handler(s, NULL, on_sampling, &g_sampler, true, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_set_elicitation_handler(s, NULL, on_elicitation, &g_elicitor, false, &err), MCPS_OK,
                 err);
    CHECK_STATUS(mcps_store_set_roots(s, NULL, "[{\"uri\": \"file:///srv/project\", \"name\": \"project\"}]", &err),
                 MCPS_OK, err);
    char service[2048];
    snprintf(service, sizeof service, "{\"command\": \"%s\", \"args\": [\"%s\", \"stdio\"]}", node, js);
    if (mcps_store_add_service(s, "everything", service, &err) != MCPS_OK) {
        fatal("add_service(%s): %s", service, mcps_error_message(err));
    }
    char *tools = NULL;
    if (mcps_store_list_tools(s, "everything", &tools, &err) != MCPS_OK) {
        fatal("server-everything did not start: %s", mcps_error_message(err));
    }
    if (strstr(tools, "trigger-sampling-request") == NULL || strstr(tools, "get-roots-list") == NULL) {
        fatal("server-everything does not offer the client-feature tools: %.300s", tools);
    }
    mcps_string_free(tools);
    return s;
}

/* ------------------------------------------------------------------ resources and prompts */

static void test_resources(mcps_store *s) {
    mcps_error *err = NULL;
    char *json = NULL;
    CHECK_STATUS(mcps_store_list_resources(s, "everything", &json, &err), MCPS_OK, err);
    CHECK_CONTAINS(json, "\"service\":\"everything\"");
    CHECK_CONTAINS(json, "\"uri\":");
    mcps_string_free(json);
    json = NULL;
    CHECK_STATUS(mcps_store_list_resource_templates(s, NULL, &json, &err), MCPS_OK, err);
    CHECK_CONTAINS(json, "dynamic/text");
    CHECK_CONTAINS(json, "dynamic/blob");
    CHECK_CONTAINS(json, "\"uriTemplate\":");
    mcps_string_free(json);
    json = NULL;

    char *service = NULL;
    CHECK_STATUS(mcps_store_resolve_resource(s, "demo://resource/dynamic/text/7", &service, &err), MCPS_OK, err);
    CHECK(service != NULL && strcmp(service, "everything") == 0);
    mcps_string_free(service);

    CHECK_STATUS(mcps_store_read_resource(s, "demo://resource/dynamic/text/7", &json, &err), MCPS_OK, err);
    CHECK_CONTAINS(json, "\"contents\":[");
    CHECK_CONTAINS(json, "\"text\":");
    mcps_string_free(json);
    json = NULL;
    CHECK_STATUS(mcps_store_read_resource(s, "demo://resource/dynamic/blob/7", &json, &err), MCPS_OK, err);
    CHECK_CONTAINS(json, "\"blob\":");
    mcps_string_free(json);
    json = NULL;
    CHECK_STATUS(mcps_store_read_resource_with(s, "everything", "demo://resource/dynamic/text/3",
                                               "{\"timeout_ms\": 20000}", NULL, &json, &err),
                 MCPS_OK, err);
    CHECK_CONTAINS(json, "demo://resource/dynamic/text/3");
    mcps_string_free(json);
    json = NULL;

    /* A cancelled token stops a read before it starts. */
    mcps_cancel *token = NULL;
    CHECK_STATUS(mcps_cancel_new(&token, &err), MCPS_OK, err);
    mcps_cancel_cancel(token);
    CHECK_STATUS(mcps_store_read_resource_with(s, NULL, "demo://resource/dynamic/text/3", NULL, token, &json, &err),
                 MCPS_ERR_CANCELLED, err);
    clear_error(&err);
    mcps_cancel_free(token);

    CHECK_STATUS(mcps_store_read_resource(s, "nothing://here", &json, &err), MCPS_ERR_RESOURCE_NOT_FOUND, err);
    CHECK_CONTAINS(mcps_error_message(err), "nothing://here");
    clear_error(&err);
    CHECK_STATUS(mcps_store_resolve_resource(s, "nothing://here", &service, &err), MCPS_ERR_RESOURCE_NOT_FOUND,
                 err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_list_resources(s, "no-such-service", &json, &err), MCPS_ERR_SERVICE_NOT_FOUND, err);
    clear_error(&err);
    CHECK(json == NULL);

    /* The service's summary counts what it lists. */
    CHECK_STATUS(mcps_store_list_services(s, &json, &err), MCPS_OK, err);
    CHECK(json_number(json, "resource_count") > 0);
    CHECK(json_number(json, "template_count") >= 2);
    CHECK(json_number(json, "prompt_count") >= 2);
    CHECK_CONTAINS(json, "\"listening\":[]");
    mcps_string_free(json);
}

static void test_prompts(mcps_store *s) {
    mcps_error *err = NULL;
    char *json = NULL;
    CHECK_STATUS(mcps_store_list_prompts(s, NULL, &json, &err), MCPS_OK, err);
    CHECK_CONTAINS(json, "\"name\":\"args-prompt\"");
    CHECK_CONTAINS(json, "\"name\":\"city\"");
    CHECK_CONTAINS(json, "\"service\":\"everything\"");
    mcps_string_free(json);
    json = NULL;

    CHECK_STATUS(mcps_store_get_prompt(s, "args-prompt", "{\"city\": \"Paris\"}", &json, &err), MCPS_OK, err);
    CHECK_CONTAINS(json, "\"messages\":[");
    CHECK_CONTAINS(json, "Paris");
    mcps_string_free(json);
    json = NULL;
    CHECK_STATUS(mcps_store_get_prompt_with(s, "everything.simple-prompt", NULL, "{\"timeout_ms\": 20000}", NULL,
                                            &json, &err),
                 MCPS_OK, err);
    CHECK_CONTAINS(json, "\"role\":");
    mcps_string_free(json);
    json = NULL;
    CHECK_STATUS(mcps_store_get_prompt(s, "no-such-prompt", NULL, &json, &err), MCPS_ERR_PROMPT_NOT_FOUND, err);
    clear_error(&err);
    CHECK(json == NULL);

    const char *ref = "{\"type\": \"ref/prompt\", \"name\": \"completable-prompt\"}";
    CHECK_STATUS(mcps_store_complete(s, NULL, ref, "department", "", NULL, &json, &err), MCPS_OK, err);
    CHECK_CONTAINS(json, "\"values\":[\"");
    CHECK_CONTAINS(json, "Engineering");
    mcps_string_free(json);
    json = NULL;
    CHECK_STATUS(mcps_store_complete(s, "everything", ref, "department", "Eng", NULL, &json, &err), MCPS_OK, err);
    CHECK_CONTAINS(json, "Engineering");
    CHECK(json != NULL && strstr(json, "Sales") == NULL);
    mcps_string_free(json);
    json = NULL;
    /* The context narrows the second argument by the first. */
    CHECK_STATUS(mcps_store_complete(s, NULL, ref, "name", "", "{\"department\": \"Engineering\"}", &json, &err),
                 MCPS_OK, err);
    CHECK_CONTAINS(json, "\"values\":[\"");
    mcps_string_free(json);
    json = NULL;
    CHECK_STATUS(mcps_store_complete(s, NULL, "{\"type\": \"ref/prompt\", \"name\": \"nope\"}", "x", "", NULL,
                                     &json, &err),
                 MCPS_ERR_PROMPT_NOT_FOUND, err);
    clear_error(&err);
}

/* ------------------------------------------------------------------ handlers */


/* The handler stores its mcps_reply_* status after the call: the server's
 * answer (and so the tool call) can finish first. Waits for it (bounded). */
static int sampler_answered(void *arg) {
    (void)arg;
    return atomic_load(&g_sampler.answer_status) != -1;
}

static int sampler_status(void) {
    wait_until(sampler_answered, NULL, 10000);
    return atomic_load(&g_sampler.answer_status);
}

static void test_sampling(mcps_store *s) {
    const char *args = "{\"prompt\": \"what is 2+2?\", \"maxTokens\": 20}";
    mcps_status st;
    int is_error;

    atomic_store(&g_sampler.mode, SAMPLE_NOW);
    atomic_store(&g_sampler.answer_status, -1);
    char *text = call_text(s, "trigger-sampling-request", args, &st, &is_error);
    CHECK(st == MCPS_OK && !is_error);
    CHECK_CONTAINS(text, "model-a says 4");
    free(text);
    CHECK(sampler_status() == MCPS_OK);
    pthread_mutex_lock(&g_sampler.lock);
    CHECK(strcmp(g_sampler.service, "everything") == 0);
    CHECK_CONTAINS(g_sampler.request, "what is 2+2?");
    CHECK_CONTAINS(g_sampler.request, "\"maxTokens\":20");
    CHECK_CONTAINS(g_sampler.request, "\"messages\":[");
    pthread_mutex_unlock(&g_sampler.lock);

    /* Answered later, from another thread, after the handler returned. */
    atomic_store(&g_sampler.mode, SAMPLE_LATER);
    atomic_store(&g_sampler.answer_status, -1);
    text = call_text(s, "trigger-sampling-request", args, &st, &is_error);
    CHECK(st == MCPS_OK && !is_error);
    CHECK_CONTAINS(text, "model-a says 4");
    free(text);
    CHECK(g_sampler.later_started);
    if (g_sampler.later_started) {
        pthread_join(g_sampler.later, NULL);
        g_sampler.later_started = 0;
    }
    CHECK(atomic_load(&g_sampler.answer_status) == MCPS_OK);

    /* An invalid answer: the server gets an error, the handler a status, and the session lives. */
    atomic_store(&g_sampler.mode, SAMPLE_INVALID);
    atomic_store(&g_sampler.answer_status, -1);
    text = call_text(s, "trigger-sampling-request", args, &st, &is_error);
    CHECK(st == MCPS_ERR_RPC || (st == MCPS_OK && is_error));
    CHECK(text != NULL && strstr(text, "says 4") == NULL);
    free(text);
    CHECK(sampler_status() == MCPS_ERR_INVALID_ARGUMENT);
    atomic_store(&g_sampler.mode, SAMPLE_NULL);
    atomic_store(&g_sampler.answer_status, -1);
    text = call_text(s, "trigger-sampling-request", args, &st, &is_error);
    CHECK(st == MCPS_ERR_RPC || (st == MCPS_OK && is_error));
    free(text);
    CHECK(sampler_status() == MCPS_ERR_INVALID_ARGUMENT);
    text = call_text(s, "echo", "{\"message\": \"still here\"}", &st, &is_error);
    CHECK(st == MCPS_OK && !is_error);
    CHECK_CONTAINS(text, "still here");
    free(text);

    /* An error answer reaches the server with its message. */
    atomic_store(&g_sampler.mode, SAMPLE_REFUSE);
    atomic_store(&g_sampler.answer_status, -1);
    text = call_text(s, "trigger-sampling-request", args, &st, &is_error);
    CHECK(st == MCPS_ERR_RPC || (st == MCPS_OK && is_error));
    CHECK_CONTAINS(text, "the user said no");
    free(text);
    CHECK(sampler_status() == MCPS_OK);

    /* A reply freed unanswered: the server gets an error at once. */
    atomic_store(&g_sampler.mode, SAMPLE_FREE);
    double start = now_ms();
    text = call_text(s, "trigger-sampling-request", args, &st, &is_error);
    CHECK(st == MCPS_ERR_RPC || (st == MCPS_OK && is_error));
    CHECK(now_ms() - start < HANDLER_TIMEOUT_S * 1000.0);
    free(text);

    /* Never answered: after handler_timeout the server gets an error; the
     * reply is no longer pending, and answering it now is a timeout (and frees it). */
    atomic_store(&g_sampler.mode, SAMPLE_KEEP);
    text = call_text(s, "trigger-sampling-request", args, &st, &is_error);
    CHECK(st == MCPS_ERR_RPC || (st == MCPS_OK && is_error));
    free(text);
    pthread_mutex_lock(&g_sampler.lock);
    mcps_reply *kept = g_sampler.kept;
    g_sampler.kept = NULL;
    pthread_mutex_unlock(&g_sampler.lock);
    CHECK(kept != NULL);
    CHECK(!mcps_reply_is_pending(kept));
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_reply_result(kept, "{\"role\": \"assistant\", \"content\": {}, \"model\": \"m\"}", &err),
                 MCPS_ERR_TIMEOUT, err);
    clear_error(&err);
    text = call_text(s, "echo", "{\"message\": \"alive\"}", &st, &is_error);
    CHECK(st == MCPS_OK && !is_error);
    free(text);
    atomic_store(&g_sampler.mode, SAMPLE_NOW);
}

typedef struct sampling_call {
    mcps_store *store;
    mcps_status status;
    int is_error;
    char *text;
} sampling_call;

static void *run_sampling_call(void *arg) {
    sampling_call *c = arg;
    c->text = call_text(c->store, "trigger-sampling-request", "{\"prompt\": \"slow\"}", &c->status, &c->is_error);
    return NULL;
}

static int is_running(void *arg) {
    return atomic_load(&((sampler *)arg)->running);
}

/* Replacing a handler while it runs: the setter returns once it returned. */
static void test_replace_while_running(mcps_store *s) {
    static sampler other;
    sampler_init(&other, "model-b");
    atomic_store(&g_sampler.mode, SAMPLE_SLOW);
    atomic_store(&g_sampler.running, 0);
    atomic_store(&g_sampler.finished, 0);
    sampling_call c = {s, MCPS_OK, 0, NULL};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, run_sampling_call, &c) == 0);
    CHECK(wait_until(is_running, &g_sampler, EVENT_WAIT_MS));
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_set_sampling_handler(s, NULL, on_sampling, &other, true, &err), MCPS_OK, err);
    CHECK(atomic_load(&g_sampler.finished) == 1); /* the old handler had returned */
    pthread_join(t, NULL);
    CHECK(c.status == MCPS_OK && !c.is_error);
    CHECK_CONTAINS(c.text, "model-a says 4");
    free(c.text);

    /* The new handler answers from now on; the old one never runs again. */
    int old_calls = atomic_load(&g_sampler.calls);
    mcps_status st;
    int is_error;
    char *text = call_text(s, "trigger-sampling-request", "{\"prompt\": \"x\"}", &st, &is_error);
    CHECK(st == MCPS_OK && !is_error);
    CHECK_CONTAINS(text, "model-b says 4");
    free(text);
    CHECK(atomic_load(&g_sampler.calls) == old_calls);
    CHECK(atomic_load(&other.calls) == 1);

    /* A service's own handler wins over the store's; removing it falls back. */
    static sampler own;
    sampler_init(&own, "model-own");
    CHECK_STATUS(mcps_store_set_sampling_handler(s, "everything", on_sampling, &own, false, &err), MCPS_OK, err);
    text = call_text(s, "trigger-sampling-request", "{\"prompt\": \"x\"}", &st, &is_error);
    CHECK_CONTAINS(text, "model-own says 4");
    free(text);
    CHECK_STATUS(mcps_store_set_sampling_handler(s, "everything", NULL, NULL, false, &err), MCPS_OK, err);
    text = call_text(s, "trigger-sampling-request", "{\"prompt\": \"x\"}", &st, &is_error);
    CHECK_CONTAINS(text, "model-b says 4");
    free(text);
    CHECK_STATUS(mcps_store_set_sampling_handler(s, "no-such-service", on_sampling, &own, true, &err),
                 MCPS_ERR_SERVICE_NOT_FOUND, err);
    clear_error(&err);

    atomic_store(&g_sampler.mode, SAMPLE_NOW);
    CHECK_STATUS(mcps_store_set_sampling_handler(s, NULL, on_sampling, &g_sampler, true, &err), MCPS_OK, err);
}

/* Like sampler_status: the elicitor's mcps_reply_* status, once it stored it. */
static int elicitor_answered(void *arg) {
    (void)arg;
    return atomic_load(&g_elicitor.answer_status) != -1;
}

static int elicitor_status(void) {
    wait_until(elicitor_answered, NULL, 10000);
    return atomic_load(&g_elicitor.answer_status);
}

static void test_elicitation(mcps_store *s) {
    mcps_status st;
    int is_error;
    atomic_store(&g_elicitor.answer_status, -1);
    g_elicitor.answer = "{\"action\": \"accept\", \"content\": {\"name\": \"Ada Lovelace\"}}";
    char *text = call_text(s, "trigger-elicitation-request", NULL, &st, &is_error);
    CHECK(st == MCPS_OK && !is_error);
    CHECK_CONTAINS(text, "Ada Lovelace");
    CHECK_CONTAINS(text, "It was a dark and stormy night."); /* a default the library filled in */
    free(text);
    CHECK(elicitor_status() == MCPS_OK);
    pthread_mutex_lock(&g_elicitor.lock);
    CHECK_CONTAINS(g_elicitor.request, "\"mode\":\"form\"");
    CHECK_CONTAINS(g_elicitor.request, "\"requestedSchema\":");
    CHECK_CONTAINS(g_elicitor.request, "\"message\":");
    pthread_mutex_unlock(&g_elicitor.lock);

    /* Content that does not fit the schema: the server gets an error, the session lives. */
    g_elicitor.answer = "{\"action\": \"accept\", \"content\": {\"name\": 5}}";
    text = call_text(s, "trigger-elicitation-request", NULL, &st, &is_error);
    CHECK(st == MCPS_ERR_RPC || (st == MCPS_OK && is_error));
    CHECK(text != NULL && strstr(text, "Ada") == NULL);
    free(text);
    g_elicitor.answer = "{\"action\": \"decline\"}";
    text = call_text(s, "trigger-elicitation-request", NULL, &st, &is_error);
    CHECK(st == MCPS_OK && !is_error);
    CHECK_CONTAINS(text, "declined");
    free(text);
    g_elicitor.answer = "[not an answer";
    atomic_store(&g_elicitor.answer_status, -1);
    text = call_text(s, "trigger-elicitation-request", NULL, &st, &is_error);
    CHECK(st == MCPS_ERR_RPC || (st == MCPS_OK && is_error));
    free(text);
    CHECK(elicitor_status() == MCPS_ERR_INVALID_ARGUMENT);

    /* The built-in handler: `name` is required and has no default, so it declines. */
    mcps_error *err = NULL;
    int before = atomic_load(&g_elicitor.calls);
    CHECK_STATUS(mcps_store_use_accept_defaults(s, NULL, &err), MCPS_OK, err);
    text = call_text(s, "trigger-elicitation-request", NULL, &st, &is_error);
    CHECK(st == MCPS_OK && !is_error);
    CHECK_CONTAINS(text, "declined");
    free(text);
    CHECK(atomic_load(&g_elicitor.calls) == before);
    CHECK_STATUS(mcps_store_use_accept_defaults(s, "no-such-service", &err), MCPS_ERR_SERVICE_NOT_FOUND, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_elicitation_handler(s, NULL, on_elicitation, &g_elicitor, false, &err), MCPS_OK,
                 err);
}

static int roots_show(mcps_store *s, const char *needle) {
    double deadline = now_ms() + EVENT_WAIT_MS;
    while (now_ms() < deadline) {
        mcps_status st;
        char *text = call_text(s, "get-roots-list", NULL, &st, NULL);
        int found = st == MCPS_OK && strstr(text, needle) != NULL;
        free(text);
        if (found) {
            return 1;
        }
        sleep_ms(100);
    }
    return 0;
}

static void test_roots(mcps_store *s) {
    mcps_error *err = NULL;
    CHECK(roots_show(s, "file:///srv/project"));
    CHECK_STATUS(mcps_store_set_roots(s, "everything", "[{\"uri\": \"file:///srv/second\"}]", &err), MCPS_OK, err);
    CHECK(roots_show(s, "file:///srv/second"));

    /* A C roots handler; roots_changed makes the server ask again. */
    static rooter r = {0, "{\"roots\": [{\"uri\": \"file:///srv/from-c\", \"name\": \"c\"}]}"};
    CHECK_STATUS(mcps_store_set_roots_handler(s, "everything", on_roots, &r, &err), MCPS_OK, err);
    CHECK(roots_show(s, "file:///srv/from-c"));
    CHECK(atomic_load(&r.calls) >= 1);
    r.answer = "{\"roots\": [{\"uri\": \"file:///srv/changed\"}]}";
    CHECK_STATUS(mcps_store_roots_changed(s, "everything", &err), MCPS_OK, err);
    CHECK(roots_show(s, "file:///srv/changed"));
    CHECK_STATUS(mcps_store_roots_changed(s, NULL, &err), MCPS_OK, err);

    /* Bad roots are refused and change nothing. */
    CHECK_STATUS(mcps_store_set_roots(s, NULL, "[{\"uri\": \"https://not-a-file\"}]", &err),
                 MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_roots(s, NULL, "{\"uri\": \"file:///x\"}", &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_roots(s, NULL, "[{\"name\": 1}]", &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_roots_changed(s, "no-such-service", &err), MCPS_ERR_SERVICE_NOT_FOUND, err);
    clear_error(&err);

    /* Back to the store's list: the service's own roots go. */
    CHECK_STATUS(mcps_store_set_roots_handler(s, "everything", NULL, NULL, &err), MCPS_OK, err);
    CHECK(roots_show(s, "file:///srv/project"));
}

/* ------------------------------------------------------------------ events */

static void test_logging_and_queue(mcps_store *s) {
    mcps_error *err = NULL;
    mcps_event_queue *q = NULL;
    CHECK_STATUS(mcps_store_event_queue_new(s, &q, &err), MCPS_OK, err);
    char *event = NULL;
    CHECK_STATUS(mcps_event_queue_next(q, 0, &event, &err), MCPS_ERR_NOT_READY, err);
    clear_error(&err);
    CHECK(event == NULL);

    CHECK_STATUS(mcps_store_set_log_level(s, "everything", "debug", &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_set_log_level(s, NULL, "debug", &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_set_log_level(s, "everything", "loud", &err), MCPS_ERR_INVALID_ARGUMENT, err);
    CHECK_CONTAINS(mcps_error_message(err), "loud");
    clear_error(&err);
    mcps_status st;
    char *text = call_text(s, "toggle-simulated-logging", NULL, &st, NULL);
    CHECK(st == MCPS_OK);
    free(text);
    event = wait_event(q, "\"type\":\"log\"", EVENT_WAIT_MS);
    CHECK(event != NULL);
    CHECK_CONTAINS(event, "\"service\":\"everything\"");
    CHECK_CONTAINS(event, "\"level\":");
    CHECK_CONTAINS(event, "\"data\":");
    mcps_string_free(event);
    text = call_text(s, "toggle-simulated-logging", NULL, &st, NULL);
    free(text);
    CHECK(mcps_event_queue_dropped(q) == 0);
    mcps_event_queue_free(q);
}

static void test_subscription(mcps_store *s) {
    mcps_error *err = NULL;
    mcps_event_queue *q = NULL;
    CHECK_STATUS(mcps_store_event_queue_new(s, &q, &err), MCPS_OK, err);
    const char *uri = "demo://resource/dynamic/text/1";
    char *service = NULL;
    CHECK_STATUS(mcps_store_subscribe_resource(s, NULL, uri, &service, &err), MCPS_OK, err);
    CHECK(service != NULL && strcmp(service, "everything") == 0);
    mcps_string_free(service);
    char *json = NULL;
    CHECK_STATUS(mcps_store_subscriptions(s, "everything", &json, &err), MCPS_OK, err);
    CHECK(json != NULL && strcmp(json, "[\"demo://resource/dynamic/text/1\"]") == 0);
    mcps_string_free(json);
    json = NULL;

    mcps_status st;
    char *text = call_text(s, "toggle-subscriber-updates", NULL, &st, NULL);
    CHECK(st == MCPS_OK);
    free(text);
    char *event = wait_event(q, "\"type\":\"resource_updated\"", EVENT_WAIT_MS);
    CHECK(event != NULL);
    CHECK_CONTAINS(event, "\"uri\":\"demo://resource/dynamic/text/1\"");
    CHECK_CONTAINS(event, "\"service\":\"everything\"");
    mcps_string_free(event);
    text = call_text(s, "toggle-subscriber-updates", NULL, &st, NULL);
    free(text);

    CHECK_STATUS(mcps_store_unsubscribe_resource(s, "everything", uri, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_subscriptions(s, "everything", &json, &err), MCPS_OK, err);
    CHECK(json != NULL && strcmp(json, "[]") == 0);
    mcps_string_free(json);
    CHECK_STATUS(mcps_store_unsubscribe_resource(s, NULL, uri, &err), MCPS_ERR_INVALID_ARGUMENT, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_subscribe_resource(s, NULL, "nothing://here", NULL, &err), MCPS_ERR_RESOURCE_NOT_FOUND,
                 err);
    clear_error(&err);
    mcps_event_queue_free(q);
}

typedef struct event_sink {
    atomic_int events;
    atomic_int logs;
    atomic_int block;    /* the next invocation blocks for a while */
    atomic_int running;  /* a blocking invocation is running */
    atomic_int returned; /* a blocking invocation returned */
} event_sink;

/* Runs on the store's dispatch thread. */
static void on_event(void *userdata, const char *event_json) {
    event_sink *sink = userdata;
    atomic_fetch_add(&sink->events, 1);
    if (strstr(event_json, "\"type\":\"log\"") != NULL) {
        atomic_fetch_add(&sink->logs, 1);
    }
    if (atomic_exchange(&sink->block, 0)) {
        atomic_store(&sink->running, 1);
        sleep_ms(700);
        atomic_store(&sink->returned, 1);
    }
}

static int has_logs(void *arg) {
    return atomic_load(&((event_sink *)arg)->logs) > 0;
}

static int sink_running(void *arg) {
    return atomic_load(&((event_sink *)arg)->running);
}

static void test_event_callback(mcps_store *s) {
    static event_sink sink;
    CHECK_STATUS(mcps_store_on_event(s, on_event, &sink), MCPS_OK, NULL);
    mcps_status st;
    char *text = call_text(s, "toggle-simulated-logging", NULL, &st, NULL);
    CHECK(st == MCPS_OK);
    free(text);
    CHECK(wait_until(has_logs, &sink, EVENT_WAIT_MS));

    /* Clearing it while it runs: returns once the running invocation returned. */
    atomic_store(&sink.block, 1);
    CHECK(wait_until(sink_running, &sink, EVENT_WAIT_MS)); /* the next log message (every 5 s) */
    CHECK_STATUS(mcps_store_on_event(s, NULL, NULL), MCPS_OK, NULL);
    CHECK(atomic_load(&sink.returned) == 1);
    int seen = atomic_load(&sink.events);
    text = call_text(s, "toggle-simulated-logging", NULL, &st, NULL);
    free(text);
    CHECK_STATUS(mcps_store_set_log_level(s, "everything", "info", NULL), MCPS_OK, NULL);
    sleep_ms(300);
    CHECK(atomic_load(&sink.events) == seen); /* never called again */
    CHECK_STATUS(mcps_store_on_event(NULL, on_event, &sink), MCPS_ERR_INVALID_ARGUMENT, NULL);
}

static void test_schema_mismatch(mcps_store *s) {
    mcps_result *r = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_call_tool(s, "get-structured-content", "{\"location\": \"Chicago\"}", &r, &err),
                 MCPS_OK, err);
    CHECK(r != NULL && !mcps_result_is_error(r));
    CHECK(mcps_result_schema_mismatch(r) == NULL); /* it fits its outputSchema */
    CHECK_CONTAINS(mcps_result_json(r), "\"structuredContent\":");
    mcps_result_free(r);
    CHECK(mcps_result_schema_mismatch(NULL) == NULL);
}

/* ------------------------------------------------------------------ bad input */

static void noop_handler(void *userdata, const char *service, const char *request_json, mcps_reply *reply) {
    (void)userdata;
    (void)service;
    (void)request_json;
    mcps_reply_free(reply);
}

static void test_bad_input(void) {
    const mcps_status INV = MCPS_ERR_INVALID_ARGUMENT;
    mcps_store *s = NULL;
    mcps_error *err = NULL;
    CHECK_STATUS(mcps_store_new("{\"mcpServers\": {}}", &s, &err), MCPS_OK, err);
    char *out = NULL;
    const char bad_utf8[] = {'f', (char)0xff, 0};
    const char *ref = "{\"type\": \"ref/prompt\", \"name\": \"p\"}";

    /* NULL store. */
    CHECK_STATUS(mcps_store_list_resources(NULL, NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_list_resource_templates(NULL, NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_list_prompts(NULL, NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_resolve_resource(NULL, "u://x", &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_read_resource(NULL, "u://x", &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_read_resource_with(NULL, NULL, "u://x", NULL, NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_subscribe_resource(NULL, NULL, "u://x", NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_unsubscribe_resource(NULL, NULL, "u://x", &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_subscriptions(NULL, "svc", &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_get_prompt(NULL, "p", NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_get_prompt_with(NULL, "p", NULL, NULL, NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_complete(NULL, NULL, ref, "a", "", NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_log_level(NULL, NULL, "debug", &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_on_event(NULL, NULL, NULL), INV, NULL);
    mcps_event_queue *q = NULL;
    CHECK_STATUS(mcps_store_event_queue_new(NULL, &q, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_sampling_handler(NULL, NULL, noop_handler, NULL, true, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_elicitation_handler(NULL, NULL, noop_handler, NULL, false, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_roots_handler(NULL, NULL, noop_handler, NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_roots(NULL, NULL, "[]", &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_roots_changed(NULL, NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_use_accept_defaults(NULL, NULL, &err), INV, err);
    clear_error(&err);

    /* NULL required strings and out-parameters. */
    CHECK_STATUS(mcps_store_list_resources(s, NULL, NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_list_resource_templates(s, NULL, NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_list_prompts(s, NULL, NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_resolve_resource(s, NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_resolve_resource(s, "u://x", NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_read_resource(s, NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_read_resource(s, "u://x", NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_read_resource_with(s, NULL, NULL, NULL, NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_subscribe_resource(s, NULL, NULL, NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_unsubscribe_resource(s, NULL, NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_subscriptions(s, NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_get_prompt(s, NULL, NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_get_prompt(s, "p", NULL, NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_complete(s, NULL, NULL, "a", "", NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_complete(s, NULL, ref, NULL, "", NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_complete(s, NULL, ref, "a", NULL, NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_complete(s, NULL, ref, "a", "", NULL, NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_log_level(s, NULL, NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_event_queue_new(s, NULL, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_roots(s, NULL, NULL, &err), INV, err);
    clear_error(&err);

    /* Invalid UTF-8. */
    CHECK_STATUS(mcps_store_list_resources(s, bad_utf8, &out, &err), INV, err);
    CHECK_CONTAINS(mcps_error_message(err), "UTF-8");
    clear_error(&err);
    CHECK_STATUS(mcps_store_read_resource(s, bad_utf8, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_get_prompt(s, bad_utf8, NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_complete(s, NULL, ref, bad_utf8, "", NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_log_level(s, bad_utf8, "debug", &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_sampling_handler(s, bad_utf8, noop_handler, NULL, true, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_subscribe_resource(s, bad_utf8, "u://x", NULL, &err), INV, err);
    clear_error(&err);

    /* Malformed JSON and JSON of the wrong shape. */
    CHECK_STATUS(mcps_store_get_prompt(s, "p", "{oops", &out, &err), INV, err);
    CHECK_CONTAINS(mcps_error_message(err), "JSON");
    clear_error(&err);
    CHECK_STATUS(mcps_store_get_prompt(s, "p", "[1]", &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_get_prompt_with(s, "p", NULL, "{\"timeout_ms\": \"x\"}", NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_read_resource_with(s, NULL, "u://x", "[", NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_complete(s, NULL, "{oops", "a", "", NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_complete(s, NULL, "{\"type\": \"ref/other\"}", "a", "", NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_complete(s, NULL, "{\"type\": \"ref/prompt\"}", "a", "", NULL, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_complete(s, NULL, ref, "a", "", "[1]", &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_complete(s, NULL, ref, "a", "", "{oops", &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_roots(s, NULL, "[oops", &err), INV, err);
    clear_error(&err);
    CHECK(out == NULL); /* outputs are written only on success */

    /* Unknown names without any service. */
    CHECK_STATUS(mcps_store_read_resource(s, "u://x", &out, &err), MCPS_ERR_RESOURCE_NOT_FOUND, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_get_prompt(s, "p", NULL, &out, &err), MCPS_ERR_PROMPT_NOT_FOUND, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_subscriptions(s, "svc", &out, &err), MCPS_ERR_SERVICE_NOT_FOUND, err);
    clear_error(&err);
    CHECK_STATUS(mcps_store_set_roots_handler(s, "svc", noop_handler, NULL, &err), MCPS_ERR_SERVICE_NOT_FOUND, err);
    clear_error(&err);
    CHECK(out == NULL);

    /* The event queue's and reply's functions with NULL. */
    CHECK_STATUS(mcps_store_event_queue_new(s, &q, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_event_queue_next(NULL, 0, &out, &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_event_queue_next(q, 0, NULL, &err), INV, err);
    clear_error(&err);
    double start = now_ms();
    CHECK_STATUS(mcps_event_queue_next(q, 100, &out, &err), MCPS_ERR_NOT_READY, err);
    CHECK(now_ms() - start >= 100);
    clear_error(&err);
    CHECK(mcps_event_queue_dropped(NULL) == 0);
    CHECK(mcps_event_queue_dropped(q) == 0);
    mcps_event_queue_free(NULL);
    CHECK_STATUS(mcps_reply_result(NULL, "{}", &err), INV, err);
    clear_error(&err);
    CHECK_STATUS(mcps_reply_error(NULL, -1, "no", &err), INV, err);
    clear_error(&err);
    CHECK(!mcps_reply_is_pending(NULL));
    mcps_reply_free(NULL);

    /* Handlers set and removed on a store without services; NULL removes. */
    CHECK_STATUS(mcps_store_set_sampling_handler(s, NULL, noop_handler, NULL, false, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_set_sampling_handler(s, NULL, NULL, NULL, false, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_set_elicitation_handler(s, NULL, noop_handler, NULL, true, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_use_accept_defaults(s, NULL, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_set_roots_handler(s, NULL, noop_handler, NULL, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_set_roots(s, NULL, "[]", &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_roots_changed(s, NULL, &err), MCPS_OK, err);
    CHECK_STATUS(mcps_store_on_event(s, NULL, NULL), MCPS_OK, NULL);
    CHECK_STATUS(mcps_store_set_log_level(s, NULL, "warning", &err), MCPS_OK, err);

    /* A queue outlives its store: then it is closed. */
    mcps_store_free(s);
    CHECK_STATUS(mcps_event_queue_next(q, 1000, &out, &err), MCPS_ERR_CLOSED, err);
    clear_error(&err);
    mcps_event_queue_free(q);
}

int main(void) {
    sampler_init(&g_sampler, "model-a");
    pthread_mutex_init(&g_elicitor.lock, NULL);
    test_bad_input();
    mcps_store *s = open_everything();
    test_resources(s);
    test_prompts(s);
    test_sampling(s);
    test_replace_while_running(s);
    test_elicitation(s);
    test_roots(s);
    test_logging_and_queue(s);
    test_subscription(s);
    test_event_callback(s);
    test_schema_mismatch(s);
    mcps_store_free(s);
    return finish("test_features");
}
