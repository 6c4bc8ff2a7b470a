#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/cancellation.hpp"
#include "tessera/http_exchange.hpp"
#include "tessera/request.hpp"
#include "tessera/response.hpp"
#include "tessera/testing/test_client.hpp"
#include "tessera/timer.hpp"
#include "temp_dir.hpp"

using namespace tessera;
using namespace std::chrono_literals;
using tessera::testing::client_options;
using tessera::testing::lifespan_error;
using tessera::testing::test_client;
using tessera::testing::test_timeout;

namespace {
task<void> answer(scope& s, receive r, send sd, response resp) { co_await resp(s, r, sd); }

// Callers build the JSON in a named variable first: GCC 12 rejects ("array used as
// initializer") a braced list holding string literals as an argument inside a coroutine.
task<void> reply(scope& s, receive r, send sd, json content) {
    co_await answer(s, r, sd, json_response(content));
}

// Echoes what arrived: method, path, query, body and the first value of every header.
task<void> echo(scope& s, receive r, send sd) {
    request req(s, r);
    const std::string body(co_await req.body());
    json fields = json::object();
    for (const auto& field : req.headers()) {
        if (!fields.contains(field.name)) fields[field.name] = field.value;
    }
    json cookies = json::object();
    for (const auto& [name, value] : req.cookies()) cookies[name] = value;
    const json out = {{"method", s.method},    {"path", s.path},    {"query", s.query_string},
                      {"body", body},          {"headers", fields}, {"cookies", cookies},
                      {"url", req.url().str()}};
    const headers extra{{"x-method", s.method}};
    co_await answer(s, r, sd, json_response(out, 200, extra));
}

// A small site: cookies, redirects of every kind, and the echo.
task<void> site(scope& s, receive r, send sd) {
    const std::string& path = s.path;
    if (path == "/login") {
        plain_text_response resp("welcome");
        resp.set_cookie("session", "abc").set_cookie("theme", "dark");
        co_await answer(s, r, sd, resp);
    } else if (path == "/odd-cookie") {
        plain_text_response resp("set");
        resp.set_cookie("note", "a;b \"c\" caf\xC3\xA9\\");
        co_await answer(s, r, sd, resp);
    } else if (path == "/raw-expiry") {
        const headers cookies{{"set-cookie", "a=x; Max-Age=0"},
                              {"set-cookie", "b=y; max-age=-1; Path=/"},
                              {"set-cookie", "c=max-age=0"}};
        co_await answer(s, r, sd, plain_text_response("x", 200, cookies));
    } else if (path == "/logout") {
        plain_text_response resp("bye");
        resp.delete_cookie("session");
        co_await answer(s, r, sd, resp);
    } else if (path == "/redirect-301") {
        co_await answer(s, r, sd, redirect_response("/echo", 301));
    } else if (path == "/redirect-302") {
        co_await answer(s, r, sd, redirect_response("/echo", 302));
    } else if (path == "/redirect-303") {
        co_await answer(s, r, sd, redirect_response("/echo", 303));
    } else if (path == "/redirect-307") {
        co_await answer(s, r, sd, redirect_response("/echo?from=307"));
    } else if (path == "/redirect-308") {
        co_await answer(s, r, sd, redirect_response("/echo", 308));
    } else if (path == "/chain") {
        co_await answer(s, r, sd, redirect_response("http://testserver/redirect-307"));
    } else if (path == "/loop") {
        co_await answer(s, r, sd, redirect_response("/loop"));
    } else if (path == "/relative/start") {
        co_await answer(s, r, sd, redirect_response("../echo"));
    } else if (path == "/to-login") {
        co_await answer(s, r, sd, redirect_response("/echo?next=http://testserver/x#top"));
    } else if (path == "/search") {
        if (s.query_string.empty()) {
            co_await answer(s, r, sd, redirect_response("?page=2"));
        } else {
            co_await echo(s, r, sd);
        }
    } else if (path == "/set-and-redirect") {
        redirect_response resp("/echo", 303);
        resp.set_cookie("visited", "yes");
        co_await answer(s, r, sd, resp);
    } else if (path == "/echo" || path == "/echo/" || path.starts_with("/api/")) {
        co_await echo(s, r, sd);
    } else {
        co_await answer(s, r, sd, plain_text_response("Not Found", 404));
    }
}

task<void> throws(scope&, receive, send) {
    throw std::runtime_error("handler exploded");
    co_return;
}

task<void> never_responds(scope&, receive, send) { co_return; }

task<void> body_before_start(scope&, receive, send sd) {
    co_await sd(http::response_body{"early", false});
}

task<void> starts_twice(scope&, receive, send sd) {
    co_await sd(http::response_start{200, {}});
    co_await sd(http::response_start{200, {}});
}

struct unwind_counter {
    int* count;
    ~unwind_counter() { ++*count; }
};

// Waits for an hour before answering; counts its frame's unwinding.
struct hangs {
    int* unwound;
    bool start_first = false;
    task<void> operator()(scope&, receive, send sd) const {
        unwind_counter guard{unwound};
        if (start_first) co_await sd(http::response_start{200, {}});
        co_await sleep_for(std::chrono::hours(1));
        co_await sd(http::response_body{"late", false});
    }
};

// A lifespan-aware app that logs its phases and shares state from startup with requests.
struct lifespan_app {
    std::vector<std::string>* log;
    std::string startup_failure;
    std::string shutdown_failure;
    task<void> operator()(scope& s, receive r, send sd) const {
        if (s.type == scope_type::lifespan) {
            for (;;) {
                const event e = co_await r();
                if (std::holds_alternative<lifespan::startup>(e)) {
                    log->push_back("startup");
                    if (!startup_failure.empty()) {
                        co_await sd(lifespan::startup_failed{startup_failure});
                        co_return;
                    }
                    s.app_state->set("db", std::string("connected"));
                    co_await sd(lifespan::startup_complete{});
                } else if (std::holds_alternative<lifespan::shutdown>(e)) {
                    log->push_back("shutdown");
                    if (!shutdown_failure.empty()) {
                        co_await sd(lifespan::shutdown_failed{shutdown_failure});
                    } else {
                        co_await sd(lifespan::shutdown_complete{});
                    }
                    co_return;
                }
            }
        }
        log->push_back("request");
        request req(s, r);
        const auto* db = req.app_state().find<std::string>("db");
        json reply_body = {{"db", db ? json(*db) : json(nullptr)}};
        co_await reply(s, r, sd, std::move(reply_body));
    }
};

// Knows nothing of lifespans: anything but HTTP is an error.
task<void> http_only(scope& s, receive r, send sd) {
    if (s.type != scope_type::http) throw std::runtime_error("unsupported scope type");
    co_await answer(s, r, sd, plain_text_response("http"));
}

task<void> count_hits(scope& s, receive r, send sd) {
    request req(s, r);
    auto& hits = req.app_state().find<int>("hits") ? req.app_state().get<int>("hits")
                                                   : req.app_state().set("hits", 0);
    ++hits;
    json reply_body = {{"hits", hits}};
    co_await reply(s, r, sd, std::move(reply_body));
}

// Starts a streamed response, then reads the request body one chunk at a time, pausing after
// each, and logs what `receive` yields until the client goes.
struct slow_body_reader {
    std::vector<std::string>* log;
    task<void> operator()(scope&, receive r, send sd) const {
        co_await sd(http::response_start{200, {}});
        co_await sd(http::response_body{"started", true});
        for (;;) {
            const event e = co_await r();
            if (const auto* piece = std::get_if<http::request>(&e)) {
                log->push_back(piece->body);
            } else {
                log->push_back(std::string(event_name(e)));
                co_return;
            }
            co_await sleep_for(1ms);
        }
    }
};

// Completes startup, then raises when told to shut down.
task<void> crashes_on_shutdown(scope& s, receive r, send sd) {
    if (s.type == scope_type::lifespan) {
        (void)co_await r();
        co_await sd(lifespan::startup_complete{});
        (void)co_await r();
        throw std::runtime_error("cleanup crashed");
    }
    co_await answer(s, r, sd, plain_text_response("ok"));
}

async_generator<std::string> endless_bytes() {
    const std::string block(1000, 'x');
    for (;;) co_yield block;
}
}  // namespace

