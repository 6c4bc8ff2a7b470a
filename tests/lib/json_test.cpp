#include <doctest/doctest.h>

#include "tessera/json.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

using tessera::json;
using tessera::json_kind;
using tessera::parse_json;

TEST_CASE("a braced list of string-keyed pairs becomes an object, in insertion order") {
    const json j = {{"message", "Hello"}, {"n", 3}, {"list", json::array({1, 2.5, nullptr, true})}};
    REQUIRE(j.is_object());
    CHECK(j.size() == 3);
    CHECK(j["message"].as_string() == "Hello");
    CHECK(j["n"].as_int64() == 3);
    CHECK(j["list"].dump() == "[1,2.5,null,true]");
    CHECK(j.dump() == R"({"message":"Hello","n":3,"list":[1,2.5,null,true]})");
}

TEST_CASE("any other braced list becomes an array") {
    CHECK(json{1, 2, 3}.dump() == "[1,2,3]");
    CHECK(json{"a", 1}.dump() == R"(["a",1])");                      // not pairs
    CHECK(json{{"a", 1}, {2, 3}}.dump() == R"([["a",1],[2,3]])");     // one pair is not keyed
    CHECK(json{{"a", 1, 2}}.dump() == R"([["a",1,2]])");              // three elements
    CHECK(json::array({{"a", 1}, {"b", 2}}).dump() == R"([["a",1],["b",2]])");
}

TEST_CASE("single-element and empty braces: json{1} is [1], json{} is null, json{j} wraps j") {
    CHECK(json{1}.dump() == "[1]");
    CHECK(json{}.is_null());
    json j = 5;
    json wrapped{j};  // documented nlohmann-style pitfall: braces always build a list
    CHECK(wrapped.dump() == "[5]");
    json copy(j);
    CHECK(copy.dump() == "5");
    CHECK(json::array().dump() == "[]");
    CHECK(json::object().dump() == "{}");
}

TEST_CASE("nested braced lists build nested objects and arrays") {
    const json j = {{"user", {{"id", 7}, {"tags", {"a", "b"}}}}, {"empty", json::object()}};
    CHECK(j.dump() == R"({"user":{"id":7,"tags":["a","b"]},"empty":{}})");
    const json o = json::object({{"a", 1}, {"b", {1, 2}}, {"a", 3}});
    CHECK(o.dump() == R"({"a":3,"b":[1,2]})");
}

TEST_CASE("a repeated key in a braced object keeps its first position and last value") {
    const json j = {{"a", 1}, {"b", 2}, {"a", 3}};
    CHECK(j.dump() == R"({"a":3,"b":2})");
}

TEST_CASE("a string literal becomes a string, not a bool; bool and integer types are exact") {
    const json s = "text";
    CHECK(s.is_string());
    const char* none = nullptr;
    CHECK(json(none).is_null());
    CHECK(json(std::string_view("sv")).as_string() == "sv");
    CHECK(json(std::string("str")).as_string() == "str");
    CHECK(json(true).is_bool());
    CHECK(json(static_cast<unsigned char>(200)).as_int64() == 200);
    CHECK(json(static_cast<short>(-2)).as_int64() == -2);
    CHECK(json(2.5F).as_double() == 2.5);
    CHECK(json(7U).kind() == json_kind::int64);  // uint64 only for values above INT64_MAX
    static_assert(!std::is_constructible_v<json, char>);
    static_assert(!std::is_constructible_v<json, int*>);
    static_assert(!std::is_convertible_v<void*, json>);
}

TEST_CASE("wrong-type access throws json_type_error naming expected and actual types") {
    const json j = {{"n", 1}};
    CHECK_THROWS_WITH_AS((void)j["n"].as_string(), "json: expected string, got int64",
                         tessera::json_type_error);
    CHECK_THROWS_WITH_AS((void)j.as_array(), "json: expected array, got object",
                         tessera::json_type_error);
    CHECK_THROWS_WITH_AS((void)json("x").as_double(), "json: expected number, got string",
                         tessera::json_type_error);
    // Doubles are not integers, even integral ones.
    CHECK_THROWS_AS((void)json(1.0).as_int64(), tessera::json_type_error);
    CHECK_THROWS_AS((void)json(true).as_int64(), tessera::json_type_error);
    CHECK_THROWS_AS((void)json(1)["k"], tessera::json_type_error);
    CHECK_THROWS_AS((void)json("s").size(), tessera::json_type_error);
    CHECK_THROWS_AS((void)json(1).push_back(2), tessera::json_type_error);
    // Every json error shares one base, so a handler can map them all to one response.
    CHECK_THROWS_AS((void)json(1).as_bool(), tessera::json_error);
    CHECK_THROWS_AS((void)json(1).as_bool(), std::runtime_error);
}

