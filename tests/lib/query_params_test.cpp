#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tessera/percent.hpp"
#include "tessera/query_params.hpp"

using tessera::query_params;
using sv_list = std::vector<std::string_view>;

// percent.hpp has no test file of its own in the build yet; its tests live here, next to its
// main user.

TEST_CASE("percent_decode decodes escapes in either hex case") {
    CHECK(tessera::percent_decode("a%20b%2fc%2F") == "a b/c/");
    CHECK(tessera::percent_decode("%C3%A9") == "\xC3\xA9");
    CHECK(tessera::percent_decode("%00") == std::string("\0", 1));
    CHECK(tessera::percent_decode("") == "");
    CHECK(tessera::percent_decode("plain") == "plain");
}

TEST_CASE("percent_decode keeps invalid escapes literally") {
    CHECK(tessera::percent_decode("%zz%4%41%") == "%zz%4A%");
    CHECK(tessera::percent_decode("%") == "%");
    CHECK(tessera::percent_decode("%4") == "%4");
    CHECK(tessera::percent_decode("%%41") == "%A");
    CHECK(tessera::percent_decode("%g1") == "%g1");
}

TEST_CASE("percent_decode turns plus into space only when asked") {
    CHECK(tessera::percent_decode("a+b%2B") == "a+b+");
    CHECK(tessera::percent_decode("a+b%2B", true) == "a b+");
    CHECK(tessera::percent_decode("+%", true) == " %");
}

TEST_CASE("percent_decode_append adds to what the buffer holds") {
    std::string out = "x=";
    tessera::percent_decode_append(out, "%41+", true);
    CHECK(out == "x=A ");
}

TEST_CASE("quote keeps unreserved characters and slash by default") {
    CHECK(tessera::quote("a b/c~d_e.f-g!@\xC3\xA9") == "a%20b/c~d_e.f-g%21%40%C3%A9");
    CHECK(tessera::quote("") == "");
    CHECK(tessera::quote("AZaz09") == "AZaz09");
}

TEST_CASE("quote honours the safe set and ignores non-ASCII safe bytes") {
    CHECK(tessera::quote("a/b", "") == "a%2Fb");
    CHECK(tessera::quote("a:b@c", ":@") == "a:b@c");
    CHECK(tessera::quote("\xE9", "\xE9") == "%E9");
    CHECK(tessera::quote(std::string_view("\0\x7f\xff", 3)) == "%00%7F%FF");
}

TEST_CASE("quote_plus encodes space as plus and escapes plus and slash") {
    CHECK(tessera::quote_plus("a b+c/d") == "a+b%2Bc%2Fd");
    CHECK(tessera::quote_plus("a b", "+") == "a+b");
    CHECK(tessera::quote_plus("a+b", "+") == "a+b");
    CHECK(tessera::quote_plus("") == "");
}

TEST_CASE("decoding undoes quoting for every byte") {
    std::string all;
    for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
    CHECK(tessera::percent_decode(tessera::quote(all)) == all);
    CHECK(tessera::percent_decode(tessera::quote_plus(all), true) == all);
}

TEST_CASE("query strings parse like parse_qsl with blank values kept") {
    const query_params q("a=1&&b=&c&=v&a=2&d=x=y&e=%zz+%2B");
    const std::vector<query_params::value_type> expected{
        {"a", "1"}, {"b", ""}, {"c", ""}, {"", "v"}, {"a", "2"}, {"d", "x=y"}, {"e", "%zz +"}};
    CHECK(q.items() == expected);
}

TEST_CASE("an empty query string gives no parameters") {
    CHECK(query_params("").empty());
    CHECK(query_params("&&&").empty());
    CHECK(query_params().size() == 0);
    CHECK(query_params().str() == "");
}

TEST_CASE("keys and values are percent-decoded with plus as space") {
    const query_params q("first+name=J%C3%B6rg&q=a%26b%3Dc");
    CHECK(q.get_or("first name") == "J\xC3\xB6rg");
    CHECK(q.get_or("q") == "a&b=c");
}

TEST_CASE("a blank value is present, as in a=&b") {
    const query_params q("a=&b");
    REQUIRE(q.get("a").has_value());
    CHECK(q.get("a")->empty());
    REQUIRE(q.get("b").has_value());
    CHECK(q.get("b")->empty());
    CHECK_FALSE(q.get("c").has_value());
}

TEST_CASE("get returns the last value of a repeated key and get_all every value") {
    const query_params q("a=1&b=2&a=3");
    CHECK(*q.get("a") == "3");
    CHECK(q.get_or("missing", "d") == "d");
    CHECK(q.get_all("a") == sv_list{"1", "3"});
    CHECK(q.get_all("missing").empty());
    CHECK(q.contains("b"));
    CHECK_FALSE(q.contains("B"));  // keys are case-sensitive
}

TEST_CASE("keys lists distinct keys in order of first appearance") {
    CHECK(query_params("b=1&a=2&b=3").keys() == sv_list{"b", "a"});
}

TEST_CASE("items and iteration give every pair in order") {
    const query_params q{{"a", "1"}, {"b", "2"}, {"a", "3"}};
    std::string seen;
    for (const auto& [k, v] : q) seen += k + v;
    CHECK(seen == "a1b2a3");
    CHECK(q.items().size() == 3);
}

TEST_CASE("str encodes like urlencode") {
    const query_params q{{"a b", "c&d"}, {"\xC3\xA9", "/"}, {"k", ""}};
    CHECK(q.str() == "a+b=c%26d&%C3%A9=%2F&k=");
    CHECK(query_params("a=1&a=2").str() == "a=1&a=2");
    CHECK(query_params{{"", ""}, {"x", "1"}}.str() == "=&x=1");
}

TEST_CASE("parsing then encoding then parsing is stable") {
    const query_params q("x=%2B+%25&y=%E2%82%AC&z");
    CHECK(query_params(q.str()) == q);
}

TEST_CASE("append and remove edit the pairs") {
    query_params q("a=1&b=2&a=3");
    q.append("c", "4");
    CHECK(q.str() == "a=1&b=2&a=3&c=4");
    CHECK(q.remove("a") == 2);
    CHECK(q.str() == "b=2&c=4");
    CHECK(q.remove("zzz") == 0);
    CHECK(q.remove(q.items()[0].first) == 1);
    CHECK(q.str() == "c=4");
}

TEST_CASE("query_params compare equal regardless of pair order") {
    CHECK(query_params("a=1&b=2") == query_params("b=2&a=1"));
    CHECK(query_params("a=1&a=2") == query_params("a=2&a=1"));
    CHECK_FALSE(query_params("a=1&a=1") == query_params("a=1"));
    CHECK_FALSE(query_params("a=1") == query_params("a=2"));
    CHECK(query_params() == query_params(""));
}

TEST_CASE("the vector constructor takes decoded pairs") {
    const query_params q(std::vector<query_params::value_type>{{"a b", "1"}});
    CHECK(q.get_or("a b") == "1");
    CHECK(q.str() == "a+b=1");
}
