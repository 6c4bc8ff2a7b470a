#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "tessera/http_exchange.hpp"

using namespace tessera;

namespace {
scope make_scope(std::string method = "GET", std::string version = "1.1", headers fields = {}) {
    scope s;
    s.method = std::move(method);
    s.http_version = std::move(version);
    s.headers = std::move(fields);
    return s;
}

event start(int status, headers fields = {}) {
    return http::response_start{status, std::move(fields)};
}

event body(std::string_view bytes, bool more = false) { return http::response_body{bytes, more}; }
}  // namespace

TEST_CASE(
    "a response that declares a content-length is framed by it and completes at its "
    "last body event") {
    http_exchange exchange(make_scope());
    const event head = start(200, {{"content-length", "5"}});
    const auto out = exchange.on_send(head);
    CHECK(out.what == exchange_output::kind::head);
    CHECK(out.status == 200);
    CHECK(out.fields == &std::get<http::response_start>(head).headers);
    CHECK(out.framing == body_framing::content_length);
    CHECK(out.content_length == 5);
    CHECK(exchange.started());
    CHECK_FALSE(exchange.complete());
    CHECK(exchange.status() == 200);

    const auto first = exchange.on_send(body("he", true));
    CHECK(first.what == exchange_output::kind::body);
    CHECK(first.bytes == "he");
    CHECK_FALSE(first.last);
    const auto second = exchange.on_send(body("llo"));
    CHECK(second.bytes == "llo");
    CHECK(second.last);
    CHECK(exchange.complete());
    CHECK(exchange.body_bytes_sent() == 5);
    CHECK(exchange.on_app_return() == std::nullopt);
    CHECK_FALSE(exchange.closes_connection());
}

TEST_CASE("an HTTP/1.1 response without a content-length is chunked") {
    http_exchange exchange(make_scope());
    CHECK(exchange.on_send(start(200)).framing == body_framing::chunked);
    CHECK(exchange.on_send(body("a", true)).bytes == "a");
    CHECK(exchange.on_send(body("", false)).last);
    CHECK(exchange.on_app_return() == std::nullopt);
    CHECK_FALSE(exchange.closes_connection());
}

TEST_CASE("a HEAD response has no body framing and its body bytes are stripped") {
    http_exchange exchange(make_scope("HEAD"));
    const auto head = exchange.on_send(start(200, {{"content-length", "11"}}));
    CHECK(head.framing == body_framing::none);
    CHECK(head.content_length == 11);  // the transport still writes the app's content-length
    const auto out = exchange.on_send(body("hello world"));
    CHECK(out.what == exchange_output::kind::body);
    CHECK(out.bytes.empty());
    CHECK(out.last);
    CHECK(exchange.body_bytes_sent() == 11);
    CHECK(exchange.on_app_return() == std::nullopt);
}

TEST_CASE("a HEAD response may skip the body its content-length describes") {
    http_exchange exchange(make_scope("HEAD"));
    (void)exchange.on_send(start(200, {{"content-length", "11"}}));
    (void)exchange.on_send(body(""));
    CHECK(exchange.on_app_return() == std::nullopt);
}

TEST_CASE("204 and 304 responses have no body framing") {
    for (const int status : {204, 304}) {
        CAPTURE(status);
        http_exchange exchange(make_scope());
        CHECK(exchange.on_send(start(status)).framing == body_framing::none);
        CHECK(exchange.on_send(body("ignored")).bytes.empty());
        CHECK(exchange.complete());
        CHECK(exchange.on_app_return() == std::nullopt);
    }
}

TEST_CASE("informational and out-of-range statuses are refused as a response start") {
    for (const int status : {100, 101, 199, 1000, 0, -1}) {
        CAPTURE(status);
        http_exchange exchange(make_scope());
        CHECK_THROWS_AS((void)exchange.on_send(start(status)), protocol_error);
        CHECK_FALSE(exchange.started());
    }
}

TEST_CASE("an HTTP/1.0 response without a length is close-delimited and closes the connection") {
    http_exchange exchange(make_scope("GET", "1.0"));
    CHECK(exchange.on_send(start(200)).framing == body_framing::close_delimited);
    CHECK(exchange.closes_connection());
}

TEST_CASE("HTTP/1.0 closes after the response unless the request asked for keep-alive") {
    http_exchange plain(make_scope("GET", "1.0"));
    CHECK(plain.closes_connection());
    (void)plain.on_send(start(200, {{"content-length", "0"}}));
    CHECK(plain.closes_connection());

    http_exchange kept(make_scope("GET", "1.0", {{"connection", "Keep-Alive"}}));
    CHECK_FALSE(kept.closes_connection());
    CHECK(kept.on_send(start(200, {{"content-length", "0"}})).framing ==
          body_framing::content_length);
    CHECK_FALSE(kept.closes_connection());
}