TEST_CASE("each method helper sends its method") {
    test_client client{&site};
    CHECK(client.get("/echo").json()["method"] == "GET");
    CHECK(client.post("/echo").json()["method"] == "POST");
    CHECK(client.put("/echo").json()["method"] == "PUT");
    CHECK(client.patch("/echo").json()["method"] == "PATCH");
    CHECK(client.delete_("/echo").json()["method"] == "DELETE");
    CHECK(client.options("/echo").json()["method"] == "OPTIONS");
    CHECK(client.request("PROPFIND", "/echo").json()["method"] == "PROPFIND");
    const auto head = client.head("/echo");
    CHECK(head.status == 200);
    CHECK(head.headers.get("x-method") == "HEAD");
    CHECK(head.content.empty());
    CHECK(head.method == "HEAD");
}

TEST_CASE("requests carry httpx's default headers and no content-length without a body") {
    test_client client{&site};
    const auto j = client.get("/echo").json();
    const auto& h = j["headers"];
    CHECK(h["host"] == "testserver");
    CHECK(h["user-agent"] == "testclient");
    CHECK(h["accept"] == "*/*");
    CHECK(h["accept-encoding"] == "gzip, deflate");
    CHECK(h["connection"] == "keep-alive");
    CHECK_FALSE(h.contains("content-length"));
    CHECK_FALSE(h.contains("content-type"));
}

