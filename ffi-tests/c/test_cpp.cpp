// The header compiles and links as C++ (C++17): a few calls against the demo
// server over stdio, with RAII owners around the C handles.
#include "mcpstore.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace {

int failures = 0;
int passed = 0;

void check(bool ok, const char *what, int line) {
    if (ok) {
        ++passed;
    } else {
        ++failures;
        std::fprintf(stderr, "test_cpp.cpp:%d: CHECK FAILED: %s\n", line, what);
    }
}

#define CHECK(cond) check((cond), #cond, __LINE__)

struct StoreFree {
    void operator()(mcps_store *s) const { mcps_store_free(s); }
};
struct ResultFree {
    void operator()(mcps_result *r) const { mcps_result_free(r); }
};
struct ErrorFree {
    void operator()(mcps_error *e) const { mcps_error_free(e); }
};
struct StringFree {
    void operator()(char *s) const { mcps_string_free(s); }
};

using Store = std::unique_ptr<mcps_store, StoreFree>;
using Result = std::unique_ptr<mcps_result, ResultFree>;
using Error = std::unique_ptr<mcps_error, ErrorFree>;
using String = std::unique_ptr<char, StringFree>;

}  // namespace

int main() {
    const char *demo = std::getenv("MCPS_DEMO_SERVER");
    if (demo == nullptr) {
        std::fprintf(stderr, "FATAL: MCPS_DEMO_SERVER is not set\n");
        return 2;
    }
    std::string want = std::to_string(MCPS_VERSION_MAJOR) + "." +
                       std::to_string(MCPS_VERSION_MINOR) + "." +
                       std::to_string(MCPS_VERSION_PATCH);
    CHECK(want == mcps_version());

    std::string config = std::string("{\"mcpServers\": {\"demo\": {\"command\": \"") + demo +
                         "\"}}, \"performance\": {\"min_connections\": 1}}";
    mcps_store *raw = nullptr;
    mcps_error *raw_err = nullptr;
    mcps_status st = mcps_store_new(config.c_str(), &raw, &raw_err);
    Store store(raw);
    Error err(raw_err);
    CHECK(st == MCPS_OK);
    if (st != MCPS_OK) {
        std::fprintf(stderr, "FATAL: %s\n", mcps_error_message(err.get()));
        return 2;
    }

    mcps_result *raw_result = nullptr;
    st = mcps_store_call_tool(store.get(), "echo", "{\"message\": \"from C++\"}", &raw_result,
                              nullptr);
    Result result(raw_result);
    CHECK(st == MCPS_OK);
    CHECK(result && std::strcmp(mcps_result_text(result.get()), "from C++") == 0);
    CHECK(result && !mcps_result_is_error(result.get()));

    char *raw_json = nullptr;
    CHECK(mcps_store_list_tools(store.get(), nullptr, &raw_json, nullptr) == MCPS_OK);
    String tools(raw_json);
    CHECK(tools && std::strstr(tools.get(), "\"echo\"") != nullptr);

    raw_err = nullptr;
    st = mcps_store_call_tool(store.get(), "echo", "{}", &raw_result, &raw_err);
    Error rpc(raw_err);
    CHECK(st == MCPS_ERR_RPC);
    CHECK(mcps_error_code(rpc.get()) == MCPS_ERR_RPC);
    CHECK(mcps_error_rpc_code(rpc.get()) == -32602);

    mcps_callback cb = [](void *userdata, mcps_status status, const mcps_result *r,
                          const mcps_error *) {
        *static_cast<int *>(userdata) = (status == MCPS_OK && r != nullptr) ? 1 : -1;
    };
    int done = 0;
    mcps_call *call = nullptr;
    CHECK(mcps_store_submit(store.get(), "echo", "{\"message\": \"bg\"}", cb, &done, &call,
                            nullptr) == MCPS_OK);
    CHECK(mcps_call_wait(call, 10000, &raw_result, nullptr) == MCPS_OK);
    Result waited(raw_result);
    mcps_call_free(call);
    CHECK(done == 1);

    store.reset();
    std::printf("test_cpp: %d passed, %d failed\n", passed, failures);
    return failures == 0 ? 0 : 1;
}