TEST_CASE("Connection: close from the client or from the app closes the connection") {
    http_exchange asked(make_scope("GET", "1.1", {{"connection", "keep-alive, Close"}}));
    CHECK(asked.closes_connection());

    http_exchange app_closes(make_scope());
    CHECK_FALSE(app_closes.closes_connection());
    (void)app_closes.on_send(start(200, {{"content-length", "0"}, {"connection", "close"}}));
    CHECK(app_closes.closes_connection());
}

TEST_CASE("more body than the declared content-length is a protocol error") {
    http_exchange exchange(make_scope());
    (void)exchange.on_send(start(200, {{"content-length", "3"}}));
    CHECK(exchange.on_send(body("ab", true)).bytes == "ab");
    CHECK_THROWS_AS((void)exchange.on_send(body("cd")), protocol_error);
}

TEST_CASE("less body than the declared content-length is reported when the app returns") {
    http_exchange exchange(make_scope());
    (void)exchange.on_send(start(200, {{"content-length", "10"}}));
    (void)exchange.on_send(body("short"));
    CHECK(exchange.complete());
    const auto problem = exchange.on_app_return();
    REQUIRE(problem.has_value());
    CHECK(problem->find("5 body bytes") != std::string::npos);
    CHECK(problem->find("declared 10") != std::string::npos);
}

TEST_CASE("an invalid content-length from the app is a protocol error") {
    for (const char* value : {"abc", "-1", "", "1 2", "99999999999999999999999"}) {
        CAPTURE(value);
        http_exchange exchange(make_scope());
        CHECK_THROWS_AS((void)exchange.on_send(start(200, {{"content-length", value}})),
                        protocol_error);
    }
    http_exchange padded(make_scope());
    CHECK(padded.on_send(start(200, {{"content-length", " 4 "}})).content_length == 4);
}

TEST_CASE("starting the response twice is a protocol error") {
    http_exchange exchange(make_scope());
    (void)exchange.on_send(start(200));
    CHECK_THROWS_AS((void)exchange.on_send(start(200)), protocol_error);
}

TEST_CASE("a body before the start is a protocol error") {
    http_exchange exchange(make_scope());
    CHECK_THROWS_AS((void)exchange.on_send(body("x")), protocol_error);
    CHECK_FALSE(exchange.started());
}

TEST_CASE("a body after the response completed is a protocol error") {
    http_exchange exchange(make_scope());
    (void)exchange.on_send(start(200));
    (void)exchange.on_send(body("done"));
    CHECK_THROWS_AS((void)exchange.on_send(body("more")), protocol_error);
    CHECK_THROWS_AS((void)exchange.on_send(start(200)), protocol_error);
}

TEST_CASE("an event of another protocol is a protocol error") {
    http_exchange exchange(make_scope());
    CHECK_THROWS_AS((void)exchange.on_send(websocket::accept{}), protocol_error);
    CHECK_THROWS_AS((void)exchange.on_send(http::request{}), protocol_error);
}

TEST_CASE("a file body ends the response and is handed to the transport") {
    http_exchange exchange(make_scope());
    (void)exchange.on_send(start(200));
    const event file = http::response_file{"/tmp/x", 3, 4};
    const auto out = exchange.on_send(file);
    CHECK(out.what == exchange_output::kind::file);
    CHECK(out.file == &std::get<http::response_file>(file));
    CHECK(out.last);
    CHECK(exchange.complete());
    CHECK(exchange.on_app_return() == std::nullopt);
}

// Regression: a file response with a content-length (as every file response has) was reported as
// "sent 0 body bytes but declared N" because the file's bytes were not counted.
TEST_CASE("a file body with a declared content-length is not reported as short") {
    http_exchange exchange(make_scope());
    (void)exchange.on_send(start(200, {{"content-length", "1234"}}));
    (void)exchange.on_send(http::response_file{"/tmp/x"});
    CHECK(exchange.on_app_return() == std::nullopt);
}

TEST_CASE("an opened file's range is resolved against its size and the declared length") {
    http_exchange whole(make_scope());
    (void)whole.on_send(start(200, {{"content-length", "10"}}));
    (void)whole.on_send(http::response_file{"/tmp/x"});
    CHECK(whole.on_file_opened(http::response_file{"/tmp/x"}, 10) == 10);
    CHECK(whole.body_bytes_sent() == 10);

    http_exchange range(make_scope());
    (void)range.on_send(start(206, {{"content-length", "4"}}));
    const http::response_file part{"/tmp/x", 3, 4};
    (void)range.on_send(part);
    CHECK(range.on_file_opened(part, 10) == 4);

    http_exchange tail(make_scope());  // no content-length: the rest of the file from offset
    (void)tail.on_send(start(200));
    const http::response_file from_six{"/tmp/x", 6};
    (void)tail.on_send(from_six);
    CHECK(tail.on_file_opened(from_six, 10) == 4);

    http_exchange after_body(make_scope());  // body bytes before the file count toward the length
    (void)after_body.on_send(start(200, {{"content-length", "12"}}));
    (void)after_body.on_send(body("ab", true));
    (void)after_body.on_send(http::response_file{"/tmp/x"});
    CHECK(after_body.on_file_opened(http::response_file{"/tmp/x"}, 10) == 10);
    CHECK(after_body.on_app_return() == std::nullopt);
}

