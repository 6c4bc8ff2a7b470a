// The libuv server over real loopback sockets: keep-alive, pipelining, 100-continue, HEAD,
// chunked both ways, absolute-form targets, the app contract, the access log, workers, and
// garbage input.
#include <doctest/doctest.h>

#include <random>
#include <set>

#include "socket_client.hpp"

using namespace tessera;
using namespace itest;


TEST_CASE("several requests are served on one keep-alive connection") {
    running_server s(path_echo, quiet());
    auto c = s.connect();
    for (int i = 0; i < 5; ++i) {
        const std::string path = "/r" + std::to_string(i);
        auto r = c.roundtrip(get(path));
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == path);
        CHECK_FALSE(r->header("connection"));
    }
}

TEST_CASE("each response on a connection carries exactly its own header fields") {
    // The server hands a written head's fields back for the next response to refill (the
    // thread's spare): a plain response after a richer one must not inherit any of its fields.
    const auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        if (s.path == "/rich") {
            plain_text_response answer(
                "rich body", 201, {{"x-one", "1"}, {"x-two", "2"}, {"cache-control", "no-store"}});
            answer.set_cookie("k", "v");
            co_await std::move(answer)(s, r, sd);
        } else if (s.path == "/json") {
            json_response answer({{"ok", true}});
            co_await std::move(answer)(s, r, sd);
        } else {
            plain_text_response answer("plain");
            co_await std::move(answer)(s, r, sd);
        }
    };
    server_options options = quiet();
    options.date_header = false;
    options.server_header = false;
    running_server srv(app, options);
    auto c = srv.connect();
    // The fields as one line, so that a failure shows them. The server writes its own
    // content-length (for the framing it chose) after the app's fields.
    const auto fields = [](const http_response& r) {
        std::string line;
        for (const auto& [name, value] : r.headers) {
            line.append(name).append(": ").append(value).append("; ");
        }
        return line;
    };
    const std::string plain = "content-type: text/plain; charset=utf-8; content-length: 5; ";
    for (int round = 0; round < 3; ++round) {
        auto rich = c.roundtrip(get("/rich"));
        REQUIRE(rich);
        CHECK(rich->status == 201);
        CHECK(fields(*rich) ==
              "x-one: 1; x-two: 2; cache-control: no-store; content-type: text/plain; "
              "charset=utf-8; set-cookie: k=v; Path=/; SameSite=lax; content-length: 9; ");
        auto after_rich = c.roundtrip(get("/plain"));
        REQUIRE(after_rich);
        CHECK(fields(*after_rich) == plain);
        CHECK(after_rich->body == "plain");
        auto json = c.roundtrip(get("/json"));
        REQUIRE(json);
        CHECK(fields(*json) == "content-type: application/json; content-length: 11; ");
        CHECK(json->body == R"({"ok":true})");
        auto after_json = c.roundtrip(get("/plain"));
        REQUIRE(after_json);
        CHECK(fields(*after_json) == plain);
    }
}