TEST_CASE("the client's headers go with every request and a request's own headers win") {
    test_client client{
        &site,
        client_options{.headers = {{"X-A", "client"}, {"X-B", "client"}, {"User-Agent", "suite"}}}};
    const auto j = client.get("/echo", {.headers = {{"x-b", "request"}}}).json();
    CHECK(j["headers"]["x-a"] == "client");
    CHECK(j["headers"]["x-b"] == "request");
    CHECK(j["headers"]["user-agent"] == "suite");
}

TEST_CASE("params are appended to the query, form-encoded") {
    test_client client{&site};
    const auto j = client.get("/echo?z=0", {.params = {{"q", "a b"}, {"x", "1&2"}}}).json();
    CHECK(j["query"] == "z=0&q=a+b&x=1%262");
    CHECK(j["url"] == "http://testserver/echo?z=0&q=a+b&x=1%262");
}

TEST_CASE("raw content is sent as is, with its length and no content-type") {
    test_client client{&site};
    const auto j = client.post("/echo", {.content = "raw body"}).json();
    CHECK(j["body"] == "raw body");
    CHECK(j["headers"]["content-length"] == "8");
    CHECK_FALSE(j["headers"].contains("content-type"));
    CHECK(client.post("/echo").json()["headers"]["content-length"] == "0");
}

TEST_CASE("a JSON body is compact with an application/json content-type") {
    test_client client{&site};
    const auto j = client.put("/echo", {.json = json{{"a", json::array({1, 2})}}}).json();
    CHECK(j["body"] == "{\"a\":[1,2]}");
    CHECK(j["headers"]["content-type"] == "application/json");
    CHECK(j["headers"]["content-length"] == "11");

    const auto own = client
                         .post("/echo", {.headers = {{"content-type", "application/x+json"}},
                                         .json = json{{"a", 1}}})
                         .json();
    CHECK(own["headers"]["content-type"] == "application/x+json");
}

TEST_CASE("a form body is urlencoded with its content-type") {
    test_client client{&site};
    const auto j = client.post("/echo", {.form = {{"name", "J Doe"}, {"q", "a&b=c"}}}).json();
    CHECK(j["body"] == "name=J+Doe&q=a%26b%3Dc");
    CHECK(j["headers"]["content-type"] == "application/x-www-form-urlencoded");
}

TEST_CASE("the Host header leaves out the scheme's default port") {
    test_client client{&site, client_options{.base_url = "https://example.org:443"}};
    const auto j = client.get("/echo").json();
    CHECK(j["headers"]["host"] == "example.org");
    CHECK(j["url"] == "https://example.org/echo");
    CHECK(client.get("http://example.org:80/echo").json()["headers"]["host"] == "example.org");
    CHECK(client.get("http://[::1]:8080/echo").json()["headers"]["host"] == "[::1]:8080");
}

TEST_CASE("an absolute URL target sets the Host header and the request URL") {
    test_client client{&site};
    const auto r = client.get("https://api.example.org:8443/echo");
    CHECK(r.json()["headers"]["host"] == "api.example.org:8443");
    CHECK(r.json()["url"] == "https://api.example.org:8443/echo");
    CHECK(r.url == "https://api.example.org:8443/echo");
}

