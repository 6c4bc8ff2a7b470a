// The flagship example: a hello-world service.
//
// Run it:    scripts/demo            (optimised build, then serves on http://127.0.0.1:8000)
// or build:  meson setup build && ninja -C build examples/hello/hello && ./build/examples/hello/hello
//
//   hello [--port N]     serve over HTTP on 127.0.0.1 (default 8000) until Ctrl-C
//   hello --in-memory    drive the same app through the in-memory transport and print the
//                        exchanges (no sockets: how tests see it)
#include <cstdlib>
#include <iostream>
#include <string_view>

#include <tessera/application.hpp>
#include <tessera/request.hpp>
#include <tessera/response.hpp>
#include <tessera/route.hpp>
#include <tessera/server.hpp>
#include <tessera/testing/test_client.hpp>

using namespace tessera;

// Request handlers: each returns the response to send. An application routes requests to them
// and answers what matches nothing with 404 (a wrong method with 405). (Responses are built in
// a statement of their own: g++ 12 miscompiles a braced JSON literal inside a co_await
// expression.)
task<plain_text_response> home(request&) { co_return plain_text_response("Hello, world!"); }

task<json_response> hello_json(request&) {
    json_response answer({{"message", "Hello, world!"}});
    co_return answer;
}

task<json_response> greet(request& req) {
    const std::string name(req.query_params().get_or("name", "stranger"));
    json_response answer({{"greeting", "Hello, " + name + "!"}});
    co_return answer;
}

task<json_response> echo(request& req) {
    json body = co_await req.json();
    json_response answer({{"you_sent", std::move(body)}});
    co_return answer;
}

const application hello_app({
    .routes = {route("/", home), route("/json", hello_json), route("/greet", greet),
               route("/echo", echo, {.methods = {"POST"}})},
});

namespace {
void show(const char* what, const testing::test_response& response) {
    std::cout << what << "\n  " << response.status << ' ' << response.reason_phrase() << '\n';
    for (const auto& field : response.headers) {
        std::cout << "  " << field.name << ": " << field.value << '\n';
    }
    std::cout << "  \n  " << response.text() << "\n\n";
}
}  // namespace

int main(int argc, char** argv) {
    server_options options;
    options.sink = stderr_log_sink();  // access log and server messages on stderr
    bool in_memory = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--in-memory") {
            in_memory = true;
        } else if (arg == "--port" && i + 1 < argc) {
            options.port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
        } else {
            std::cerr << "usage: hello [--port N] [--in-memory]\n";
            return 2;
        }
    }
    if (!in_memory) {
        serve(hello_app, options, [](const server& s) {
            std::cout << "listening on http://127.0.0.1:" << s.port()
                      << "  (try /, /json, /greet?name=you; Ctrl-C stops)" << std::endl;
        });
        return 0;
    }
    testing::test_client client(hello_app);
    show("GET /", client.get("/"));
    show("GET /json", client.get("/json"));
    show("GET /greet?name=tessera", client.get("/greet", {.params = {{"name", "tessera"}}}));
    show("POST /echo", client.post("/echo", {.json = json{{"numbers", json::array({1, 2, 3})}}}));
    show("GET /missing", client.get("/missing"));
}
