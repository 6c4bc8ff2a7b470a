#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tessera/headers.hpp"

using tessera::header_field;
using tessera::headers;

TEST_CASE("to_lower_ascii lowers ASCII letters and leaves other bytes alone") {
    CHECK(tessera::to_lower_ascii("Content-TYPE") == "content-type");
    CHECK(tessera::to_lower_ascii("") == "");
    CHECK(tessera::to_lower_ascii("\xC3\x89t\xC3\xA9") == "\xC3\x89t\xC3\xA9");
}

TEST_CASE("iequals compares ignoring ASCII case only") {
    CHECK(tessera::iequals("Content-Length", "content-length"));
    CHECK(tessera::iequals("", ""));
    CHECK_FALSE(tessera::iequals("a", "ab"));
    CHECK_FALSE(tessera::iequals("x-a", "x_a"));
    CHECK_FALSE(tessera::iequals("\xC3\xA9", "\xC3\x89"));  // no Unicode case folding
}

TEST_CASE("construction from pairs lower-cases names and keeps order, duplicates and values") {
    const headers h{{"Content-Type", "Text/HTML"}, {"X-A", "1"}, {"x-a", "2"}};
    REQUIRE(h.size() == 3);
    CHECK(h.fields()[0] == header_field{"content-type", "Text/HTML"});
    CHECK(h.fields()[1] == header_field{"x-a", "1"});
    CHECK(h.fields()[2] == header_field{"x-a", "2"});
}

TEST_CASE("an empty headers object finds nothing") {
    const headers h;
    CHECK(h.empty());
    CHECK(h.size() == 0);
    CHECK_FALSE(h.get("a").has_value());
    CHECK(h.get_or("a", "fallback") == "fallback");
    CHECK(h.get_all("a").empty());
    CHECK_FALSE(h.contains("a"));
    CHECK(h.keys().empty());
    CHECK(h.begin() == h.end());
}

TEST_CASE("get returns the first value and matches names case-insensitively") {
    const headers h{{"accept", "a"}, {"Accept", "b"}};
    REQUIRE(h.get("ACCEPT").has_value());
    CHECK(*h.get("ACCEPT") == "a");
    CHECK(h.get_or("accept") == "a");
    CHECK(h.get_or("missing") == "");
    CHECK(h.contains("AcCePt"));
    CHECK_FALSE(h.contains("accep"));
}

TEST_CASE("an empty value is present and distinct from a missing field") {
    const headers h{{"x-empty", ""}};
    REQUIRE(h.get("x-empty").has_value());
    CHECK(h.get("x-empty")->empty());
    CHECK(h.get_or("x-empty", "fallback") == "");
}

TEST_CASE("get_all returns every value in order") {
    const headers h{{"set-cookie", "a=1"}, {"x", "y"}, {"Set-Cookie", "b=2"}};
    CHECK(h.get_all("SET-COOKIE") == std::vector<std::string_view>{"a=1", "b=2"});
}

TEST_CASE("keys lists distinct names in order of first appearance") {
    const headers h{{"b", "1"}, {"a", "2"}, {"B", "3"}, {"c", "4"}};
    CHECK(h.keys() == std::vector<std::string_view>{"b", "a", "c"});
}

TEST_CASE("the vector constructor takes fields as given") {
    std::vector<header_field> fields{{"host", "example.com"}, {"accept", "*/*"}};
    const headers h(std::move(fields));
    CHECK(h.size() == 2);
    CHECK(h.get_or("Host") == "example.com");
}

TEST_CASE("iteration visits every field in order") {
    const headers h{{"a", "1"}, {"b", "2"}};
    std::string seen;
    for (const auto& f : h) seen += f.name + "=" + f.value + ";";
    CHECK(seen == "a=1;b=2;");
}

TEST_CASE("set keeps the position of the first field and drops the rest") {
    headers h{{"a", "1"}, {"x", "old"}, {"b", "2"}, {"X", "old2"}, {"c", "3"}};
    h.set("X", "new");
    REQUIRE(h.size() == 4);
    CHECK(h.fields()[0].name == "a");
    CHECK(h.fields()[1] == header_field{"x", "new"});
    CHECK(h.fields()[2].name == "b");
    CHECK(h.fields()[3].name == "c");
}

TEST_CASE("set appends a lower-cased field when the name is absent") {
    headers h{{"a", "1"}};
    h.set("Content-Length", "10");
    REQUIRE(h.size() == 2);
    CHECK(h.fields()[1] == header_field{"content-length", "10"});
}

TEST_CASE("set accepts a value viewing into the field it replaces") {
    headers h{{"a", "first"}, {"a", "second"}};
    h.set("a", h.fields()[1].value);
    REQUIRE(h.size() == 1);
    CHECK(h.get_or("a") == "second");
    h.set("a", std::string_view(h.fields()[0].value).substr(1));
    CHECK(h.get_or("a") == "econd");
}

