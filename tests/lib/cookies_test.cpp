#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "tessera/cookies.hpp"
#include "tessera/http_date.hpp"

using tessera::cookie_list;
using tessera::cookie_options;
using tessera::parse_cookie_header;
using tessera::set_cookie_header_value;
using namespace std::chrono;

TEST_CASE("a cookie header splits into trimmed name and value pairs") {
    CHECK(parse_cookie_header("a=1; b=2;c = 3 ") == cookie_list{{"a", "1"}, {"b", "2"}, {"c", "3"}});
}

TEST_CASE("an empty or blank cookie header gives no cookies") {
    CHECK(parse_cookie_header("").empty());
    CHECK(parse_cookie_header(" ; ;; ").empty());
    CHECK(parse_cookie_header("=").empty());
}

TEST_CASE("a chunk without an equals sign is a value with an empty name") {
    CHECK(parse_cookie_header("abc; a=1") == cookie_list{{"", "abc"}, {"a", "1"}});
}

TEST_CASE("a cookie value splits only at the first equals sign") {
    CHECK(parse_cookie_header("token=a=b==") == cookie_list{{"token", "a=b=="}});
    CHECK(parse_cookie_header("a=") == cookie_list{{"a", ""}});
    CHECK(parse_cookie_header("=v") == cookie_list{{"", "v"}});
}

TEST_CASE("a repeated cookie name keeps its first position and takes the last value") {
    CHECK(parse_cookie_header("a=1; b=2; a=3") == cookie_list{{"a", "3"}, {"b", "2"}});
}

TEST_CASE("many repeated names stay unique past the linear-search threshold") {
    std::string header;
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 40; ++i) header += "k" + std::to_string(i) + "=" + std::to_string(round) + ";";
    }
    const cookie_list cookies = parse_cookie_header(header);
    REQUIRE(cookies.size() == 40);
    CHECK(cookies[0] == std::pair<std::string, std::string>{"k0", "2"});
    CHECK(cookies[39] == std::pair<std::string, std::string>{"k39", "2"});
}

TEST_CASE("quoted cookie values are unquoted with Python's rules") {
    CHECK(parse_cookie_header(R"(a="a\"b\012c\\d\x")") ==
          cookie_list{{"a", "a\"b\nc\\dx"}});
    CHECK(parse_cookie_header(R"(a="")") == cookie_list{{"a", ""}});
    CHECK(parse_cookie_header(R"(a="\400")") == cookie_list{{"a", "400"}});
    CHECK(parse_cookie_header(R"(a="\351")") == cookie_list{{"a", "\xE9"}});
    CHECK(parse_cookie_header("a=\"\\\n\"") == cookie_list{{"a", "\\\n"}});
    CHECK(parse_cookie_header(R"(a="\")") == cookie_list{{"a", "\\"}});
}

TEST_CASE("values that are not fully quoted are kept as they are") {
    CHECK(parse_cookie_header(R"(a="abc)") == cookie_list{{"a", "\"abc"}});
    CHECK(parse_cookie_header(R"(a=abc")") == cookie_list{{"a", "abc\""}});
    CHECK(parse_cookie_header(R"(a=")") == cookie_list{{"a", "\""}});
    CHECK(parse_cookie_header(R"(a=x\"y)") == cookie_list{{"a", "x\\\"y"}});
}

TEST_CASE("non-ASCII bytes in cookies are kept intact") {
    CHECK(parse_cookie_header("n=caf\xC3\xA9\xC2\xA0") == cookie_list{{"n", "caf\xC3\xA9\xC2\xA0"}});
}

TEST_CASE("find_cookie looks a cookie up by exact name") {
    const cookie_list cookies = parse_cookie_header("session=abc; theme=dark");
    CHECK(tessera::find_cookie(cookies, "theme") == std::optional<std::string_view>("dark"));
    CHECK_FALSE(tessera::find_cookie(cookies, "Theme").has_value());
    CHECK_FALSE(tessera::find_cookie({}, "x").has_value());
}