TEST_CASE("a response exposes its status, reason, text, bytes, JSON, URL and method") {
    test_client client{&site};
    const auto found = client.get("/echo");
    CHECK(found.status == 200);
    CHECK(found.reason_phrase() == "OK");
    CHECK(found.text() == found.content);
    CHECK(found.json()["path"] == "/echo");
    CHECK(found.url == "http://testserver/echo");
    CHECK(found.method == "GET");
    CHECK_FALSE(found.is_redirect());

    const auto missing = client.get("/nowhere");
    CHECK(missing.status == 404);
    CHECK(missing.reason_phrase() == "Not Found");
    CHECK(missing.text() == "Not Found");
    CHECK_THROWS_AS((void)missing.json(), json_parse_error);
}

TEST_CASE("the cookie jar keeps cookies the app sets and sends them back") {
    test_client client{&site};
    const auto login = client.get("/login");
    CHECK(login.cookies() == cookie_list{{"session", "abc"}, {"theme", "dark"}});
    CHECK(client.cookies() == cookie_list{{"session", "abc"}, {"theme", "dark"}});
    const auto j = client.get("/echo").json();
    CHECK(j["cookies"] == json{{"session", "abc"}, {"theme", "dark"}});
    CHECK(j["headers"]["cookie"] == "session=abc; theme=dark");
}

// Regression: the jar stripped the quotes of a quoted cookie value but kept its escapes, and sent
// it back unquoted, so the app read `a\073b` where it had set `a;b`.
TEST_CASE("a cookie value that needs quoting survives the round trip through the jar") {
    test_client client{&site};
    const std::string original = "a;b \"c\" caf\xC3\xA9\\";
    const auto set = client.get("/odd-cookie");
    CHECK(set.cookies() == cookie_list{{"note", original}});
    CHECK(client.cookies() == cookie_list{{"note", original}});
    CHECK(client.get("/echo").json()["cookies"]["note"] == original);
}

TEST_CASE("a cookie is taken out of the jar by a zero or negative Max-Age, not by its value") {
    test_client client{&site};
    client.cookies() = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
    (void)client.get("/raw-expiry");
    CHECK(client.cookies() == cookie_list{{"c", "max-age=0"}});
}

// Regression: cookies set by a response read through stream() never reached the jar.
TEST_CASE("cookies set by a streamed response go into the jar") {
    test_client client{&site};
    {
        auto stream = client.stream("GET", "/login");
        CHECK(stream.read_all() == "welcome");
    }
    CHECK(client.cookies() == cookie_list{{"session", "abc"}, {"theme", "dark"}});
}

TEST_CASE("a deleted cookie leaves the jar") {
    test_client client{&site};
    (void)client.get("/login");
    (void)client.get("/logout");
    CHECK(client.cookies() == cookie_list{{"theme", "dark"}});
    CHECK(client.get("/echo").json()["cookies"] == json{{"theme", "dark"}});
}

TEST_CASE("per-request cookies add to and override the jar for that request only") {
    test_client client{&site};
    (void)client.get("/login");
    const auto j = client.get("/echo", {.cookies = {{"theme", "light"}, {"extra", "1"}}}).json();
    CHECK(j["cookies"] == json{{"session", "abc"}, {"theme", "light"}, {"extra", "1"}});
    CHECK(client.cookies() == cookie_list{{"session", "abc"}, {"theme", "dark"}});
    client.cookies().clear();
    CHECK(client.get("/echo").json()["cookies"] == json::object());
}

TEST_CASE("redirects are followed, keeping the history") {
    test_client client{&site};
    const auto r = client.get("/chain");
    CHECK(r.status == 200);
    CHECK(r.url == "http://testserver/echo?from=307");
    CHECK(r.json()["query"] == "from=307");
    REQUIRE(r.history.size() == 2);
    CHECK(r.history[0].status == 307);
    CHECK(r.history[0].url == "http://testserver/chain");
    CHECK(r.history[1].status == 307);
    CHECK(r.history[1].url == "http://testserver/redirect-307");
    CHECK(r.history[1].headers.get("location") == "/echo?from=307");
}

