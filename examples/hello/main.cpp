// The flagship example: a hello-world service.
//
// Run it:    scripts/demo            (builds an optimised build, then runs this program)
// or build:  meson setup build && ninja -C build examples/hello/hello && ./build/examples/hello/hello
//
// Until the server lands (issue: "Server: the libuv HTTP/1.1 server"), the program serves its
// app through the in-memory transport — the same request/response rules the server applies —
// and prints each exchange. The app itself will not change when it is served over TCP.
#include <iostream>

#include <tessera/request.hpp>
#include <tessera/response.hpp>
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

int main() {
    testing::test_client client(hello_app);
    show("GET /", client.get("/"));
    show("GET /json", client.get("/json"));
    show("GET /greet?name=tessera", client.get("/greet", {.params = {{"name", "tessera"}}}));
    show("POST /echo", client.post("/echo", {.json = json{{"numbers", json::array({1, 2, 3})}}}));
    show("GET /missing", client.get("/missing"));
}
