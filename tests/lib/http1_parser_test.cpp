#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "tessera/http1_parser.hpp"

using namespace std::string_literals;
using tessera::http1::body_kind;
using tessera::http1::event_kind;
using tessera::http1::parser_limits;
using tessera::http1::request_parser;
using tessera::http1::target_form;

namespace {

using field_list = std::vector<std::pair<std::string, std::string>>;

// An owned copy of a request head, so outcomes of different runs can be compared.
struct head_copy {
    std::string method, target, path, query, scheme, authority, host, upgrade_protocols;
    target_form form{};
    int version_minor = 0;
    field_list headers;
    body_kind body{};
    std::uint64_t content_length = 0;
    bool keep_alive = false, expect_continue = false, upgrade = false;
    bool operator==(const head_copy&) const = default;
};

// Everything a run produced, normalised: adjacent body pieces merged, so that any split of the
// input must give an equal outcome.
struct outcome {
    std::vector<std::string> events;  // "head", "body", "trailers", "complete", "upgrade", "error"
    std::vector<head_copy> heads;
    std::vector<std::string> bodies;  // one per message that had body bytes
    std::vector<field_list> trailers;
    int status = 0;  // the error's status, 0 when none
    std::string rest;  // bytes left unconsumed (after an upgrade: everything not HTTP)
    bool operator==(const outcome&) const = default;
};

field_list copy_fields(std::span<const tessera::http1::header_view> fields) {
    field_list out;
    for (const auto& f : fields) out.emplace_back(std::string(f.name), std::string(f.value));
    return out;
}

// Feeds `input` in pieces of `step` bytes (0: all at once) the way a server does: keep the
// unconsumed bytes, append what arrives, parse until `need_more`.
outcome run(const std::string& input, std::size_t step = 0, parser_limits limits = {}) {
    request_parser parser(limits);
    outcome out;
    std::string pending;
    if (step == 0) step = input.size() == 0 ? 1 : input.size();
    bool stopped = false;
    std::size_t fed = 0;
    while (fed < input.size() && !stopped) {
        pending.append(input, fed, step);
        fed += std::min(step, input.size() - fed);
        while (true) {
            const auto r = parser.parse(pending);
            REQUIRE(r.consumed <= pending.size());
            bool stop = false;
            switch (r.kind) {
                case event_kind::need_more: break;
                case event_kind::head: {
                    const auto& h = parser.head();
                    out.events.push_back("head");
                    out.heads.push_back(head_copy{
                        std::string(h.method), std::string(h.target), std::string(h.path),
                        std::string(h.query), std::string(h.scheme), std::string(h.authority),
                        std::string(h.host), std::string(h.upgrade_protocols), h.form,
                        h.version_minor, copy_fields(h.headers), h.body, h.content_length,
                        h.keep_alive, h.expect_continue, h.upgrade});
                    break;
                }
                case event_kind::body:
                    if (out.events.empty() || out.events.back() != "body") {
                        out.events.push_back("body");
                        out.bodies.emplace_back();
                    }
                    out.bodies.back() += r.body;
                    break;
                case event_kind::trailers:
                    out.events.push_back("trailers");
                    out.trailers.push_back(copy_fields(parser.trailers()));
                    break;
                case event_kind::message_complete: out.events.push_back("complete"); break;
                case event_kind::upgrade:
                    out.events.push_back("upgrade");
                    stop = true;
                    break;
                case event_kind::error:
                    out.events.push_back("error");
                    out.status = parser.error().status;
                    CHECK(parser.error().close);
                    CHECK_FALSE(parser.error().reason.empty());
                    stop = true;
                    break;
            }
            pending.erase(0, r.consumed);
            if (stop) {
                stopped = true;
                break;
            }
            if (r.kind == event_kind::need_more) break;
        }
    }
    if (out.events.empty() || out.events.back() != "error") {
        out.rest = pending + input.substr(fed);
    }
    return out;
}

// Parses all at once and byte by byte (and in a few other splits) and checks they agree.
outcome parse(const std::string& input, parser_limits limits = {}) {
    const outcome whole = run(input, 0, limits);
    for (const std::size_t step : {1, 2, 3, 7, 64}) {
        const outcome split = run(input, step, limits);
        CHECK_MESSAGE(split == whole, "feeding " << step << " byte(s) at a time differs");
    }
    return whole;
}

int status_of(const std::string& input, parser_limits limits = {}) {
    return parse(input, limits).status;
}

const std::vector<std::string> head_complete = {"head", "complete"};

}  // namespace

