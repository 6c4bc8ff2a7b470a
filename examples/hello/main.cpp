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

#include <tessera/request.hpp>
#include <tessera/response.hpp>
#include <tessera/server.hpp>
#include <tessera/testing/test_client.hpp>

using namespace tessera;

// An app is anything callable as task<void>(scope&, receive, send). This one picks a response
// by path; a response is itself an app, so it is sent by calling it with the same arguments.
// (Responses are built in a statement of their own: g++ 12 miscompiles a braced JSON literal
// inside a co_await expression.)
response hello(request& req, json body) {
    const auto& s = req.scope();
    if (s.path == "/") return plain_text_response("Hello, world!");
    if (s.path == "/json") return json_response({{"message", "Hello, world!"}});
    if (s.path == "/greet") {
        const std::string name(req.query_params().get_or("name", "stranger"));
        return json_response({{"greeting", "Hello, " + name + "!"}});
    }
    if (s.path == "/echo" && s.method == "POST") return json_response({{"you_sent", body}});
    return plain_text_response("Not Found", 404);
}

task<void> hello_app(scope& s, receive r, send sd) {
    request req(s, r);
    json body;
    if (s.method == "POST") body = co_await req.json();
    const response answer = hello(req, std::move(body));
    co_await answer(s, r, sd);
}

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