TEST_CASE("a relative redirect location resolves against the request path") {
    test_client client{&site};
    const auto r = client.get("/relative/start");
    CHECK(r.url == "http://testserver/echo");
    CHECK(r.json()["path"] == "/echo");
}

TEST_CASE("a query-only redirect keeps the path, and a URL inside the query stays a query") {
    test_client client{&site};
    const auto paged = client.get("/search");
    CHECK(paged.url == "http://testserver/search?page=2");
    CHECK(paged.json()["query"] == "page=2");
    const auto login = client.get("/to-login");
    CHECK(login.url == "http://testserver/echo?next=http://testserver/x");
    CHECK(login.json()["query"] == "next=http://testserver/x");
}

TEST_CASE("a 303 turns the followed request into a GET without a body") {
    test_client client{&site};
    const auto r = client.post("/redirect-303", {.json = json{{"a", 1}}});
    const auto j = r.json();
    CHECK(j["method"] == "GET");
    CHECK(j["body"] == "");
    CHECK_FALSE(j["headers"].contains("content-type"));
    CHECK_FALSE(j["headers"].contains("content-length"));
    CHECK(r.history.at(0).method == "POST");
}

TEST_CASE("a 301 or 302 after a POST is followed with a GET") {
    test_client client{&site};
    CHECK(client.post("/redirect-301", {.content = "x"}).json()["method"] == "GET");
    CHECK(client.post("/redirect-302", {.content = "x"}).json()["method"] == "GET");
    CHECK(client.put("/redirect-302", {.content = "x"}).json()["method"] == "PUT");
}

TEST_CASE("a 307 or 308 repeats the method and the body") {
    test_client client{&site};
    for (const char* target : {"/redirect-307", "/redirect-308"}) {
        CAPTURE(target);
        const auto j = client.post(target, {.json = json{{"a", 1}}}).json();
        CHECK(j["method"] == "POST");
        CHECK(j["body"] == "{\"a\":1}");
        CHECK(j["headers"]["content-type"] == "application/json");
    }
}

TEST_CASE("redirects are not followed when the request or the client says so") {
    test_client client{&site};
    const auto once = client.get("/redirect-307", {.follow_redirects = false});
    CHECK(once.status == 307);
    CHECK(once.is_redirect());
    CHECK(once.history.empty());

    test_client manual{&site, client_options{.follow_redirects = false}};
    CHECK(manual.get("/redirect-307").status == 307);
    CHECK(manual.get("/redirect-307", {.follow_redirects = true}).status == 200);
}

TEST_CASE("too many redirects raise") {
    test_client client{&site, client_options{.max_redirects = 3}};
    CHECK_THROWS_AS(client.get("/loop"), std::runtime_error);
}

TEST_CASE("cookies set by a redirect response are sent on the followed request") {
    test_client client{&site};
    CHECK(client.get("/set-and-redirect").json()["cookies"] == json{{"visited", "yes"}});
}

TEST_CASE("the root_path option prefixes the path once, at a segment boundary") {
    test_client client{&site, client_options{.root_path = "/api"}};
    const auto plain = client.get("/echo").json();
    CHECK(plain["path"] == "/api/echo");
    CHECK(plain["url"] == "http://testserver/api/echo");
    CHECK(client.get("/api/echo").json()["path"] == "/api/echo");
    // Regression: "/apiary" starts with "/api" but is not under it.
    CHECK(client.get("/apiary").json()["path"] == "/api/apiary");
}

TEST_CASE("a client needs an app and an absolute base URL") {
    CHECK_THROWS_AS(test_client(any_app{}), std::invalid_argument);
    CHECK_THROWS_AS(test_client(&site, client_options{.base_url = "/relative"}),
                    std::invalid_argument);
}

TEST_CASE("server exceptions are re-raised by default") {
    test_client client{&throws};
    CHECK_THROWS_WITH_AS(client.get("/"), "handler exploded", std::runtime_error);
}

TEST_CASE("server exceptions become a 500 when raising is off") {
    test_client client{&throws, client_options{.raise_server_exceptions = false}};
    const auto r = client.get("/");
    CHECK(r.status == 500);
    CHECK(r.text() == "Internal Server Error");
    CHECK(r.headers.get("content-type") == "text/plain; charset=utf-8");
}