TEST_CASE("an HTTP/1.0 request closes the connection by default") {
    running_server s(path_echo, quiet());
    auto c = s.connect();
    auto r = c.roundtrip("GET /old HTTP/1.0\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "/old");
    CHECK(c.wait_closed());
}

TEST_CASE("an HTTP/1.0 request with Connection: keep-alive keeps the connection") {
    running_server s(path_echo, quiet());
    auto c = s.connect();
    for (int i = 0; i < 3; ++i) {
        auto r = c.roundtrip("GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "/ka");
        CHECK(lower(r->header("connection").value_or("")) == "keep-alive");
    }
}

TEST_CASE("Connection: close is honoured") {
    running_server s(path_echo, quiet());
    auto c = s.connect();
    auto r = c.roundtrip(get("/bye", "Connection: close\r\n"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "/bye");
    CHECK(lower(r->header("connection").value_or("")) == "close");
    CHECK(c.wait_closed());
}

TEST_CASE("pipelined requests are answered in order, an async one in the middle included") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        if (s.path == "/slow") co_await sleep_for(50ms);
        co_await path_echo(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect();
    std::string batch;
    std::vector<std::string> paths;
    for (int i = 0; i < 10; ++i) {
        paths.push_back(i == 4 ? std::string("/slow") : "/p" + std::to_string(i));
        batch += get(paths.back());
    }
    REQUIRE(c.send(batch));
    for (int i = 0; i < 10; ++i) {
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == paths[static_cast<std::size_t>(i)]);
    }
    // Still usable afterwards.
    auto r = c.roundtrip(get("/after"));
    REQUIRE(r);
    CHECK(r->body == "/after");
}

TEST_CASE("a request pipelined after Connection: close is not served") {
    // Regression: when the closing response could not be written at once, the server went on
    // to serve the next pipelined request and wrote its response before closing.
    std::atomic<bool> big_done{false};
    std::atomic<int> after_calls{0};
    auto app = [&](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        if (s.path == "/big") {
            const std::string body(8 << 20, 'B');  // below write_high_water: send returns
            co_await sd(http::response_start{200, {}});
            co_await sd(http::response_body{body, false});
            big_done = true;
            co_return;
        }
        ++after_calls;
        co_await path_echo(s, r, sd);
    };
    auto o = quiet();
    o.write_high_water = 64 << 20;
    running_server s(app, o);
    auto c = s.connect();
    c.set_receive_buffer(16 * 1024);
    REQUIRE(c.send(get("/big", "Connection: close\r\n") + get("/after")));
    REQUIRE(eventually([&] { return big_done.load(); }));  // the socket is full by now
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body.size() == std::size_t{8} << 20);
    CHECK(c.wait_closed());
    CHECK(c.buffer().empty());
    CHECK(after_calls == 0);
}

TEST_CASE("pipelined requests with bodies are answered in order") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const std::string body = co_await read_body(r);
        const plain_text_response answer(s.path + ":" + body);
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect();
    std::string batch;
    for (int i = 0; i < 10; ++i) {
        const std::string body(static_cast<std::size_t>(i) * 10, 'x');
        batch += "POST /b" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body;
    }
    REQUIRE(c.send(batch));
    for (int i = 0; i < 10; ++i) {
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->body == "/b" + std::to_string(i) + ":" +
                             std::string(static_cast<std::size_t>(i) * 10, 'x'));
    }
}

