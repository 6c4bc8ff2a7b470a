// The 500 pages: plain, debug (HTML or text by Accept, escaped, secrets masked), and the
// application's handler in either signature, with a failing handler falling back to plain.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tessera/log.hpp"
#include "tessera/loop.hpp"
#include "tessera/server_error_response.hpp"
#include "tessera/sync_wait.hpp"

using namespace tessera;

namespace {

template <class T>
struct tagged_error : std::runtime_error {  // its demangled name has angle brackets
    using std::runtime_error::runtime_error;
};
struct not_standard {};

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

scope request_scope(std::string_view accept) {
    scope s;
    s.method = "POST";
    s.path = "/items/a b";
    s.raw_path = "/items/a%20b";
    s.query_string = "q=<x>";
    s.headers = headers{{"host", "testserver"},
                        {"accept", accept},
                        {"x-note", "\"<b>&'"},
                        {"authorization", "Bearer secret-token"},
                        {"cookie", "session=secret-cookie"}};
    return s;
}

std::exception_ptr script_error() {
    return std::make_exception_ptr(
        tagged_error<int>("bad <script>alert('x')</script> & more"));
}

struct no_input {
    task<event> next() { co_return http::disconnect{}; }
};

// Calls server_error_response over a scope with no body.
response respond(scope& s, const std::exception_ptr& error, bool debug,
                 const server_error_handler& handler) {
    no_input input;
    receive_member<no_input, &no_input::next> r{&input};
    request req(s, receive(r));
    return sync_wait(server_error_response(req, error, debug, handler));
}

}  // namespace

TEST_CASE("the plain page says Internal Server Error as text with status 500") {
    const auto r = plain_server_error_response();
    CHECK(r.status() == 500);
    CHECK(r.body() == "Internal Server Error");
    CHECK(r.headers().get("content-type") == "text/plain; charset=utf-8");
}

TEST_CASE("the debug page is HTML when Accept includes text/html, with everything escaped") {
    const scope s = request_scope("text/html,application/xhtml+xml;q=0.9");
    const auto r = debug_server_error_response(s, script_error());
    CHECK(r.status() == 500);
    CHECK(r.headers().get("content-type") == "text/html; charset=utf-8");
    const std::string& page = r.body();
    CHECK(contains(page, "tagged_error&lt;int&gt;"));
    CHECK(contains(page, "bad &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more"));
    CHECK(contains(page, "POST /items/a%20b?q=&lt;x&gt; HTTP/1.1"));
    CHECK(contains(page, "<th>x-note</th><td>&quot;&lt;b&gt;&amp;&#x27;</td>"));
    CHECK_FALSE(contains(page, "<script>"));
    CHECK_FALSE(contains(page, "<x>"));
}

TEST_CASE("the debug page is plain text otherwise, unescaped") {
    const scope s = request_scope("*/*");
    const auto r = debug_server_error_response(s, script_error());
    CHECK(r.headers().get("content-type") == "text/plain; charset=utf-8");
    const std::string& page = r.body();
    CHECK(page.starts_with("500 Internal Server Error\n"));
    CHECK(contains(page, "tagged_error<int>: bad <script>alert('x')</script> & more\n"));
    CHECK(contains(page, "POST /items/a%20b?q=<x> HTTP/1.1\n"));
    CHECK(contains(page, "x-note: \"<b>&'\n"));
}

TEST_CASE("the debug page masks credentials in the request headers") {
    for (const char* accept : {"text/html", "text/plain"}) {
        const scope s = request_scope(accept);
        const auto r = debug_server_error_response(s, script_error());
        CHECK_FALSE(contains(r.body(), "secret-token"));
        CHECK_FALSE(contains(r.body(), "secret-cookie"));
        CHECK(contains(r.body(), "[masked]"));
    }
}

TEST_CASE("an exception not derived from std::exception is named by its type") {
    const auto what = describe_exception(std::make_exception_ptr(not_standard{}));
    CHECK(contains(what.type, "not_standard"));
    CHECK(what.message.empty());
    const auto standard = describe_exception(std::make_exception_ptr(std::out_of_range("idx")));
    CHECK(standard.type == "std::out_of_range");
    CHECK(standard.message == "idx");
}

TEST_CASE("debug wins over the handler, the handler over the plain page") {
    const server_error_handler handler =
        [](request&, const std::exception& e) -> task<html_response> {
        co_return html_response(std::string("<p>sorry: ") + e.what() + "</p>", 503);
    };
    scope s = request_scope("text/plain");
    const auto error = std::make_exception_ptr(std::runtime_error("db down"));
    const auto from_handler = respond(s, error, false, handler);
    CHECK(from_handler.status() == 503);  // the handler chooses, as in Starlette
    CHECK(from_handler.body() == "<p>sorry: db down</p>");
    const auto debug = respond(s, error, true, handler);
    CHECK(debug.status() == 500);
    CHECK(contains(debug.body(), "std::runtime_error: db down"));
    const auto plain = respond(s, error, false, server_error_handler{});
    CHECK(plain.body() == "Internal Server Error");
}

TEST_CASE("a handler taking exception_ptr sees every exception; one taking std::exception not") {
    const server_error_handler by_pointer =
        [](request&, std::exception_ptr e) -> task<response> {
        co_return plain_text_response(describe_exception(e).type, 500);
    };
    const server_error_handler by_reference =
        [](request&, const std::exception&) -> task<response> {
        co_return plain_text_response("handled", 500);
    };
    scope s = request_scope("*/*");
    const auto odd = std::make_exception_ptr(not_standard{});
    CHECK(contains(respond(s, odd, false, by_pointer).body(), "not_standard"));
    CHECK(respond(s, odd, false, by_reference).body() == "Internal Server Error");
}

TEST_CASE("a handler that throws is replaced by the plain page and its failure is logged") {
    std::vector<std::string> logged;
    std::string body;
    // A loop of its own on a thread of its own, so its sink is ours.
    std::thread thread([&] {
        event_loop loop(event_loop_options{
            .watchdog = false,
            .sink = [&](const log_record& record) {
                logged.push_back(std::string(record.category) + ": " + std::string(record.message));
            }});
        const server_error_handler broken = [](request&, std::exception_ptr) -> task<response> {
            throw std::logic_error("handler bug");
            co_return response();
        };
        scope s = request_scope("*/*");
        body = respond(s, std::make_exception_ptr(std::runtime_error("original")), false, broken)
                   .body();
    });
    thread.join();
    CHECK(body == "Internal Server Error");
    REQUIRE(logged.size() == 1);
    CHECK(contains(logged[0], "server-error: "));
    CHECK(contains(logged[0], "std::logic_error: handler bug"));
    CHECK(contains(logged[0], "std::runtime_error: original"));
}

TEST_CASE("copying a non-const server_error_handler shares its callable") {
    // Regression: the converting constructor took a non-const handler as a callable and wrapped
    // it in itself, recursing until the stack overflowed.
    server_error_handler original([](request&, const std::exception& e) -> task<response> {
        co_return plain_text_response(std::string("handled: ") + e.what(), 500);
    });
    server_error_handler copy(original);
    server_error_handler assigned;
    assigned = original;
    scope s = request_scope("text/plain");
    const auto error = std::make_exception_ptr(std::runtime_error("boom"));
    for (const server_error_handler* handler : {&copy, &assigned}) {
        const response answer = respond(s, error, false, *handler);
        CHECK(answer.status() == 500);
        CHECK(answer.body() == "handled: boom");
    }
}