TEST_CASE("an app that returns without responding is a protocol error, or a 500") {
    test_client raising{&never_responds};
    CHECK_THROWS_AS(raising.get("/"), protocol_error);
    test_client lenient{&never_responds, client_options{.raise_server_exceptions = false}};
    CHECK(lenient.get("/").status == 500);
}

TEST_CASE("an app that sends a body before the start is a protocol error, or a 500") {
    test_client raising{&body_before_start};
    CHECK_THROWS_AS(raising.get("/"), protocol_error);
    test_client lenient{&body_before_start, client_options{.raise_server_exceptions = false}};
    CHECK(lenient.get("/").status == 500);
}

TEST_CASE("an app that starts its response twice is a protocol error") {
    test_client client{&starts_twice};
    CHECK_THROWS_AS(client.get("/"), protocol_error);
}

TEST_CASE("a request that never completes times out and the app is torn down") {
    int unwound = 0;
    test_client client{hangs{&unwound}, client_options{.timeout = 20ms}};
    CHECK_THROWS_AS(client.get("/"), test_timeout);
    CHECK(unwound == 1);
}

TEST_CASE("a request's own timeout bounds it") {
    int unwound = 0;
    test_client client{hangs{&unwound}};
    CHECK_THROWS_AS(client.get("/", {.timeout = 20ms}), test_timeout);
    CHECK(unwound == 1);
}

TEST_CASE("a stream whose next chunk does not come in time raises test_timeout") {
    int unwound = 0;
    test_client client{hangs{&unwound, true}, client_options{.timeout = 20ms}};
    auto stream = client.stream("GET", "/");
    CHECK(stream.status() == 200);
    CHECK_THROWS_AS((void)stream.next_chunk(10ms), test_timeout);
    stream.close();
    CHECK(unwound == 1);
}

// Regression: the rest of the request body was still delivered after the client had gone.
TEST_CASE("after the client goes, receive yields a disconnect instead of the rest of the body") {
    std::vector<std::string> log;
    test_client client{slow_body_reader{&log}};
    {
        auto stream = client.stream("POST", "/", {.content = "abcdef", .body_chunk_size = 2});
        CHECK(stream.next_chunk() == "started");
        stream.close();
    }
    CHECK(log == std::vector<std::string>{"ab", "http.disconnect"});
}

TEST_CASE("stream re-raises an app's exception raised before the response started") {
    test_client client{&throws};
    CHECK_THROWS_WITH_AS((void)client.stream("GET", "/"), "handler exploded", std::runtime_error);
}

// Regression: stream() turned an app that never responded into a silent 500 even with
// raise_server_exceptions on, unlike request().
TEST_CASE("stream reports an app that returns without responding like request does") {
    test_client raising{&never_responds};
    CHECK_THROWS_AS((void)raising.stream("GET", "/"), protocol_error);
    test_client lenient{&never_responds, client_options{.raise_server_exceptions = false}};
    auto stream = lenient.stream("GET", "/");
    CHECK(stream.status() == 500);
    CHECK(stream.read_all() == "Internal Server Error");
}