TEST_CASE("100 Continue is written only when the app first receives, then the final response") {
    gate opened;
    auto app = [&opened](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        co_await wait_for(opened);
        const std::string body = co_await read_body(r);
        const plain_text_response answer("got " + body);
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect(3000ms);
    REQUIRE(c.send("POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                   "Content-Length: 5\r\n\r\n"));
    // The app has not asked for the body yet: nothing may arrive.
    c.set_timeout(200ms);
    CHECK(c.read_some() == read_status::timeout);
    CHECK(c.buffer().empty());
    c.set_timeout(5000ms);
    opened.release();
    auto interim = c.read_response();
    REQUIRE(interim);
    CHECK(interim->status == 100);
    REQUIRE(c.send("hello"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "got hello");
    // The connection goes on, and a second Expect is answered again.
    REQUIRE(c.send("POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                   "Content-Length: 3\r\n\r\n"));
    interim = c.read_response();
    REQUIRE(interim);
    CHECK(interim->status == 100);
    REQUIRE(c.send("abc"));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "got abc");
}

TEST_CASE("an app that answers without reading the body gets no 100 Continue") {
    running_server s(path_echo, quiet());
    auto c = s.connect();
    REQUIRE(c.send("POST /nope HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                   "Content-Length: 100\r\n\r\n"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "/nope");
    // The client may or may not send the body now: the next bytes cannot be told apart from a
    // request, so the server says it closes, and does.
    CHECK(lower(r->header("connection").value_or("")) == "close");
    CHECK(c.wait_closed());
    CHECK(c.buffer().find("100 Continue") == std::string::npos);
}

TEST_CASE("a HEAD response has the headers and content-length but no body") {
    running_server s(path_echo, quiet());
    auto c = s.connect();
    REQUIRE(c.send("HEAD /head-path HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.read_response(true);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("content-length") == std::string("10"));
    CHECK(r->header("content-type"));
    // If a body had been written, it would be read as the next status line here.
    auto next = c.roundtrip(get("/next"));
    REQUIRE(next);
    CHECK(next->status == 200);
    CHECK(next->body == "/next");
    CHECK(c.buffer().empty());
}

TEST_CASE("a chunked request body with extensions and trailers reaches the app decoded") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const std::string body = co_await read_body(r);
        const plain_text_response answer(std::to_string(body.size()) + ":" + body);
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect();
    const std::string request =
        "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;name=value\r\nhello\r\n"
        "6;a;b=\"q\"\r\n world\r\n"
        "0\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n";
    auto r = c.roundtrip(request);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "11:hello world");
    // Sent in small pieces too.
    REQUIRE(c.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
    REQUIRE(c.send("3\r\nabc\r"));
    REQUIRE(c.send("\n2\r\nde\r\n0\r\n"));
    REQUIRE(c.send("\r\n"));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "5:abcde");
}

namespace {
async_generator<std::string> three_chunks() {
    co_yield std::string("one,");
    co_await sleep_for(1ms);
    co_yield std::string("two,");
    co_yield std::string(100000, 'z');
}
}  // namespace

TEST_CASE("a response without content-length goes out chunked and decodes") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const streaming_response answer(three_chunks(), 200, {}, "text/plain");
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect();
    for (int i = 0; i < 2; ++i) {
        auto r = c.roundtrip(get("/stream"));
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->chunked);
        CHECK(r->complete);
        CHECK_FALSE(r->header("content-length"));
        CHECK(r->body == "one,two," + std::string(100000, 'z'));
    }
}

namespace {
constexpr int pieces = 200;  // 8 MB: more than the kernel buffers, so the socket fills
constexpr std::size_t size = 40000;
}  // namespace

TEST_CASE("body bytes the app frees right after send are not written from freed memory") {
    // Regression: while a write was in progress, a body piece below the high water mark stayed
    // borrowed in the queue after `send` returned; the app then reused or freed it and writev
    // read freed memory (ASan: heap-use-after-free) or sent the wrong bytes.
    std::atomic<int> sent{0};
    auto app = [&sent](scope& s, receive, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        co_await sd(http::response_start{200, {}});
        for (int i = 0; i < pieces; ++i) {
            auto piece = std::make_unique<std::string>(size, static_cast<char>('a' + i % 26));
            co_await sd(http::response_body{*piece, true});
            std::fill(piece->begin(), piece->end(), '!');  // then freed
            ++sent;
        }
        co_await sd(http::response_body{std::string_view{}, false});
    };
    running_server s(app, quiet());
    auto c = s.connect(10000ms);
    c.set_receive_buffer(32 * 1024);
    REQUIRE(c.send(get("/pieces")));
    // Read nothing until the app is held back (the socket is full and writes are queued).
    int last = -1, unchanged = 0;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (unchanged < 20 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
        const int now = sent.load();
        unchanged = now == last ? unchanged + 1 : 0;
        last = now;
    }
    auto r = c.read_response();
    REQUIRE(r);
    REQUIRE(r->complete);
    REQUIRE(r->body.size() == pieces * size);
    int wrong = 0;
    for (std::size_t i = 0; i < pieces; ++i) {
        const char expected = static_cast<char>('a' + i % 26);
        const auto bad = r->body.find_first_not_of(expected, i * size);
        wrong += bad < (i + 1) * size ? 1 : 0;
    }
    CHECK(wrong == 0);
}

TEST_CASE("date and server headers are present by default and can be switched off") {
    {
        running_server s(path_echo, quiet());
        auto c = s.connect();
        auto r = c.roundtrip(get("/"));
        REQUIRE(r);
        CHECK(r->header("server") == std::string("tessera"));
        REQUIRE(r->header("date"));
        CHECK(r->header("date")->size() == 29);
        CHECK(r->header("date")->ends_with(" GMT"));
    }
    {
        auto o = quiet();
        o.server_name = "custom/1.0";
        running_server s(path_echo, o);
        auto c = s.connect();
        auto r = c.roundtrip(get("/"));
        REQUIRE(r);
        CHECK(r->header("server") == std::string("custom/1.0"));
    }
    {
        auto o = quiet();
        o.date_header = false;
        o.server_header = false;
        running_server s(path_echo, o);
        auto c = s.connect();
        auto r = c.roundtrip(get("/"));
        REQUIRE(r);
        CHECK_FALSE(r->header("server"));
        CHECK_FALSE(r->header("date"));
    }
}

TEST_CASE("default_headers reach every response, the server's errors too, and yield to the app") {
    const auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.path == "/own") {
            plain_text_response answer("own", 200, {{"cache-control", "max-age=60"}});
            co_await std::move(answer)(s, r, sd);
        } else if (s.path == "/fail") {
            throw std::runtime_error("the app failed");
        } else {
            plain_text_response answer("plain");
            co_await std::move(answer)(s, r, sd);
        }
    };
    auto o = quiet();
    o.default_headers = {{"X-Frame-Options", "DENY"}, {"Cache-Control", "no-store"},
                         {"Server", "edge"}};
    running_server srv(app, o);
    auto c = srv.connect();
    auto plain = c.roundtrip(get("/"));
    REQUIRE(plain);
    CHECK(plain->header("x-frame-options") == std::string("DENY"));
    CHECK(plain->header("cache-control") == std::string("no-store"));
    // The default `server` replaced the server's own; `date` is still the server's.
    CHECK(plain->count("server") == 1);
    CHECK(plain->header("server") == std::string("edge"));
    CHECK(plain->count("date") == 1);
    auto own = c.roundtrip(get("/own"));
    REQUIRE(own);
    CHECK(own->count("cache-control") == 1);
    CHECK(own->header("cache-control") == std::string("max-age=60"));
    CHECK(own->header("x-frame-options") == std::string("DENY"));
    auto failed = c.roundtrip(get("/fail"));
    REQUIRE(failed);
    CHECK(failed->status == 500);
    CHECK(failed->header("x-frame-options") == std::string("DENY"));
    // A request the server refuses before any app sees it.
    auto bad = srv.connect();
    REQUIRE(bad.send("GET / HTTP/1.1\r\nHost : t\r\n\r\n"));
    auto refused = bad.read_response();
    REQUIRE(refused);
    CHECK(refused->status == 400);
    CHECK(refused->header("x-frame-options") == std::string("DENY"));
    CHECK(refused->header("server") == std::string("edge"));
}

TEST_CASE("default_headers that would break framing or the wire are refused at construction") {
    const auto refused = [](std::string_view name, std::string_view value) {
        auto o = quiet();
        o.default_headers = {{name, value}};
        CHECK_THROWS_AS(server(path_echo, o), std::invalid_argument);
    };
    refused("Content-Length", "5");
    refused("transfer-encoding", "chunked");
    refused("Connection", "close");
    refused("keep-alive", "timeout=5");
    refused("upgrade", "websocket");
    refused("x-a", "one\r\nx-injected: 1");
    refused("x a", "1");
    refused("", "1");
}

TEST_CASE("an absolute-form target gives the path and query") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const plain_text_response answer(s.path + "|" + s.query_string + "|" +
                                         std::string(s.headers.get("host").value_or("")));
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect();
    const std::string authority = "127.0.0.1:" + std::to_string(s.port());
    auto r = c.roundtrip("GET http://" + authority + "/echo?a=1 HTTP/1.1\r\nHost: " + authority +
                         "\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "/echo|a=1|" + authority);
}

TEST_CASE("the path is percent-decoded and root_path is prepended") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const plain_text_response answer(s.path + "|" + s.raw_path + "|" + s.root_path);
        co_await answer(s, r, sd);
    };
    auto o = quiet();
    o.root_path = "/api";
    running_server s(app, o);
    auto c = s.connect();
    auto r = c.roundtrip(get("/a%20b"));
    REQUIRE(r);
    CHECK(r->body == "/api/a b|/api/a%20b|/api");
    r = c.roundtrip(get("/plain"));
    REQUIRE(r);
    CHECK(r->body == "/api/plain|/api/plain|/api");
}

TEST_CASE("each request on a connection gets its own decoded path, escaped or not") {
    // The scope is reused from one request to the next; a path without escapes is taken as it
    // is, one with escapes is decoded.
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const plain_text_response answer(s.path + "|" + s.raw_path + "|" + s.root_path);
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect();
    const std::pair<std::string, std::string> cases[] = {
        {"/plain", "/plain|/plain|"},  {"/plain", "/plain|/plain|"},
        {"/a%20b", "/a b|/a%20b|"},    {"/plain", "/plain|/plain|"},
        {"/pl", "/pl|/pl|"},           {"/a%2Fb%", "/a/b%|/a%2Fb%|"},
        {"/x%zz?q=%41", "/x%zz|/x%zz|"}, {"/", "/|/|"},
    };
    for (const auto& [target, expected] : cases) {
        CAPTURE(target);
        auto r = c.roundtrip(get(target));
        REQUIRE(r);
        CHECK(r->body == expected);
    }
}

// ---- the app contract --------------------------------------------------------------------

TEST_CASE("an exception before the response is answered 500 and the server keeps serving") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        if (s.path == "/boom") throw std::runtime_error("boom");
        co_await path_echo(s, r, sd);
    };
    log_capture logs;
    auto o = quiet();
    o.sink = logs.sink();
    running_server s(app, o);
    {
        auto c = s.connect();
        auto r = c.roundtrip(get("/boom"));
        REQUIRE(r);
        CHECK(r->status == 500);
        CHECK(r->complete);
    }
    auto c = s.connect();
    auto r = c.roundtrip(get("/fine"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "/fine");
    bool logged = false;
    for (const auto& line : logs.of("server")) logged |= line.find("boom") != std::string::npos;
    CHECK(logged);
}