TEST_CASE("a GET in origin-form gives its method, path, query, version and headers in order") {
    const auto o = parse(
        "GET /items/42?sort=asc&x=%20 HTTP/1.1\r\n"
        "Host: example.com\r\n"
        "User-Agent:   curl/8.0  \r\n"
        "X-Empty:\r\n"
        "X-Dup: 1\r\n"
        "x-dup: 2\r\n"
        "\r\n");
    REQUIRE(o.events == head_complete);
    const auto& h = o.heads[0];
    CHECK(h.method == "GET");
    CHECK(h.target == "/items/42?sort=asc&x=%20");
    CHECK(h.path == "/items/42");
    CHECK(h.query == "sort=asc&x=%20");
    CHECK(h.form == target_form::origin);
    CHECK(h.version_minor == 1);
    CHECK(h.host == "example.com");
    CHECK(h.headers == field_list{{"Host", "example.com"},
                                  {"User-Agent", "curl/8.0"},
                                  {"X-Empty", ""},
                                  {"X-Dup", "1"},
                                  {"x-dup", "2"}});
    CHECK(h.body == body_kind::none);
    CHECK(h.keep_alive);
    CHECK_FALSE(h.expect_continue);
    CHECK_FALSE(h.upgrade);
    CHECK(o.rest.empty());
}

