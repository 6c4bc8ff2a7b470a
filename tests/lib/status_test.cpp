#include <doctest/doctest.h>

#include "tessera/http_error.hpp"
#include "tessera/status.hpp"

#include <stdexcept>
#include <string>
#include <vector>

using tessera::reason_phrase;
using tessera::status_allows_body;

TEST_CASE("reason_phrase gives the registered phrases in RFC 9110 wording") {
    CHECK(reason_phrase(100) == "Continue");
    CHECK(reason_phrase(103) == "Early Hints");
    CHECK(reason_phrase(200) == "OK");
    CHECK(reason_phrase(204) == "No Content");
    CHECK(reason_phrase(226) == "IM Used");
    CHECK(reason_phrase(308) == "Permanent Redirect");
    CHECK(reason_phrase(404) == "Not Found");
    CHECK(reason_phrase(413) == "Content Too Large");
    CHECK(reason_phrase(418) == "I'm a teapot");
    CHECK(reason_phrase(421) == "Misdirected Request");
    CHECK(reason_phrase(422) == "Unprocessable Content");
    CHECK(reason_phrase(425) == "Too Early");
    CHECK(reason_phrase(431) == "Request Header Fields Too Large");
    CHECK(reason_phrase(451) == "Unavailable For Legal Reasons");
    CHECK(reason_phrase(500) == "Internal Server Error");
    CHECK(reason_phrase(511) == "Network Authentication Required");
}

TEST_CASE("reason_phrase is empty for unregistered and unused codes") {
    for (int code : {0, -1, 99, 199, 306, 419, 420, 427, 499, 509, 599, 600, 1000}) {
        CAPTURE(code);
        CHECK(reason_phrase(code).empty());
    }
}

TEST_CASE("every named status constant has a reason phrase") {
    namespace s = tessera::status;
    for (int code : {s::continue_, s::ok, s::created, s::no_content, s::not_modified,
                     s::see_other, s::bad_request, s::unauthorized, s::forbidden, s::not_found,
                     s::method_not_allowed, s::content_too_large, s::unprocessable_entity,
                     s::too_many_requests, s::internal_server_error,
                     s::http_version_not_supported}) {
        CAPTURE(code);
        CHECK_FALSE(reason_phrase(code).empty());
    }
    CHECK(s::unprocessable_entity == s::unprocessable_content);
}

TEST_CASE("status_allows_body is false for 1xx, 204 and 304 only") {
    static_assert(!status_allows_body(101));  // usable in constant expressions
    for (int code : {100, 101, 103, 199, 204, 304}) {
        CAPTURE(code);
        CHECK_FALSE(status_allows_body(code));
    }
    for (int code : {200, 201, 205, 206, 301, 302, 303, 307, 400, 404, 500}) {
        CAPTURE(code);
        CHECK(status_allows_body(code));
    }
}

TEST_CASE("http_error defaults its detail to the reason phrase and reads as \"404: Not Found\"") {
    const tessera::http_error e(404);
    CHECK(e.status() == 404);
    CHECK(e.detail() == "Not Found");
    CHECK(std::string(e.what()) == "404: Not Found");
    CHECK(e.headers().empty());
}

TEST_CASE("http_error keeps a custom detail and extra headers") {
    const tessera::http_error e(
        401, "token expired",
        tessera::headers(std::vector<tessera::header_field>{{"www-authenticate", "Bearer"}}));
    CHECK(e.detail() == "token expired");
    CHECK(std::string(e.what()) == "401: token expired");
    REQUIRE(e.headers().size() == 1);
    CHECK(e.headers().fields()[0].value == "Bearer");
}

TEST_CASE("http_error is caught as std::exception and copies share state without throwing") {
    static_assert(std::is_nothrow_copy_constructible_v<tessera::http_error>);
    try {
        throw tessera::http_error(tessera::status::too_many_requests);
    } catch (const std::exception& e) {
        CHECK(std::string(e.what()) == "429: Too Many Requests");
    }
    const tessera::http_error a(499);  // unregistered code: no phrase, status alone
    const tessera::http_error b = a;   // NOLINT(performance-unnecessary-copy-initialization)
    CHECK(std::string(b.what()) == "499");
    CHECK(b.detail().empty());
}

TEST_CASE("http_error rejects statuses outside 100..599") {
    CHECK_THROWS_AS((void)tessera::http_error(99), std::invalid_argument);
    CHECK_THROWS_AS((void)tessera::http_error(600), std::invalid_argument);
    CHECK_NOTHROW(tessera::http_error(599));
}
