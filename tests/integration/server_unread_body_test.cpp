// Keep-alive after a request body the app did not read: a small rest is read and dropped and
// the connection serves the next request; a large or unknown rest makes the response say
// `connection: close` (uvicorn drains any amount; the server bounds it at 64 KiB).
#include <doctest/doctest.h>

#include "socket_client.hpp"

using namespace tessera;
using namespace itest;

namespace {
std::string post(std::string_view target, std::size_t length, std::string_view body_start = {}) {
    std::string r = "POST ";
    r.append(target).append(" HTTP/1.1\r\nHost: t\r\nContent-Length: ");
    r.append(std::to_string(length)).append("\r\n\r\n").append(body_start);
    return r;
}

// Reads the first body piece only, then answers with its size.
task<void> read_one_piece(scope& s, receive r, tessera::send sd) {
    if (s.type != scope_type::http) co_return;
    event e = co_await r();
    const auto* piece = std::get_if<http::request>(&e);
    const plain_text_response answer(std::to_string(piece ? piece->body.size() : 0));
    co_await answer(s, r, sd);
}
}  // namespace

TEST_CASE("an unread Content-Length body that already arrived is dropped and the connection kept") {
    running_server s(path_echo, quiet());
    auto c = s.connect();
    // The body and the next request arrive together, pipelined.
    REQUIRE(c.send(post("/unread", 10, "0123456789") + get("/next")));
    auto first = c.read_response();
    REQUIRE(first);
    CHECK(first->body == "/unread");
    CHECK_FALSE(first->header("connection"));
    auto second = c.read_response();
    REQUIRE(second);
    CHECK(second->status == 200);
    CHECK(second->body == "/next");
}

TEST_CASE("an unread body still on its way is read and dropped after the response") {
    // Regression: the server used to close the connection after a response that had not said
    // `connection: close`, losing a keep-alive connection for every 401 or 404 to a POST.
    running_server s(path_echo, quiet());
    auto c = s.connect();
    REQUIRE(c.send(post("/early", 10, "01234")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "/early");
    CHECK_FALSE(r->header("connection"));
    // The rest of the body, then a request: the body's bytes must not be taken for a request.
    REQUIRE(c.send("56789" + get("/after")));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "/after");
}

TEST_CASE("a body the app read only partly is drained when its rest is small") {
    running_server s(read_one_piece, quiet());
    auto c = s.connect();
    REQUIRE(c.send(post("/part", 20, "0123456789")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "10");
    CHECK_FALSE(r->header("connection"));
    REQUIRE(c.send("abcdefghij" + get("/again")));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "0");  // the next request is served: its empty body is its one piece
}

TEST_CASE("an unread body larger than the drain limit makes the response close the connection") {
    running_server s(path_echo, quiet());
    auto c = s.connect();
    REQUIRE(c.send(post("/big", 1024 * 1024, std::string(1000, 'x'))));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "/big");
    CHECK(lower(r->header("connection").value_or("")) == "close");
    CHECK(c.wait_closed());
    CHECK(c.last_status() != read_status::timeout);
}

TEST_CASE("an unread chunked body makes the response close the connection") {
    // Its length is unknown until its end: whether it could be drained cannot be promised.
    running_server s(path_echo, quiet());
    auto c = s.connect();
    REQUIRE(c.send("POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "/chunked");
    CHECK(lower(r->header("connection").value_or("")) == "close");
    CHECK(c.wait_closed());
    CHECK(c.last_status() != read_status::timeout);
}

TEST_CASE("a chunked body the app read to its end keeps the connection") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const std::string body = co_await read_body(r);
        const plain_text_response answer(body);
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect();
    REQUIRE(c.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n0\r\n\r\n" +
                   get("/x")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "hello");
    CHECK_FALSE(r->header("connection"));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->body.empty());
}

TEST_CASE("a client that ends its connection instead of sending the rest is let go") {
    running_server s(path_echo, quiet());
    auto c = s.connect();
    REQUIRE(c.send(post("/short", 10, "01234")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "/short");
    // The client gives up on its body: the server drops the connection instead of waiting.
    c.shutdown_write();
    CHECK(c.wait_closed());
    CHECK(c.last_status() != read_status::timeout);
}