TEST_CASE("a path without a query has an empty query, and a bare '?' too") {
    CHECK(parse("GET /a HTTP/1.1\r\nHost: h\r\n\r\n").heads[0].query.empty());
    const auto o = parse("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(o.heads[0].path == "/a");
    CHECK(o.heads[0].query.empty());
}

TEST_CASE("head views and body pieces point into the caller's buffer") {
    const std::string input = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    request_parser parser;
    const auto inside = [&](std::string_view v) {
        return v.data() >= input.data() && v.data() + v.size() <= input.data() + input.size();
    };
    auto r = parser.parse(input);
    REQUIRE(r.kind == event_kind::head);
    CHECK(inside(parser.head().method));
    CHECK(inside(parser.head().path));
    CHECK(inside(parser.head().headers[1].value));
    CHECK(r.consumed == input.size() - 5);
    const std::string_view rest = std::string_view(input).substr(r.consumed);
    r = parser.parse(rest);
    REQUIRE(r.kind == event_kind::body);
    CHECK(r.body == "hello");
    CHECK(r.body.data() == rest.data());
    CHECK(parser.parse(rest.substr(r.consumed)).kind == event_kind::message_complete);
}

TEST_CASE("an incomplete head is not consumed, and the parser resumes where it stopped") {
    request_parser parser;
    std::string buf = "GET / HTTP/1.1\r\nHost: h\r\n";
    auto r = parser.parse(buf);
    CHECK(r.kind == event_kind::need_more);
    CHECK(r.consumed == 0);
    CHECK_FALSE(parser.idle());
    // The kept bytes may move: a new buffer with the same contents works.
    std::string moved = buf + "\r\n";
    r = parser.parse(moved);
    REQUIRE(r.kind == event_kind::head);
    CHECK(r.consumed == moved.size());
    CHECK(parser.head().headers[0].value == "h");
}

TEST_CASE("the parser is idle before a request and again after one completes") {
    request_parser parser;
    CHECK(parser.idle());
    std::string_view in = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    auto r = parser.parse(in);
    CHECK_FALSE(parser.idle());
    r = parser.parse(in.substr(r.consumed));
    CHECK(r.kind == event_kind::message_complete);
    CHECK(parser.idle());
    CHECK(parser.parse({}).kind == event_kind::need_more);
}

TEST_CASE("pipelined requests in one buffer come out in order") {
    const auto o = parse(
        "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
        "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
        "PUT /three HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\nxy\r\n0\r\n\r\n"
        "GET /four HTTP/1.1\r\nHost: h\r\n\r\nGET /fi");
    CHECK(o.events == std::vector<std::string>{"head", "complete", "head", "body", "complete",
                                               "head", "body", "complete", "head", "complete"});
    REQUIRE(o.heads.size() == 4);
    CHECK(o.heads[0].path == "/one");
    CHECK(o.heads[1].path == "/two");
    CHECK(o.heads[2].path == "/three");
    CHECK(o.heads[3].path == "/four");
    CHECK(o.bodies == std::vector<std::string>{"abc", "xy"});
    CHECK(o.rest == "GET /fi");
}

TEST_CASE("every split of a mixed input gives the same events as parsing it whole") {
    const std::string input =
        "\r\nPOST /up?x=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip , chunked\r\n\r\n";
    const std::string chunked =
        "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "a;name=\"v\"\r\n0123456789\r\n3 ; e\r\nabc\r\n0\r\nX-Sum: 1\r\nX-T:\t2 \r\n\r\n"
        "POST /l HTTP/1.0\r\nContent-Length: 4\r\nConnection: keep-alive\r\n\r\nbody"
        "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        "\x81\x85raw";
    const outcome whole = run(chunked);
    for (std::size_t step = 1; step <= chunked.size(); ++step) {
        REQUIRE_MESSAGE(run(chunked, step) == whole, "step " << step);
    }
    CHECK(whole.events == std::vector<std::string>{"head", "body", "trailers", "complete", "head",
                                                   "body", "complete", "head", "complete",
                                                   "upgrade"});
    CHECK(whole.bodies == std::vector<std::string>{"0123456789abc", "body"});
    CHECK(whole.rest == "\x81\x85raw");
    CHECK(parse(input).status == 501);
}

TEST_CASE("a Content-Length body is streamed as it arrives") {
    request_parser parser;
    std::string_view in = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123";
    auto r = parser.parse(in);
    REQUIRE(r.kind == event_kind::head);
    CHECK(parser.head().body == body_kind::content_length);
    CHECK(parser.head().content_length == 10);
    in.remove_prefix(r.consumed);
    r = parser.parse(in);
    CHECK(r.kind == event_kind::body);
    CHECK(r.body == "0123");
    CHECK(r.consumed == 4);
    r = parser.parse("");
    CHECK(r.kind == event_kind::need_more);
    r = parser.parse("456789GET");
    CHECK(r.body == "456789");
    CHECK(r.consumed == 6);
    CHECK(parser.parse("GET").kind == event_kind::message_complete);
}

TEST_CASE("Content-Length: 0 means no body events") {
    const auto o = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    CHECK(o.events == head_complete);
    CHECK(o.heads[0].body == body_kind::none);
}

TEST_CASE("absolute-form exposes the scheme, the authority and the path with its query") {
    auto o = parse("GET http://example.com:8080/a/b?q=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    REQUIRE(o.events == head_complete);
    CHECK(o.heads[0].form == target_form::absolute);
    CHECK(o.heads[0].scheme == "http");
    CHECK(o.heads[0].authority == "example.com:8080");
    CHECK(o.heads[0].path == "/a/b");
    CHECK(o.heads[0].query == "q=1");

    o = parse("GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
    CHECK(o.heads[0].path == "/");
    CHECK(o.heads[0].scheme == "HTTPS");
    o = parse("GET http://example.com?x HTTP/1.1\r\nHost: example.com\r\n\r\n");
    CHECK(o.heads[0].path == "/");
    CHECK(o.heads[0].query == "x");
}

TEST_CASE("absolute-form rejects other schemes, userinfo and empty authorities") {
    CHECK(status_of("GET ftp://example.com/ HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET http://user:pw@example.com/ HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET http:///path HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET http:example.com HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET example.com HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
}

TEST_CASE("authority-form is accepted for CONNECT and only for it") {
    const auto o = parse("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    REQUIRE(o.events == head_complete);
    CHECK(o.heads[0].form == target_form::authority);
    CHECK(o.heads[0].authority == "example.com:443");
    CHECK(o.heads[0].path.empty());
    CHECK(parse("CONNECT [::1]:8443 HTTP/1.1\r\nHost: h\r\n\r\n").status == 0);
    CHECK(status_of("CONNECT /path HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("CONNECT example.com HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("CONNECT example.com: HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
}

TEST_CASE("asterisk-form is accepted for OPTIONS and only for it") {
    const auto o = parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    REQUIRE(o.events == head_complete);
    CHECK(o.heads[0].form == target_form::asterisk);
    CHECK(o.heads[0].path == "*");
    CHECK(status_of("GET * HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
}

TEST_CASE("HTTP/1.0 needs no Host and keeps the connection only when asked") {
    auto o = parse("GET / HTTP/1.0\r\n\r\n");
    REQUIRE(o.events == head_complete);
    CHECK(o.heads[0].version_minor == 0);
    CHECK_FALSE(o.heads[0].keep_alive);
    o = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    CHECK(o.heads[0].keep_alive);
    o = parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
    CHECK_FALSE(o.heads[0].keep_alive);
}

TEST_CASE("HTTP/1.1 keeps the connection unless Connection lists close") {
    CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n").heads[0].keep_alive);
    CHECK_FALSE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, CLOSE\r\n\r\n")
                    .heads[0]
                    .keep_alive);
    CHECK_FALSE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: x\r\nConnection: close\r\n\r\n")
                    .heads[0]
                    .keep_alive);
}

TEST_CASE("the version must be HTTP/1.x exactly; other majors get 505") {
    CHECK(status_of("GET / HTTP/2.0\r\nHost: h\r\n\r\n") == 505);
    CHECK(status_of("GET / HTTP/0.9\r\nHost: h\r\n\r\n") == 505);
    CHECK(status_of("GET / HTTP/1.10\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET / http/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1 \r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET /\r\nHost: h\r\n\r\n") == 400);
}

TEST_CASE("a higher HTTP/1 minor version is processed as HTTP/1.1") {
    const auto o = parse("GET / HTTP/1.2\r\nHost: h\r\n\r\n");
    REQUIRE(o.events == head_complete);
    CHECK(o.heads[0].version_minor == 1);
}

TEST_CASE("the request line needs single spaces, a token method and a visible target") {
    CHECK(status_of("GET  / HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET /  HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of(" GET / HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("G(T / HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n"s) == 400);
    CHECK(status_of("GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    // Methods are case-sensitive tokens: an unusual one is the app's business.
    CHECK(parse("purge /x HTTP/1.1\r\nHost: h\r\n\r\n").heads[0].method == "purge");
}

TEST_CASE("a bare LF anywhere in the head is rejected with 400") {
    CHECK(status_of("GET / HTTP/1.1\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\n\n") == 400);
    CHECK(status_of("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n") == 400);
}

TEST_CASE("a few empty lines before the request line are ignored, too many are rejected") {
    const auto o = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(o.events == head_complete);
    parser_limits limits;
    limits.max_empty_lines = 2;
    CHECK(status_of("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", limits) == 0);
    CHECK(status_of("\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", limits) == 400);
}

TEST_CASE("a field name must be a token directly followed by a colon") {
    CHECK(status_of("GET / HTTP/1.1\r\nHost : h\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX-A\t: 1\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX[1]: v\r\n\r\n") == 400);
}

TEST_CASE("obs-fold and whitespace before the first field are rejected") {
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\t2\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\n Host: h\r\n\r\n") == 400);
}

TEST_CASE("control characters in a field value are rejected, HTAB and obs-text are kept") {
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n"s) == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01" "b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f" "b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: 0123456789abcdef\x1b" "0123\r\n\r\n") ==
          400);
    const auto o =
        parse("GET / HTTP/1.1\r\nHost: h\r\nX: \ta\tb  caf\xc3\xa9 long value with spaces\t\r\n\r\n");
    REQUIRE(o.events == head_complete);
    CHECK(o.heads[0].headers[1].second == "a\tb  caf\xc3\xa9 long value with spaces");
}

TEST_CASE("HTTP/1.1 needs exactly one valid Host") {
    CHECK(status_of("GET / HTTP/1.1\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n") == 400);
    CHECK(parse("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").heads[0].host == "[::1]:8080");
    CHECK(parse("GET / HTTP/1.1\r\nHost:\r\n\r\n").status == 0);
}

TEST_CASE("Content-Length must be digits; identical repeats are accepted, others are not") {
    const auto cl = [](const std::string& v) {
        return "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: " + v + "\r\n\r\n";
    };
    CHECK(parse(cl("5") + "hello").bodies == std::vector<std::string>{"hello"});
    CHECK(parse(cl(" 5 ") + "hello").bodies == std::vector<std::string>{"hello"});
    CHECK(parse(cl("5, 5") + "hello").bodies == std::vector<std::string>{"hello"});
    CHECK(parse(cl("0005") + "hello").bodies == std::vector<std::string>{"hello"});
    CHECK(status_of(cl("+5")) == 400);
    CHECK(status_of(cl("-1")) == 400);
    CHECK(status_of(cl("0x10")) == 400);
    CHECK(status_of(cl("5 5")) == 400);
    CHECK(status_of(cl("5, 6")) == 400);
    CHECK(status_of(cl("5,")) == 400);
    CHECK(status_of(cl("")) == 400);
    CHECK(status_of(cl("1e3")) == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") ==
          400);
    CHECK(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok")
              .bodies == std::vector<std::string>{"ok"});
}

TEST_CASE("a Content-Length that overflows 64 bits is 400, a huge valid one is 413") {
    const auto cl = [](const std::string& v) {
        return "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: " + v + "\r\n\r\n";
    };
    CHECK(status_of(cl("18446744073709551616")) == 400);
    CHECK(status_of(cl("99999999999999999999999")) == 400);
    CHECK(status_of(cl("18446744073709551615")) == 413);
}

TEST_CASE("a body over the limit is refused with 413 as soon as its length is known") {
    parser_limits limits;
    limits.max_body = 10;
    request_parser parser(limits);
    const auto r = parser.parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n");
    CHECK(r.kind == event_kind::error);
    CHECK(parser.error().status == 413);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", limits) ==
          0);
}

TEST_CASE("Content-Length together with Transfer-Encoding is a smuggling attempt: 400") {
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n") == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                    "Content-Length: 3\r\n\r\n") == 400);
}

TEST_CASE("Transfer-Encoding accepts chunked only as the single final coding") {
    const auto te = [](const std::string& v) {
        return "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + v + "\r\n\r\n0\r\n\r\n";
    };
    CHECK(parse(te("chunked")).events == std::vector<std::string>{"head", "complete"});
    CHECK(parse(te("Chunked")).heads[0].body == body_kind::chunked);
    CHECK(parse(te(" chunked ")).heads[0].body == body_kind::chunked);
    CHECK(status_of(te("chunked, chunked")) == 400);
    CHECK(status_of(te("chunked, gzip")) == 400);
    CHECK(status_of(te("gzip")) == 400);
    CHECK(status_of(te("identity")) == 400);
    CHECK(status_of(te("xchunked")) == 400);
    CHECK(status_of(te("chunked;x=y")) == 400);
    CHECK(status_of(te("chunked,")) == 400);
    CHECK(status_of(te("")) == 400);
    CHECK(status_of(te("\"chunked\"")) == 400);
    CHECK(status_of(te("gzip, chunked")) == 501);
    CHECK(status_of(te("gzip;level=1, chunked")) == 501);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n") == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 501);
}

TEST_CASE("Transfer-Encoding smuggling variants are rejected") {
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n") == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n") == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: x\r\n\tchunked\r\n\r\n") ==
          400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\x0b\r\n\r\n") == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer_Encoding: chunked\r\n"
                    "Content-Length: 0\r\n\r\n") == 0);  // not the same field: a plain header
}

TEST_CASE("Transfer-Encoding in an HTTP/1.0 request is rejected") {
    CHECK(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400);
}

TEST_CASE("chunk sizes are hex, extensions are skipped and trailers are exposed") {
    const auto o = parse(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "A\r\n0123456789\r\n"
        "1f;ext=1;quoted=\"a b\"\r\nabcdefghijklmnopqrstuvwxyz01234\r\n"
        "2 ;x\r\nyz\r\n"
        "000\r\n"
        "Checksum: abc \r\nX-Other:1\r\n\r\n");
    CHECK(o.events == std::vector<std::string>{"head", "body", "trailers", "complete"});
    CHECK(o.bodies[0] == "0123456789abcdefghijklmnopqrstuvwxyz01234yz");
    CHECK(o.trailers[0] == field_list{{"Checksum", "abc"}, {"X-Other", "1"}});
}

TEST_CASE("a malformed chunk size line is rejected") {
    const auto body = [](const std::string& chunks) {
        return "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks;
    };
    CHECK(status_of(body("g\r\n")) == 400);
    CHECK(status_of(body("\r\n")) == 400);
    CHECK(status_of(body(";ext\r\n")) == 400);
    CHECK(status_of(body("-1\r\n")) == 400);
    CHECK(status_of(body("0x5\r\n")) == 400);
    CHECK(status_of(body("5 \r\nhello\r\n")) == 400);  // BWS only before ';'
    CHECK(status_of(body("5\nhello\r\n")) == 400);
    CHECK(status_of(body("5\rhello\r\n")) == 400);
    CHECK(status_of(body("5;a\x01\r\nhello\r\n")) == 400);
    CHECK(status_of(body("5;a\nhello\r\n")) == 400);
    CHECK(status_of(body("5\r\nhelloX\r\n")) == 400);
    CHECK(status_of(body("5\r\nhello\rX")) == 400);
    CHECK(status_of(body("5\r\nhello\n0\r\n\r\n")) == 400);
}

TEST_CASE("a chunk size that overflows 64 bits is 400, a huge valid one is 413") {
    const auto body = [](const std::string& chunks) {
        return "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks;
    };
    CHECK(status_of(body("10000000000000000\r\n")) == 400);
    CHECK(status_of(body("ffffffffffffffff\r\n")) == 413);
    CHECK(status_of(body("0000000000000000000000005\r\nhello\r\n0\r\n\r\n")) == 0);
}

TEST_CASE("a chunked body growing past the limit is refused with 413") {
    parser_limits limits;
    limits.max_body = 8;
    const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK(status_of(head + "4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n", limits) == 0);
    const auto o = parse(head + "4\r\nabcd\r\n5\r\nefghi\r\n0\r\n\r\n", limits);
    CHECK(o.status == 413);
    CHECK(o.bodies == std::vector<std::string>{"abcd"});
}

TEST_CASE("a long chunk extension is refused") {
    parser_limits limits;
    limits.max_chunk_extension = 16;
    const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK(status_of(head + "1;" + std::string(16, 'a') + "\r\nx\r\n0\r\n\r\n", limits) == 400);
    CHECK(status_of(head + "1;" + std::string(15, 'a') + "\r\nx\r\n0\r\n\r\n", limits) == 0);
}

TEST_CASE("trailers follow the header rules and limits") {
    const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
    CHECK(status_of(head + "X: 1\n\r\n") == 400);
    CHECK(status_of(head + "X: 1\r\n 2\r\n\r\n") == 400);
    CHECK(status_of(head + "X : 1\r\n\r\n") == 400);
    CHECK(status_of(head + "X: \x01\r\n\r\n") == 400);
    parser_limits limits;
    limits.max_headers = 2;
    CHECK(status_of(head + "A: 1\r\nB: 2\r\n\r\n", limits) == 0);
    CHECK(status_of(head + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits) == 431);
    limits = {};
    limits.max_header_bytes = 64;
    CHECK(status_of(head + "A: " + std::string(100, 'x') + "\r\n\r\n", limits) == 431);
    CHECK(status_of(head + "A: " + std::string(100, 'x'), limits) == 431);
}

TEST_CASE("a request line over the limit is 414, even before its end arrives") {
    parser_limits limits;
    limits.max_request_line = 32;
    const auto line = [](std::size_t n) {
        const std::string prefix = "GET /";
        const std::string suffix = " HTTP/1.1";
        return prefix + std::string(n - prefix.size() - suffix.size(), 'a') + suffix;
    };
    CHECK(status_of(line(32) + "\r\nHost: h\r\n\r\n", limits) == 0);
    CHECK(status_of(line(33) + "\r\nHost: h\r\n\r\n", limits) == 414);
    CHECK(status_of("GET /" + std::string(100, 'a'), limits) == 414);
    CHECK(status_of("GET /" + std::string(8 * 1024, 'a')) == 414);
}

TEST_CASE("a header section over the limit is 431, even before its end arrives") {
    parser_limits limits;
    limits.max_header_bytes = 64;
    const std::string line = "GET / HTTP/1.1\r\n";
    const std::string host = "Host: h\r\n";  // 9 bytes
    const std::string fill = "X: " + std::string(64 - 9 - 2 - 5, 'a') + "\r\n";
    CHECK(status_of(line + host + fill + "\r\n", limits) == 0);
    CHECK(status_of(line + host + "X: " + std::string(64 - 9 - 2 - 4, 'a') + "\r\n\r\n", limits) ==
          431);
    CHECK(status_of(line + host + "X: " + std::string(200, 'a'), limits) == 431);
    CHECK(status_of(line + "X: " + std::string(70 * 1024, 'a')) == 431);
}

TEST_CASE("more header fields than the limit is 431") {
    parser_limits limits;
    limits.max_headers = 3;
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", limits) == 0);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits) == 431);
    std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 100; ++i) many += "X: 1\r\n";
    CHECK(status_of(many + "\r\n") == 431);
}

TEST_CASE("Expect: 100-continue is exposed on HTTP/1.1 requests only") {
    CHECK(parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx")
              .heads[0]
              .expect_continue);
    CHECK_FALSE(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx")
                    .heads[0]
                    .expect_continue);
    CHECK_FALSE(parse("GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n")
                    .heads[0]
                    .expect_continue);
}

TEST_CASE("an upgrade request pauses the parser and leaves the following bytes raw") {
    const std::string input =
        "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
        "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\x02hi";
    const auto o = parse(input);
    CHECK(o.events == std::vector<std::string>{"head", "complete", "upgrade"});
    CHECK(o.heads[0].upgrade);
    CHECK(o.heads[0].upgrade_protocols == "websocket");
    CHECK(o.rest == "\x81\x02hi");

    request_parser parser;
    std::string_view in = input;
    in.remove_prefix(parser.parse(in).consumed);
    CHECK(parser.parse(in).kind == event_kind::message_complete);
    const auto r = parser.parse(in);
    CHECK(r.kind == event_kind::upgrade);
    CHECK(r.consumed == 0);
    CHECK(parser.parse(in).kind == event_kind::upgrade);
}

TEST_CASE("a declined upgrade resumes HTTP parsing") {
    request_parser parser;
    std::string_view in =
        "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n"
        "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    in.remove_prefix(parser.parse(in).consumed);
    in.remove_prefix(parser.parse(in).consumed);
    CHECK(parser.parse(in).kind == event_kind::upgrade);
    parser.resume();
    const auto r = parser.parse(in);
    REQUIRE(r.kind == event_kind::head);
    CHECK(parser.head().path == "/next");
}

TEST_CASE("Upgrade without the connection token, or from HTTP/1.0, is not an upgrade") {
    auto o = parse("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n");
    CHECK_FALSE(o.heads[0].upgrade);
    CHECK(o.heads[0].upgrade_protocols == "websocket");
    CHECK(o.events == head_complete);
    o = parse("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
    CHECK_FALSE(o.heads[0].upgrade);
    o = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n");
    CHECK_FALSE(o.heads[0].upgrade);
}

TEST_CASE("an error is terminal until reset") {
    request_parser parser;
    CHECK(parser.parse("GET / HTTP/1.1\nHost: h\r\n\r\n").kind == event_kind::error);
    CHECK(parser.parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n").kind == event_kind::error);
    CHECK(parser.error().status == 400);
    parser.reset();
    CHECK(parser.parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n").kind == event_kind::head);
}

TEST_CASE("a caller that drops the pending head bytes makes the parser start over safely") {
    request_parser parser;
    CHECK(parser.parse("GET /long-path HTTP/1.1\r\nHost: h\r\nX: 1").kind == event_kind::need_more);
    const auto r = parser.parse("GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    REQUIRE(r.kind == event_kind::head);
    CHECK(parser.head().path == "/b");
}

TEST_CASE("to_header_fields lower-cases names, keeps values and reuses the vector") {
    request_parser parser;
    REQUIRE(parser.parse("GET / HTTP/1.1\r\nHost: h\r\nContent-TYPE: Text/HTML\r\n\r\n").kind ==
            event_kind::head);
    std::vector<tessera::header_field> out(5, tessera::header_field{"old", "old"});
    tessera::http1::to_header_fields(parser.head().headers, out);
    CHECK(out == std::vector<tessera::header_field>{{"host", "h"}, {"content-type", "Text/HTML"}});
    std::string name;
    tessera::http1::lower_into("X-Forwarded-FOR", name);
    CHECK(name == "x-forwarded-for");
}