TEST_CASE("an exception after the response started closes the connection mid-body") {
    // Regression: the bytes the app had sent were dropped with the connection (no response).
    auto app = [](scope& s, receive, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const tessera::headers fields{{"content-type", "text/plain"}};
        co_await sd(http::response_start{200, fields});
        co_await sd(http::response_body{std::string_view("partial"), true});
        throw std::runtime_error("late failure");
    };
    running_server s(app, quiet());
    auto c = s.connect();
    auto r = c.roundtrip(get("/late"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->chunked);
    CHECK_FALSE(r->complete);
    CHECK(r->body == "partial");
    CHECK(c.last_status() != read_status::timeout);
    auto other = s.connect();
    CHECK(other.roundtrip(get("/x")));
}

TEST_CASE("a content-length response cut short by an exception is seen as truncated") {
    auto app = [](scope& s, receive, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const tessera::headers fields{{"content-length", "100"}};
        co_await sd(http::response_start{200, fields});
        co_await sd(http::response_body{std::string_view("only ten!!"), true});
        throw std::runtime_error("late failure");
    };
    running_server s(app, quiet());
    auto c = s.connect();
    auto r = c.roundtrip(get("/short"));
    REQUIRE(r);
    CHECK_FALSE(r->complete);
    CHECK(r->body == "only ten!!");
}

TEST_CASE("an app that returns without responding is answered 500") {
    auto app = [](scope&, receive, tessera::send) -> task<void> { co_return; };
    running_server s(app, quiet());
    auto c = s.connect();
    auto r = c.roundtrip(get("/silent"));
    REQUIRE(r);
    CHECK(r->status == 500);
    auto c2 = s.connect();
    auto r2 = c2.roundtrip(get("/silent"));
    REQUIRE(r2);
    CHECK(r2->status == 500);
}

namespace {
// An app whose response head carries one invalid field.
struct invalid_header_app {
    std::string name, value;
    task<void> operator()(scope& s, receive, tessera::send sd) const {
        if (s.type != scope_type::http) co_return;
        const tessera::headers fields{{name, value}};
        co_await sd(http::response_start{200, fields});
        co_await sd(http::response_body{std::string_view("body"), false});
    }
};

// Nothing of the invalid field (`leak`) reaches the wire; the server answers 500 and closes.
void check_invalid_header_answered_500(std::string name, std::string value,
                                       std::string_view leak) {
    running_server s(invalid_header_app{std::move(name), std::move(value)}, quiet());
    auto c = s.connect();
    REQUIRE(c.send(get("/inject")));
    CHECK(c.wait_closed());
    const std::string wire = c.buffer();
    CHECK(wire.find(leak) == std::string::npos);
    // Regression: the connection was closed without a response; nothing reached the wire, so
    // the server can still answer 500.
    CHECK(wire.starts_with("HTTP/1.1 500 "));
}
}  // namespace

TEST_CASE("a header value with CR LF from the app never reaches the wire") {
    check_invalid_header_answered_500("x-evil", "a\r\nInjected: yes", "Injected");
}

TEST_CASE("an invalid header name from the app is answered 500 or closed") {
    check_invalid_header_answered_500("bad name:", "v", "bad name");
}

// ---- access log, workers, garbage --------------------------------------------------------

TEST_CASE("the scope's client and server are the connection's two ends, per connection") {
    auto app = [](scope& sc, receive r, tessera::send sd) -> task<void> {
        const plain_text_response answer(sc.client->to_string() + " " + sc.server->to_string());
        co_await answer(sc, r, sd);
    };
    running_server s(app, quiet());
    const std::string server_end = "127.0.0.1:" + std::to_string(s.port());
    // Octets of one, two and three digits and a zero; two requests on the first connection
    // (the second reuses the first's scope), then a connection from elsewhere.
    const auto local_port = [](const client& c) {
        sockaddr_in local{};
        socklen_t length = sizeof local;
        ::getsockname(c.fd(), reinterpret_cast<sockaddr*>(&local), &length);
        return std::to_string(ntohs(local.sin_port));
    };
    auto first = client::from_source(s.port(), "127.10.200.3");
    for (int i = 0; i < 2; ++i) {
        auto r = first.roundtrip(get("/"));
        REQUIRE(r);
        CHECK(r->body == "127.10.200.3:" + local_port(first) + " " + server_end);
    }
    auto second = client::from_source(s.port(), "127.99.0.45");
    auto r = second.roundtrip(get("/"));
    REQUIRE(r);
    CHECK(r->body == "127.99.0.45:" + local_port(second) + " " + server_end);
}

TEST_CASE("the access log names the client, request line, status, bytes and time") {
    log_capture logs;
    server_options o;
    o.sink = logs.sink();
    running_server s(path_echo, o);
    auto c = s.connect();
    auto r = c.roundtrip(get("/logged?x=1"));
    REQUIRE(r);
    REQUIRE(eventually([&] { return !logs.of("access").empty(); }));
    const auto line = logs.of("access").front();
    INFO(line);
    CHECK(line.starts_with("127.0.0.1:"));
    CHECK(line.find("\"GET /logged?x=1 HTTP/1.1\" 200 11 ") != std::string::npos);
    CHECK(line.ends_with("ms"));
}

TEST_CASE("the access log reports the 500 the server answered for a failing app") {
    log_capture logs;
    server_options o;
    o.sink = logs.sink();
    auto app = [](scope&, receive, tessera::send) -> task<void> {
        throw std::runtime_error("nope");
        co_return;
    };
    running_server s(app, o);
    auto c = s.connect();
    auto r = c.roundtrip(get("/fail"));
    REQUIRE(r);
    CHECK(r->status == 500);
    REQUIRE(eventually([&] { return !logs.of("access").empty(); }));
    const auto line = logs.of("access").front();
    INFO(line);
    // Regression: the line said status 0 (the app never started a response).
    CHECK(line.find("\"GET /fail HTTP/1.1\" 500 21 ") != std::string::npos);
}

TEST_CASE("the access log stays silent when switched off") {
    log_capture logs;
    auto o = quiet();
    o.sink = logs.sink();
    running_server s(path_echo, o);
    auto c = s.connect();
    REQUIRE(c.roundtrip(get("/")));
    s.srv.stop();
    CHECK(logs.of("access").empty());
}

TEST_CASE("two workers both serve connections") {
    std::mutex mutex;
    std::set<std::thread::id> threads;
    auto app = [&](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        {
            std::lock_guard lock(mutex);
            threads.insert(std::this_thread::get_id());
        }
        co_await path_echo(s, r, sd);
    };
    auto o = quiet();
    o.workers = 2;
    running_server s(app, o);
    std::vector<client> clients;
    for (int i = 0; i < 40; ++i) clients.push_back(s.connect());
    for (int i = 0; i < 40; ++i) {
        auto r = clients[static_cast<std::size_t>(i)].roundtrip(get("/w" + std::to_string(i)));
        REQUIRE(r);
        CHECK(r->body == "/w" + std::to_string(i));
    }
    std::lock_guard lock(mutex);
    CHECK(threads.size() == 2);
}

TEST_CASE("random garbage on many connections never brings the server down") {
    auto o = quiet();
    // Junk without a line feed is an incomplete request line: the header timeout ends it.
    o.header_timeout = 500ms;
    running_server s(path_echo, o);
    std::mt19937 random(12345);
    std::vector<client> clients;
    for (int i = 0; i < 20; ++i) {
        auto c = s.connect(2000ms);
        std::string junk;
        if (i % 4 == 1) junk = "GET / HTTP/1.1\r\nHost: t\r\n";  // a plausible start
        if (i % 4 == 2) junk = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
        const std::size_t size = 1 + random() % 8192;
        for (std::size_t k = 0; k < size; ++k) junk.push_back(static_cast<char>(random() & 0xff));
        c.send(junk);
        if (i % 3 == 0) {
            c.reset();
        } else {
            clients.push_back(std::move(c));
        }
    }
    for (auto& c : clients) {
        // Each is answered 400 (or similar) and closed, or just dropped.
        INFO("client " << (&c - clients.data()) << " got: " << c.buffer().substr(0, 200));
        CHECK(c.wait_closed());
        if (!c.buffer().empty()) CHECK(c.buffer().starts_with("HTTP/1.1 "));
    }
    auto c = s.connect();
    auto r = c.roundtrip(get("/alive"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "/alive");
}

// ---- more framing and connection edge cases ----------------------------------------------

TEST_CASE("a thousand pipelined requests in one write are all answered in order") {
    running_server s(path_echo, quiet());
    auto c = s.connect();
    std::string batch;
    const std::string pad = "X-Pad: " + std::string(60, 'p') + "\r\n";
    for (int i = 0; i < 1000; ++i) batch += get("/n" + std::to_string(i), pad);
    REQUIRE(batch.size() > 64 * 1024);  // more than one read buffer
    REQUIRE(c.send(batch));
    for (int i = 0; i < 1000; ++i) {
        auto r = c.read_response();
        REQUIRE(r);
        REQUIRE(r->body == "/n" + std::to_string(i));
    }
}

TEST_CASE("a large request head arriving in small pieces is parsed") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        std::size_t total = 0;
        for (const auto& f : s.headers) total += f.value.size();
        const plain_text_response answer(std::to_string(s.headers.size()) + ":" +
                                         std::to_string(total));
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect();
    std::string extra;
    for (int i = 0; i < 50; ++i) {
        extra += "X-H" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
    }
    const std::string request = get("/", extra);
    for (std::size_t at = 0; at < request.size(); at += 700) {
        REQUIRE(c.send(std::string_view(request).substr(at, 700)));
    }
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "51:50004");  // host "test" + 50 × 1000
}