TEST_CASE("integer accessors refuse values that do not fit") {
    const json big = std::numeric_limits<std::uint64_t>::max();
    CHECK(big.kind() == json_kind::uint64);
    CHECK_THROWS_AS((void)big.as_int64(), tessera::json_type_error);
    CHECK(big.as_uint64() == std::numeric_limits<std::uint64_t>::max());
    CHECK_THROWS_AS((void)json(-1).as_uint64(), tessera::json_type_error);
    CHECK(json(5).as_uint64() == 5U);
    CHECK(json(5).as_double() == 5.0);
    CHECK(big.as_double() == 18446744073709551615.0);
}

TEST_CASE("64-bit integer boundaries round-trip through parse and dump exactly") {
    const std::string cases[] = {"-9223372036854775808", "9223372036854775807",
                                 "9223372036854775808", "18446744073709551615", "0"};
    for (const std::string& text : cases) {
        CAPTURE(text);
        CHECK(parse_json(text).dump() == text);
    }
    CHECK(parse_json("-9223372036854775808").as_int64() ==
          std::numeric_limits<std::int64_t>::min());
    CHECK(parse_json("9223372036854775807").as_int64() == std::numeric_limits<std::int64_t>::max());
    CHECK(parse_json("9223372036854775808").kind() == json_kind::uint64);
    CHECK(parse_json("18446744073709551615").as_uint64() ==
          std::numeric_limits<std::uint64_t>::max());
    CHECK(json(std::numeric_limits<std::int64_t>::min()).dump() == "-9223372036854775808");
    CHECK(json(std::numeric_limits<std::uint64_t>::max()).dump() == "18446744073709551615");
}

TEST_CASE("numbers parse to the kind their text spells: 1 is an integer, 1.0 and 1e2 are doubles") {
    CHECK(parse_json("1").kind() == json_kind::int64);
    CHECK(parse_json("1.0").kind() == json_kind::floating);
    CHECK(parse_json("1e2").kind() == json_kind::floating);
    CHECK(parse_json("1.0").dump() == "1.0");
    CHECK(parse_json("-0.0").dump() == "-0.0");
    CHECK(parse_json("0.1").dump() == "0.1");
}

TEST_CASE("integers beyond the 64-bit ranges are parse errors, not silently rounded") {
    CHECK_THROWS_AS((void)parse_json("18446744073709551616"), tessera::json_parse_error);
    CHECK_THROWS_AS((void)parse_json("-9223372036854775809"), tessera::json_parse_error);
}

TEST_CASE("malformed input throws json_parse_error with simdjson's message") {
    const char* bad[] = {"",       "   ",     "{\"a\":",  "[1,2",   "[1] x", "1 2",
                         "[1,]",   "{a:1}",   "tru",      "01",     "'s'",   "\"unterminated",
                         "\"\\x\"", "\"\\ud800\"", "NaN", "1e400"};
    for (const char* text : bad) {
        CAPTURE(text);
        CHECK_THROWS_AS((void)parse_json(text), tessera::json_parse_error);
    }
    CHECK_THROWS_WITH((void)parse_json("[1] x"),
                      doctest::Contains("json: The JSON document has an improper structure"));
    CHECK_THROWS_WITH((void)parse_json(""), doctest::Contains("Empty"));
}

TEST_CASE("invalid UTF-8 in input is a parse error") {
    CHECK_THROWS_WITH_AS((void)parse_json("\"\xff\""), doctest::Contains("UTF-8"),
                         tessera::json_parse_error);
}

TEST_CASE("a parsed object with a repeated key keeps the first position and the last value") {
    const json j = parse_json(R"({"a":1,"b":2,"a":3})");
    CHECK(j.dump() == R"({"a":3,"b":2})");
}