TEST_CASE("a file shorter than the app's range or its declared length is a protocol error") {
    http_exchange mismatch(make_scope());
    (void)mismatch.on_send(start(200, {{"content-length", "11"}}));
    (void)mismatch.on_send(http::response_file{"/tmp/x"});
    CHECK_THROWS_AS((void)mismatch.on_file_opened(http::response_file{"/tmp/x"}, 10),
                    protocol_error);

    http_exchange past_end(make_scope());
    (void)past_end.on_send(start(200));
    const http::response_file beyond{"/tmp/x", 11};
    (void)past_end.on_send(beyond);
    CHECK_THROWS_AS((void)past_end.on_file_opened(beyond, 10), protocol_error);

    http_exchange too_long(make_scope());
    (void)too_long.on_send(start(200));
    const http::response_file long_range{"/tmp/x", 8, 3};
    (void)too_long.on_send(long_range);
    CHECK_THROWS_AS((void)too_long.on_file_opened(long_range, 10), protocol_error);

    http_exchange empty_tail(make_scope());  // an offset at the very end is an empty body
    (void)empty_tail.on_send(start(200, {{"content-length", "0"}}));
    const http::response_file at_end{"/tmp/x", 10};
    (void)empty_tail.on_send(at_end);
    CHECK(empty_tail.on_file_opened(at_end, 10) == 0);
}

TEST_CASE("a file body is stripped for HEAD and refused outside a started response") {
    http_exchange head(make_scope("HEAD"));
    (void)head.on_send(start(200, {{"content-length", "10"}}));
    const auto out = head.on_send(http::response_file{"/tmp/x"});
    CHECK(out.what == exchange_output::kind::file);
    CHECK(out.file == nullptr);
    CHECK(out.last);

    http_exchange early(make_scope());
    CHECK_THROWS_AS((void)early.on_send(http::response_file{"/tmp/x"}), protocol_error);

    http_exchange late(make_scope());
    (void)late.on_send(start(200));
    (void)late.on_send(body(""));
    CHECK_THROWS_AS((void)late.on_send(http::response_file{"/tmp/x"}), protocol_error);
}

TEST_CASE("the app returning before starting or before completing its response is reported") {
    http_exchange idle(make_scope());
    REQUIRE(idle.on_app_return().has_value());
    CHECK(idle.on_app_return()->find("without starting") != std::string::npos);

    http_exchange half(make_scope());
    (void)half.on_send(start(200));
    (void)half.on_send(body("a", true));
    REQUIRE(half.on_app_return().has_value());
    CHECK(half.on_app_return()->find("before completing") != std::string::npos);
}

TEST_CASE("100 Continue is due once, when the request expects it") {
    http_exchange exchange(make_scope("POST", "1.1", {{"expect", "100-Continue"}}));
    CHECK(exchange.take_continue_due());
    CHECK_FALSE(exchange.take_continue_due());
}

TEST_CASE("100 Continue is not due once the response has started") {
    http_exchange exchange(make_scope("POST", "1.1", {{"expect", "100-continue"}}));
    (void)exchange.on_send(start(417, {{"content-length", "0"}}));
    CHECK_FALSE(exchange.take_continue_due());
}

TEST_CASE("100 Continue is never due without the expectation or on HTTP/1.0") {
    http_exchange without(make_scope("POST"));
    CHECK_FALSE(without.take_continue_due());
    http_exchange old(make_scope("POST", "1.0", {{"expect", "100-continue"}}));
    CHECK_FALSE(old.take_continue_due());
}

TEST_CASE("header_has_token finds a token in comma lists across repeated fields, ignoring case") {
    const headers h{{"connection", "keep-alive ,  Upgrade"}, {"connection", "TE"}, {"x", "close"}};
    CHECK(header_has_token(h, "connection", "upgrade"));
    CHECK(header_has_token(h, "connection", "KEEP-ALIVE"));
    CHECK(header_has_token(h, "connection", "te"));
    CHECK_FALSE(header_has_token(h, "connection", "close"));
    CHECK_FALSE(header_has_token(h, "connection", "keep"));
    CHECK_FALSE(header_has_token(h, "missing", "close"));
}