TEST_CASE("a streaming response to a HEAD request has no body and the connection goes on") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const streaming_response answer(three_chunks(), 200, {}, "text/plain");
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect();
    auto r = c.roundtrip("HEAD /s HTTP/1.1\r\nHost: t\r\n\r\n", true);
    REQUIRE(r);
    CHECK(r->status == 200);
    auto next = c.roundtrip(get("/s"));
    REQUIRE(next);
    CHECK(next->complete);
    CHECK(next->body == "one,two," + std::string(100000, 'z'));
}

TEST_CASE("an HTTP/1.0 streaming response is close-delimited") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const streaming_response answer(three_chunks(), 200, {}, "text/plain");
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect();
    auto r = c.roundtrip("GET /s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    REQUIRE(r);
    CHECK_FALSE(r->chunked);
    CHECK_FALSE(r->header("content-length"));
    CHECK(r->complete);
    CHECK(r->body == "one,two," + std::string(100000, 'z'));
}

TEST_CASE("204 and 304 responses carry no body and keep the connection") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const response answer(std::string{}, s.path == "/204" ? 204 : 304);
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect();
    for (const char* path : {"/204", "/304", "/204"}) {
        auto r = c.roundtrip(get(path));
        REQUIRE(r);
        CHECK(r->status == std::stoi(path + 1));
        CHECK_FALSE(r->header("transfer-encoding"));
    }
    CHECK(c.buffer().empty());
}