TEST_CASE("repeated keys collapse the same way in objects large enough to be sort-checked") {
    std::string text = "{";
    for (int i = 0; i < 100; ++i) {
        text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    }
    text += R"("k5":"again","k99":"last"})";
    const json j = parse_json(text);
    CHECK(j.size() == 100);
    CHECK(j.as_object()[5].first == "k5");
    CHECK(j["k5"].as_string() == "again");
    CHECK(j.as_object()[99].second.as_string() == "last");
}

TEST_CASE("building from an object_t with repeated keys applies the same rule") {
    json::object_t members;
    for (int i = 0; i < 50; ++i) members.emplace_back("k" + std::to_string(i % 10), i);
    const json big(std::move(members));
    REQUIRE(big.size() == 10);
    CHECK(big.as_object()[0].first == "k0");
    CHECK(big["k0"].as_int64() == 40);
    CHECK(big["k9"].as_int64() == 49);
    const json small(json::object_t{{"a", 1}, {"b", 2}, {"a", 3}});
    CHECK(small.dump() == R"({"a":3,"b":2})");
}

TEST_CASE("unicode escapes in input are decoded to UTF-8") {
    CHECK(parse_json(R"("caf\u00e9 \u20ac \ud83d\ude00")").as_string() ==
          "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    CHECK(parse_json(R"("a\nb\"c\\d\/e")").as_string() == "a\nb\"c\\d/e");
    CHECK(parse_json(R"("\u0000")").as_string() == std::string(1, '\0'));
}

TEST_CASE("nesting up to 1024 levels parses; deeper input is an error, not a crash") {
    const std::string ok = std::string(1024, '[') + std::string(1024, ']');
    const json deep = parse_json(ok);
    CHECK(deep.dump() == ok);
    // A value inside is a level too (simdjson's depth counts it): 1023 arrays may hold one.
    const std::string holding = std::string(1023, '[') + "1" + std::string(1023, ']');
    CHECK(parse_json(holding).dump() == holding);
    CHECK_THROWS_AS((void)parse_json(std::string(1024, '[') + "1" + std::string(1024, ']')),
                    tessera::json_parse_error);
    const std::string too_deep = std::string(1025, '[') + std::string(1025, ']');
    CHECK_THROWS_WITH_AS((void)parse_json(too_deep), doctest::Contains("too deep"),
                         tessera::json_parse_error);
    const std::string hostile = std::string(100000, '[') + std::string(100000, ']');
    CHECK_THROWS_AS((void)parse_json(hostile), tessera::json_parse_error);
    CHECK_THROWS_AS((void)parse_json(std::string(100000, '{')), tessera::json_parse_error);
}

TEST_CASE("parse_json reads only the view it is given, not the bytes after it") {
    const std::string buffer = R"([1,2]garbage)";
    CHECK(parse_json(std::string_view(buffer).substr(0, 5)).dump() == "[1,2]");
}

TEST_CASE("parse_json parses a string with spare capacity in place and one without by copy") {
    std::string roomy = R"({"a":[1,2,3]})";
    roomy.reserve(roomy.size() + 128);
    CHECK(parse_json(roomy).dump() == R"({"a":[1,2,3]})");
    std::string tight = R"({"b":true})";
    tight.shrink_to_fit();
    CHECK(parse_json(tight).dump() == R"({"b":true})");
}

TEST_CASE("documents over a megabyte parse with a one-off parser") {
    std::string text = "[";
    while (text.size() < (std::size_t{3} << 20)) text += "\"abcdefghijklmnopqrstuvwxyz\",";
    text += "1]";
    const json j = parse_json(std::string_view(text));
    CHECK(j.size() > 100000);
    CHECK(j.as_array().back().as_int64() == 1);
    CHECK(parse_json("[7]").dump() == "[7]");  // the thread's cached parser still works after
}

TEST_CASE("dump prints every type compactly") {
    CHECK(json().dump() == "null");
    CHECK(json(true).dump() == "true");
    CHECK(json(false).dump() == "false");
    CHECK(json(-42).dump() == "-42");
    CHECK(json(3.0).dump() == "3.0");
    CHECK(json(0.1).dump() == "0.1");
    CHECK(json("a\"b\n\xc3\xa9").dump() == "\"a\\\"b\\n\xc3\xa9\"");
    CHECK(json::array({1, json::array(), json::object()}).dump() == "[1,[],{}]");
    CHECK(json{{"k", nullptr}}.dump() == R"({"k":null})");
}