TEST_CASE("http_date formats an IMF-fixdate in GMT") {
    CHECK(tessera::http_date(sys_days{1994y / November / 6} + 8h + 49min + 37s) ==
          "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(tessera::http_date(system_clock::time_point{}) == "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(tessera::http_date(sys_days{2000y / February / 29}) == "Tue, 29 Feb 2000 00:00:00 GMT");
    CHECK(tessera::http_date(sys_days{2037y / January / 22} + 12h + 10s + 999ms) ==
          "Thu, 22 Jan 2037 12:00:10 GMT");
}

TEST_CASE("http_date handles times before the epoch") {
    CHECK(tessera::http_date(system_clock::time_point{} - 1s) == "Wed, 31 Dec 1969 23:59:59 GMT");
    CHECK(tessera::http_date(system_clock::time_point{} - 1ms) == "Wed, 31 Dec 1969 23:59:59 GMT");
}

TEST_CASE("set_cookie defaults to Path=/ and SameSite=lax") {
    CHECK(set_cookie_header_value("mycookie", "myvalue") == "mycookie=myvalue; Path=/; SameSite=lax");
}

TEST_CASE("set_cookie writes every attribute in SimpleCookie's order") {
    const std::string value = set_cookie_header_value(
        "mycookie", "myvalue",
        {.max_age = 10,
         .expires = sys_days{2037y / January / 22} + 12h + 10s,
         .path = "/",
         .domain = "localhost",
         .secure = true,
         .httponly = true,
         .samesite = "none",
         .partitioned = true});
    CHECK(value ==
          "mycookie=myvalue; Domain=localhost; expires=Thu, 22 Jan 2037 12:00:10 GMT; HttpOnly; "
          "Max-Age=10; Partitioned; Path=/; SameSite=none; Secure");
}

TEST_CASE("set_cookie quotes and escapes values that are not tokens") {
    CHECK(set_cookie_header_value("a", "") == "a=\"\"; Path=/; SameSite=lax");
    CHECK(set_cookie_header_value("a", std::string("b c;d\"\\\xE9,\x01"), {.samesite = std::nullopt}) ==
          "a=\"b c\\073d\\\"\\\\\\351\\054\\001\"; Path=/");
    CHECK(set_cookie_header_value("a", "x=y/z", {.path = "", .samesite = std::nullopt}) ==
          "a=\"x=y/z\"");
    CHECK(set_cookie_header_value("a", "!#$%&'*+-.^_`|~:", {.path = ""}) ==
          "a=!#$%&'*+-.^_`|~:; SameSite=lax");
}

TEST_CASE("set_cookie accepts a preformatted expiry string and skips empty attributes") {
    CHECK(set_cookie_header_value("a", "b",
                                  {.expires = "Wed, 21 Oct 2015 07:28:00 GMT",
                                   .path = "",
                                   .domain = "",
                                   .samesite = std::nullopt}) ==
          "a=b; expires=Wed, 21 Oct 2015 07:28:00 GMT");
    CHECK(set_cookie_header_value("a", "b", {.expires = "", .samesite = std::nullopt}) ==
          "a=b; Path=/");
}

TEST_CASE("set_cookie writes a zero or negative max-age") {
    CHECK(set_cookie_header_value("a", "b", {.max_age = 0, .samesite = std::nullopt}) ==
          "a=b; Max-Age=0; Path=/");
    CHECK(set_cookie_header_value("a", "b", {.max_age = -1, .samesite = std::nullopt}) ==
          "a=b; Max-Age=-1; Path=/");
}

TEST_CASE("set_cookie with a relative expiry dates it from now") {
    const auto before = system_clock::now();
    const std::string value = set_cookie_header_value("a", "b", {.expires = hours(1), .samesite = std::nullopt});
    const auto after = system_clock::now();
    const std::string low = "a=b; expires=" + tessera::http_date(before + 1h) + "; Path=/";
    const std::string high = "a=b; expires=" + tessera::http_date(after + 1h) + "; Path=/";
    CHECK((value == low || value == high));
}

// Regression: seconds were added to the clock's nanoseconds, which overflow about 240 years
// out, so a 400-year cookie came out dated in the 1840s (found by tests/fuzz/cookies_fuzz).
TEST_CASE("set_cookie with a relative expiry centuries away dates it in that century") {
    const int this_year = static_cast<int>(year_month_day{floor<days>(system_clock::now())}.year());
    const std::string value = set_cookie_header_value(
        "a", "b", {.expires = seconds(400LL * 365 * 86400), .samesite = std::nullopt});
    // Within a year of now + 400 years either way (365-day years drift by about 97 days).
    const bool near = value.find(" " + std::to_string(this_year + 399) + " ") != std::string::npos ||
                      value.find(" " + std::to_string(this_year + 400) + " ") != std::string::npos;
    CHECK_MESSAGE(near, value);
}

TEST_CASE("set_cookie refuses a relative expiry past the year 9999 or before the year 1") {
    CHECK_THROWS_AS((void)set_cookie_header_value("a", "b", {.expires = seconds(8000LL * 366 * 86400)}),
                    std::invalid_argument);
    CHECK_THROWS_AS((void)set_cookie_header_value("a", "b", {.expires = seconds(-2100LL * 366 * 86400)}),
                    std::invalid_argument);
    CHECK_THROWS_AS((void)set_cookie_header_value("a", "b", {.expires = seconds::max()}),
                    std::invalid_argument);
    CHECK_THROWS_AS((void)set_cookie_header_value("a", "b", {.expires = seconds::min()}),
                    std::invalid_argument);
}

TEST_CASE("set_cookie keeps the samesite spelling and checks it case-insensitively") {
    CHECK(set_cookie_header_value("a", "b", {.samesite = "Strict"}) == "a=b; Path=/; SameSite=Strict");
    CHECK(set_cookie_header_value("a", "b", {.samesite = "LAX"}) == "a=b; Path=/; SameSite=LAX");
    CHECK_THROWS_AS(set_cookie_header_value("a", "b", {.samesite = "always"}), std::invalid_argument);
    CHECK_THROWS_AS(set_cookie_header_value("a", "b", {.samesite = ""}), std::invalid_argument);
}

TEST_CASE("set_cookie rejects illegal and reserved names") {
    for (const std::string_view name : {"", "a b", "a;b", "a=b", "a,b", "a\"b", "caf\xC3\xA9", "a\nb", "(x)"}) {
        CAPTURE(name);
        CHECK_THROWS_AS(set_cookie_header_value(name, "v"), std::invalid_argument);
    }
    for (const std::string_view name : {"path", "Expires", "MAX-AGE", "samesite", "httponly", "partitioned"}) {
        CAPTURE(name);
        CHECK_THROWS_AS(set_cookie_header_value(name, "v"), std::invalid_argument);
    }
    CHECK(set_cookie_header_value("a:b!#", "v", {.samesite = std::nullopt}) == "a:b!#=v; Path=/");
    CHECK(set_cookie_header_value("paths", "v", {.samesite = std::nullopt}) == "paths=v; Path=/");
}

TEST_CASE("set_cookie rejects attributes that would inject into the header") {
    CHECK_THROWS_AS(set_cookie_header_value("a", "b", {.path = "/x; Secure"}), std::invalid_argument);
    CHECK_THROWS_AS(set_cookie_header_value("a", "b", {.path = "/x\r\nSet-Cookie: y=z"}),
                    std::invalid_argument);
    CHECK_THROWS_AS(set_cookie_header_value("a", "b", {.domain = "a.com\n"}), std::invalid_argument);
    CHECK_THROWS_AS(set_cookie_header_value("a", "b", {.expires = "x;y"}), std::invalid_argument);
    CHECK_THROWS_AS(set_cookie_header_value("a", "b", {.samesite = "lax;"}), std::invalid_argument);
}

TEST_CASE("a value with CR or LF cannot break the header because it is escaped") {
    CHECK(set_cookie_header_value("a", "x\r\ny", {.samesite = std::nullopt}) ==
          "a=\"x\\015\\012y\"; Path=/");
}

TEST_CASE("delete_cookie expires the cookie with max-age zero and the epoch") {
    CHECK(tessera::delete_cookie_header_value("mycookie") ==
          "mycookie=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=lax");
    CHECK(tessera::delete_cookie_header_value("s", "/app", "example.com", true, true, "strict") ==
          "s=\"\"; Domain=example.com; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; "
          "Path=/app; SameSite=strict; Secure");
    CHECK(tessera::delete_cookie_header_value("s", "/", std::nullopt, false, false, std::nullopt) ==
          "s=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/");
    CHECK_THROWS_AS(tessera::delete_cookie_header_value("a b"), std::invalid_argument);
}

TEST_CASE("a set cookie value reads back through the cookie parser") {
    const std::string value = "he said \"hi\"; then\\left\x01";
    const std::string header = set_cookie_header_value("k", value, {.path = "", .samesite = std::nullopt});
    CHECK(parse_cookie_header(header) == cookie_list{{"k", value}});
}