TEST_CASE("a POST with Content-Length 0 keeps the connection") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const std::string body = co_await read_body(r);
        const plain_text_response answer("[" + body + "]");
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect();
    for (int i = 0; i < 3; ++i) {
        auto r = c.roundtrip("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
        REQUIRE(r);
        CHECK(r->body == "[]");
    }
}

TEST_CASE("a client that leaves mid-body makes the app's receive yield a disconnect") {
    std::atomic<bool> saw_disconnect{false};
    auto app = [&](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        for (;;) {
            event e = co_await r();
            if (std::holds_alternative<http::disconnect>(e)) {
                saw_disconnect = true;
                co_return;
            }
            if (!std::get<http::request>(e).more_body) break;
        }
        co_await path_echo(s, r, sd);
    };
    running_server s(app, quiet());
    {
        auto c = s.connect();
        REQUIRE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nabc"));
        c.reset();
    }
    CHECK(eventually([&] { return saw_disconnect.load(); }));
    auto c = s.connect();
    CHECK(c.roundtrip(get("/fine")));
}

namespace {
async_generator<std::string> endless_ticks(std::atomic<int>* ticks, std::atomic<bool>* ended) {
    struct on_exit {
        std::atomic<bool>* flag;
        ~on_exit() { *flag = true; }
    } guard{ended};
    for (;;) {
        ++*ticks;
        co_yield std::string("tick\n");
        co_await sleep_for(5ms);
    }
}
}  // namespace