TEST_CASE("set_default keeps an existing value and adds a missing one") {
    headers h{{"content-type", "text/plain"}};
    CHECK(h.set_default("Content-Type", "text/html") == "text/plain");
    CHECK(h.size() == 1);
    CHECK(h.set_default("X-New", "v") == "v");
    CHECK(h.size() == 2);
    CHECK(h.fields()[1] == header_field{"x-new", "v"});
}

TEST_CASE("append adds a field at the end even when the name exists") {
    headers h{{"set-cookie", "a=1"}};
    h.append("Set-Cookie", "b=2");
    CHECK(h.get_all("set-cookie") == std::vector<std::string_view>{"a=1", "b=2"});
    CHECK(h.fields()[1].name == "set-cookie");
}

TEST_CASE("remove deletes every matching field and reports the count") {
    headers h{{"a", "1"}, {"b", "2"}, {"A", "3"}, {"c", "4"}};
    CHECK(h.remove("A") == 2);
    CHECK(h.keys() == std::vector<std::string_view>{"b", "c"});
    CHECK(h.remove("missing") == 0);
    CHECK(h.size() == 2);
}

TEST_CASE("remove accepts a name viewing into one of the removed fields") {
    headers h{{"a", "1"}, {"b", "2"}, {"a", "3"}, {"b", "4"}, {"a", "5"}};
    CHECK(h.remove(h.fields()[2].name) == 3);
    CHECK(h.keys() == std::vector<std::string_view>{"b"});
    CHECK(h.size() == 2);
}

TEST_CASE("clear and reserve manage storage") {
    headers h{{"a", "1"}};
    h.reserve(16);
    CHECK(h.size() == 1);
    h.clear();
    CHECK(h.empty());
}

TEST_CASE("headers compare equal field by field, order included") {
    CHECK(headers{{"A", "1"}} == headers{{"a", "1"}});
    CHECK_FALSE(headers{{"a", "1"}, {"b", "2"}} == headers{{"b", "2"}, {"a", "1"}});
    CHECK_FALSE(headers{{"a", "1"}} == headers{{"a", "2"}});
}

TEST_CASE("add_vary creates the vary field when absent") {
    headers h;
    h.add_vary("Accept-Encoding");
    CHECK(h.get_all("vary") == std::vector<std::string_view>{"Accept-Encoding"});
}

TEST_CASE("add_vary appends a new token to the existing list") {
    headers h{{"vary", "Origin"}};
    h.add_vary("Accept-Encoding");
    CHECK(h.get_or("vary") == "Origin, Accept-Encoding");
}

TEST_CASE("add_vary skips a token already listed in any case") {
    headers h{{"Vary", "Origin,  accept-encoding "}};
    h.add_vary("Accept-Encoding");
    CHECK(h.get_or("vary") == "Origin,  accept-encoding ");
    h.add_vary(" ORIGIN ");
    CHECK(h.get_or("vary") == "Origin,  accept-encoding ");
}

TEST_CASE("add_vary does nothing when the list holds a star") {
    headers h{{"vary", "*"}};
    h.add_vary("Origin");
    CHECK(h.get_all("vary") == std::vector<std::string_view>{"*"});
}

TEST_CASE("add_vary with a star replaces the list with the star") {
    headers h{{"vary", "Origin, Cookie"}};
    h.add_vary("*");
    CHECK(h.get_all("vary") == std::vector<std::string_view>{"*"});
}

TEST_CASE("add_vary merges several vary fields into one at the first position") {
    headers h{{"vary", "Origin"}, {"x", "1"}, {"vary", "Cookie, , "}};
    h.add_vary("Accept");
    REQUIRE(h.size() == 2);
    CHECK(h.fields()[0] == header_field{"vary", "Origin, Cookie, Accept"});
    CHECK(h.fields()[1].name == "x");
}

TEST_CASE("add_vary finds a token listed in a later vary field") {
    headers h{{"vary", "Origin"}, {"vary", "Cookie"}};
    h.add_vary("cookie");
    CHECK(h.get_all("vary") == std::vector<std::string_view>{"Origin", "Cookie"});
}

TEST_CASE("add_vary ignores an empty token and fills an empty field") {
    headers h;
    h.add_vary("  ");
    CHECK(h.empty());
    headers e{{"vary", ""}};
    e.add_vary("Origin");
    CHECK(e.get_all("vary") == std::vector<std::string_view>{"Origin"});
}

TEST_CASE("list_has_token matches whole elements of one comma list, ignoring case and spaces") {
    CHECK(tessera::list_has_token("keep-alive, Close", "close"));
    CHECK(tessera::list_has_token(" \tclose\t ", "close"));
    CHECK(tessera::list_has_token(",,close,", "close"));
    CHECK_FALSE(tessera::list_has_token("closed, keep-alive", "close"));
    CHECK_FALSE(tessera::list_has_token("", "close"));
    CHECK_FALSE(tessera::list_has_token(",", "close"));
}