// Regression: a response larger than max_response_bytes came back as a truncated 200.
TEST_CASE("a response larger than max_response_bytes raises instead of being truncated") {
    test_client client{streaming_response(endless_bytes()),
                       client_options{.max_response_bytes = 10'000}};
    CHECK_THROWS_WITH_AS(client.get("/"), doctest::Contains("max_response_bytes"),
                         std::runtime_error);
}

namespace {
// A file body (http.response.file), optionally after some body bytes and with the app's own
// content-length or transfer-encoding.
struct file_answer {
    std::string path;
    std::uint64_t offset = 0;
    std::optional<std::uint64_t> length;
    std::string before;  // body bytes sent ahead of the file
    headers fields;

    task<void> operator()(scope& s, receive, tessera::send sd) const {
        if (s.type != scope_type::http) co_return;
        co_await sd(http::response_start{200, fields});
        if (!before.empty()) co_await sd(http::response_body{before, true});
        co_await sd(http::response_file{path, offset, length});
    }
};
}  // namespace

TEST_CASE("a file body arrives with the content-length the server gives a head without one") {
    const test_support::temp_dir dir;
    const std::string path = dir.file("ten.txt");
    std::ofstream(path, std::ios::binary) << "0123456789";
    SUBCASE("the whole file") {
        test_client client{file_answer{.path = path}};
        const auto r = client.get("/");
        CHECK(r.text() == "0123456789");
        CHECK(r.headers.get_all("content-length") == std::vector<std::string_view>{"10"});
    }
    SUBCASE("a range") {
        test_client client{file_answer{.path = path, .offset = 2, .length = 3}};
        const auto r = client.get("/");
        CHECK(r.text() == "234");
        CHECK(r.headers.get_all("content-length") == std::vector<std::string_view>{"3"});
    }
    SUBCASE("the app's transfer-encoding gives way, as the server replaces its framing") {
        test_client client{file_answer{.path = path,
                                       .fields = headers{{"transfer-encoding", "chunked"}}}};
        const auto r = client.get("/");
        CHECK(r.text() == "0123456789");
        CHECK_FALSE(r.headers.contains("transfer-encoding"));
        CHECK(r.headers.get("content-length") == "10");
    }
    SUBCASE("the app's own content-length is kept, once") {
        test_client client{file_answer{.path = path,
                                       .fields = headers{{"content-length", "10"}}}};
        const auto r = client.get("/");
        CHECK(r.text() == "0123456789");
        CHECK(r.headers.get_all("content-length") == std::vector<std::string_view>{"10"});
    }
    SUBCASE("after body bytes the length is not the file's: none is added (chunked)") {
        test_client client{file_answer{.path = path, .before = "ab"}};
        const auto r = client.get("/");
        CHECK(r.text() == "ab0123456789");
        CHECK_FALSE(r.headers.contains("content-length"));
    }
}

TEST_CASE("lifespan startup runs before requests, shares its state, and shutdown runs at the end") {
    std::vector<std::string> log;
    test_client client{lifespan_app{&log}};
    {
        auto life = client.lifespan();
        CHECK(life.supported());
        CHECK(log == std::vector<std::string>{"startup"});
        CHECK(client.get("/").json()["db"] == "connected");
        CHECK(client.app_state()->get<std::string>("db") == "connected");
        CHECK(log == std::vector<std::string>{"startup", "request"});
    }
    CHECK(log == std::vector<std::string>{"startup", "request", "shutdown"});
}

TEST_CASE("an explicit lifespan shutdown runs once") {
    std::vector<std::string> log;
    test_client client{lifespan_app{&log}};
    {
        auto life = client.lifespan();
        life.shutdown();
        CHECK(log == std::vector<std::string>{"startup", "shutdown"});
    }
    CHECK(log == std::vector<std::string>{"startup", "shutdown"});
}

TEST_CASE("a failed lifespan startup raises lifespan_error with the app's message") {
    std::vector<std::string> log;
    test_client client{lifespan_app{&log, "no database"}};
    CHECK_THROWS_WITH_AS((void)client.lifespan(), "no database", lifespan_error);
}

TEST_CASE("a failed lifespan shutdown raises lifespan_error from shutdown()") {
    std::vector<std::string> log;
    test_client client{lifespan_app{&log, "", "flush failed"}};
    auto life = client.lifespan();
    CHECK_THROWS_WITH_AS(life.shutdown(), "flush failed", lifespan_error);
}

// Regression: a lifespan that raised during shutdown passed silently.
TEST_CASE("a lifespan that raises during shutdown raises lifespan_error from shutdown()") {
    test_client client{&crashes_on_shutdown};
    auto life = client.lifespan();
    CHECK(life.supported());
    CHECK(client.get("/").text() == "ok");
    CHECK_THROWS_WITH_AS(life.shutdown(), doctest::Contains("cleanup crashed"), lifespan_error);
}

TEST_CASE("an app that does not support lifespans is tolerated") {
    test_client client{&http_only};
    auto life = client.lifespan();
    CHECK_FALSE(life.supported());
    CHECK(client.get("/").text() == "http");
}

TEST_CASE("without a lifespan, requests share the client's app state") {
    test_client client{&count_hits};
    CHECK(client.get("/").json()["hits"] == 1);
    CHECK(client.get("/").json()["hits"] == 2);
    CHECK(client.app_state()->get<int>("hits") == 2);
}