TEST_CASE("an endless streaming response ends when its client leaves") {
    std::atomic<int> ticks{0};
    std::atomic<bool> ended{false};
    auto app = [&ticks, &ended](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        if (s.path != "/events") {
            co_await path_echo(s, r, sd);
            co_return;
        }
        const streaming_response answer(endless_ticks(&ticks, &ended), 200, {}, "text/plain");
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    {
        auto c = s.connect();
        REQUIRE(c.send(get("/events")));
        REQUIRE(eventually([&] { return ticks.load() >= 3; }));
        c.close();
    }
    CHECK(eventually([&] { return ended.load(); }));
    auto c = s.connect();
    CHECK(c.roundtrip(get("/ok")));
}

TEST_CASE("a client that resets while a large response is written does no harm") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const plain_text_response answer(std::string(s.path == "/big" ? 20 << 20 : 2, 'x'));
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    for (int i = 0; i < 5; ++i) {
        auto c = s.connect();
        c.set_receive_buffer(16 * 1024);
        REQUIRE(c.send(get("/big")));
        REQUIRE(c.read_some() == read_status::ok);  // the response has started
        c.reset();
    }
    auto c = s.connect();
    auto r = c.roundtrip(get("/small"));
    REQUIRE(r);
    CHECK(r->body == "xx");
}