TEST_CASE("parse then dump round-trips a document with every type") {
    const std::string text =
        R"({"s":"x\ty","i":-1,"u":18446744073709551615,"d":2.5,"b":false,"n":null,)"
        R"("a":[{}],"o":{"k":[]}})";
    CHECK(parse_json(text).dump() == text);
}

TEST_CASE("dump_to appends, and on NaN restores the caller's buffer and throws") {
    std::string out = "prefix:";
    json{{"a", 1}}.dump_to(out);
    CHECK(out == R"(prefix:{"a":1})");
    const json bad = {{"ok", 1}, {"bad", std::numeric_limits<double>::quiet_NaN()}};
    CHECK_THROWS_AS((void)bad.dump_to(out), tessera::json_value_error);
    CHECK(out == R"(prefix:{"a":1})");
    CHECK_THROWS_AS((void)json(std::numeric_limits<double>::infinity()).dump(),
                    tessera::json_value_error);
}

TEST_CASE("write_to embeds a value in a streamed document") {
    tessera::json_writer w;
    w.begin_object().key("data");
    json{{"x", 1}}.write_to(w);
    w.member("more", true).end_object();
    CHECK(w.str() == R"({"data":{"x":1},"more":true})");
}

TEST_CASE("mutable operator[] inserts null members and turns null into an object") {
    json j;
    j["a"] = 1;
    j["b"];
    j["a"] = 2;
    CHECK(j.dump() == R"({"a":2,"b":null})");
}

TEST_CASE("const operator[] throws json_lookup_error for missing keys and bad indices") {
    const json j = {{"a", json::array({10, 20})}};
    CHECK(j["a"][1].as_int64() == 20);
    CHECK_THROWS_WITH_AS((void)j["missing"], "json: no member \"missing\"",
                         tessera::json_lookup_error);
    CHECK_THROWS_AS((void)j["a"][2], tessera::json_lookup_error);
    json m = json::array({1});
    CHECK_THROWS_AS((void)m[1], tessera::json_lookup_error);  // no auto-extension
}

TEST_CASE("find and contains look up members and are false on non-objects") {
    json j = {{"a", 1}};
    REQUIRE(j.find("a") != nullptr);
    CHECK(j.find("a")->as_int64() == 1);
    CHECK(j.find("b") == nullptr);
    CHECK(j.contains("a"));
    CHECK_FALSE(j.contains("b"));
    CHECK_FALSE(json::array({1}).contains("a"));
    CHECK(json("a").find("a") == nullptr);
    *j.find("a") = "changed";
    CHECK(j["a"].as_string() == "changed");
}

TEST_CASE("set replaces in place or appends; push_back and erase edit containers") {
    json j;
    j.set("x", 1);
    j.set("y", 2);
    CHECK(j.set("x", 3).as_int64() == 3);
    CHECK(j.dump() == R"({"x":3,"y":2})");
    CHECK(j.erase("x"));
    CHECK_FALSE(j.erase("x"));
    CHECK(j.dump() == R"({"y":2})");
    json a;
    a.push_back(1);
    a.push_back("two");
    CHECK(a.dump() == R"([1,"two"])");
    CHECK(a.size() == 2);
    CHECK_FALSE(a.empty());
}

TEST_CASE("equality is structural; numbers compare by exact value; objects ignore order") {
    CHECK(json(1) == json(1.0));
    CHECK(json(1) != json(1.5));
    CHECK(json(1) != json("1"));
    // UINT64_MAX as a double rounds up to 2^64, which is a different number.
    CHECK_FALSE(json(std::numeric_limits<std::uint64_t>::max()) == json(18446744073709551615.0));
    CHECK(json(std::uint64_t{1} << 63) == json(9223372036854775808.0));
    // 2^53 + 1 is not representable as a double: it must not equal 2^53.
    CHECK(json(std::int64_t{9007199254740993}) != json(9007199254740992.0));
    CHECK(json(std::int64_t{9007199254740992}) == json(9007199254740992.0));
    CHECK(json{{"a", 1}, {"b", 2}} == json{{"b", 2}, {"a", 1}});
    CHECK(json{{"a", 1}} != json{{"a", 1}, {"b", 2}});
    CHECK(json{1, 2} != json{2, 1});
    CHECK(json() == nullptr);
    CHECK(json("s") == "s");
    CHECK(parse_json(R"({"l":[1,2.5,null,true,"x"]})") ==
          json{{"l", json::array({1, 2.5, nullptr, true, "x"})}});
}
