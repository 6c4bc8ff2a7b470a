#include <doctest/doctest.h>

#include "tessera/json.hpp"
#include "tessera/json_writer.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

using tessera::json_value_error;
using tessera::json_writer;

namespace {

std::string write_string(std::string_view text) {
    json_writer w;
    w.value(text);
    return w.take();
}

std::string write_double(double d) {
    json_writer w;
    w.value(d);
    return w.take();
}

template <class T>
concept writable = requires(json_writer& w, T v) { w.value(v); };

}  // namespace

TEST_CASE("the writer escapes every control character 0x00-0x1F, short forms where JSON has them") {
    for (int c = 0; c < 0x20; ++c) {
        CAPTURE(c);
        const char byte = static_cast<char>(c);
        std::string expected;
        switch (c) {
            case '\b': expected = "\\b"; break;
            case '\t': expected = "\\t"; break;
            case '\n': expected = "\\n"; break;
            case '\f': expected = "\\f"; break;
            case '\r': expected = "\\r"; break;
            default: {
                constexpr char hex[] = "0123456789abcdef";
                expected = std::string("\\u00") + hex[c >> 4] + hex[c & 0xF];
            }
        }
        CHECK(write_string(std::string_view(&byte, 1)) == "\"" + expected + "\"");
    }
    CHECK(write_string(std::string_view("\x1f", 1)) == "\"\\u001f\"");  // lower-case hex
}

TEST_CASE("the writer escapes quotes and backslashes and leaves 0x7F and slashes alone") {
    CHECK(write_string("say \"hi\"") == R"("say \"hi\"")");
    CHECK(write_string("C:\\path") == R"("C:\\path")");
    CHECK(write_string("a/b\x7f") == "\"a/b\x7f\"");
}

TEST_CASE("the writer finds escapes at every position of an 8-byte block and in the tail") {
    // Exercises the block-skipping fast path: the byte to escape sits at each offset of a long
    // safe run, so a block test that missed a lane would copy it raw.
    for (std::size_t length : {7U, 8U, 9U, 16U, 17U, 40U}) {
        for (std::size_t pos = 0; pos < length; ++pos) {
            for (char special : {'"', '\\', '\n', '\x01'}) {
                std::string text(length, 'x');
                text[pos] = special;
                const std::string out = write_string(text);
                CAPTURE(length);
                CAPTURE(pos);
                CHECK(out.size() == text.size() + 2 + (special == '\x01' ? 5 : 1));
                CHECK(tessera::parse_json(out).as_string() == text);
            }
        }
    }
}

TEST_CASE("the writer passes UTF-8 through raw, without \\u escapes") {
    const std::string text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";  // café € 😀
    CHECK(write_string(text) == "\"" + text + "\"");
}

TEST_CASE("the writer copies invalid UTF-8 through unchanged, as documented") {
    const std::string text = "a\xff\xc3(b";
    CHECK(write_string(text) == "\"" + text + "\"");
}

TEST_CASE("the writer prints doubles in shortest round-trip form") {
    CHECK(write_double(0.1) == "0.1");
    CHECK(write_double(1.5) == "1.5");
    CHECK(write_double(1e21) == "1e+21");
    CHECK(write_double(1e300) == "1e+300");
    CHECK(write_double(5e-324) == "5e-324");
    CHECK(write_double(-2.5e-8) == "-2.5e-08");
    CHECK(write_double(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
    const double third = 1.0 / 3.0;
    double back = 0;
    const std::string text = write_double(third);
    std::from_chars(text.data(), text.data() + text.size(), back);
    CHECK(back == third);
}

TEST_CASE("the writer keeps integral doubles floating: 3.0 prints as 3.0, -0.0 as -0.0") {
    CHECK(write_double(3.0) == "3.0");
    CHECK(write_double(-0.0) == "-0.0");
    CHECK(write_double(0.0) == "0.0");
    CHECK(write_double(123456.0) == "123456.0");
    CHECK(write_double(1e16) == "1e+16");  // already has an exponent: no ".0"
}

TEST_CASE("the writer prints a float by its own shortest form") {
    json_writer w;
    w.begin_array().value(0.1F).value(2.0F).end_array();
    CHECK(w.str() == "[0.1,2.0]");
}

TEST_CASE("the writer rejects NaN and infinities and leaves the output untouched") {
    std::string out;
    json_writer w(out);
    w.begin_array().value(1);
    const std::string before = out;
    CHECK_THROWS_AS((void)w.value(std::numeric_limits<double>::quiet_NaN()), json_value_error);
    CHECK_THROWS_AS((void)w.value(std::numeric_limits<double>::infinity()), json_value_error);
    CHECK_THROWS_AS((void)w.value(-std::numeric_limits<double>::infinity()), json_value_error);
    CHECK_THROWS_AS((void)w.value(std::numeric_limits<float>::quiet_NaN()), json_value_error);
    CHECK(out == before);  // not even the comma was written
    w.value(2).end_array();
    CHECK(out == "[1,2]");
}

TEST_CASE("the writer prints integers of every width exactly") {
    json_writer w;
    w.begin_array()
        .value(std::numeric_limits<std::int64_t>::min())
        .value(std::numeric_limits<std::int64_t>::max())
        .value(std::numeric_limits<std::uint64_t>::max())
        .value(static_cast<std::int8_t>(-8))
        .value(static_cast<std::uint8_t>(200))
        .value(static_cast<short>(-3))
        .value(0U)
        .end_array();
    CHECK(w.str() ==
          "[-9223372036854775808,9223372036854775807,18446744073709551615,-8,200,-3,0]");
}

TEST_CASE("the writer writes null, booleans and C strings; a null C string is null") {
    const char* none = nullptr;
    json_writer w;
    w.begin_array().value(nullptr).value(true).value(false).value("lit").value(none).end_array();
    CHECK(w.str() == R"([null,true,false,"lit",null])");
}

TEST_CASE("the writer inserts commas and colons in nested structures") {
    json_writer w;
    // clang-format off
    w.begin_object()
        .key("a").value(1)
        .key("b").begin_array()
            .begin_object().end_object()
            .begin_array().end_array()
            .begin_object()
                .key("x").value("y")
                .key("z").begin_array().value(1).value(2).end_array()
            .end_object()
        .end_array()
        .member("c", "d")
        .key("e").begin_object().end_object()
        .end_object();
    // clang-format on
    CHECK(w.str() == R"({"a":1,"b":[{},[],{"x":"y","z":[1,2]}],"c":"d","e":{}})");
    CHECK(w.complete());
}

TEST_CASE("the writer escapes keys like values") {
    json_writer w;
    w.begin_object().key("a\"b\n").value(1).end_object();
    CHECK(w.str() == R"({"a\"b\n":1})");
}

TEST_CASE("the writer appends to a borrowed string after its existing content") {
    std::string out = "data: ";
    json_writer w(out);
    w.begin_array().value(1).end_array();
    CHECK(out == "data: [1]");
    CHECK(&w.str() == &out);
}

TEST_CASE("the writer streams a large array without building a DOM") {
    std::string out;
    json_writer w(out);
    w.begin_array();
    constexpr int count = 100000;
    for (int i = 0; i < count; ++i) {
        w.begin_object().member("id", i).member("ok", i % 2 == 0).end_object();
    }
    w.end_array();
    CHECK(w.complete());
    const tessera::json parsed = tessera::parse_json(out);
    REQUIRE(parsed.size() == count);
    CHECK(parsed[0].dump() == R"({"id":0,"ok":true})");
    CHECK(parsed[count - 1]["id"].as_int64() == count - 1);
}

TEST_CASE("the writer tracks nesting deeper than 64 levels") {
    json_writer w;
    for (int i = 0; i < 200; ++i) {
        if (i % 2 == 0) {
            w.begin_array();
        } else {
            w.begin_object().key("k");
        }
    }
    CHECK(w.depth() == 200);
    w.value(0);
    for (int i = 199; i >= 0; --i) {
        if (i % 2 == 0) {
            w.end_array();
        } else {
            w.end_object();
        }
    }
    CHECK(w.complete());
    CHECK(tessera::parse_json(w.str()).is_array());
}

TEST_CASE("the writer throws logic_error on misuse before writing anything") {
    json_writer w;
    w.begin_object();
    const std::string before = w.str();
    CHECK_THROWS_AS((void)w.value(1), std::logic_error);          // value without a key
    CHECK_THROWS_AS((void)w.end_array(), std::logic_error);       // mismatched end
    w.key("a");
    CHECK_THROWS_AS((void)w.key("b"), std::logic_error);          // two keys in a row
    CHECK_THROWS_AS((void)w.end_object(), std::logic_error);      // key without value
    CHECK(w.str() == before + R"("a":)");
    w.value(1).end_object();
    CHECK_THROWS_AS((void)w.value(2), std::logic_error);          // second top-level value
    CHECK_THROWS_AS((void)w.end_object(), std::logic_error);      // unbalanced end
    CHECK_THROWS_AS((void)w.key("x"), std::logic_error);          // key outside an object
    json_writer a;
    a.begin_array();
    CHECK_THROWS_AS((void)a.key("x"), std::logic_error);          // key inside an array
    CHECK(w.str() == R"({"a":1})");
}

TEST_CASE("reset lets a writer append another document, as NDJSON needs") {
    std::string out;
    json_writer w(out);
    w.value(1);
    w.reset();
    out += '\n';
    w.begin_object().member("n", 2).end_object();
    CHECK(out == "1\n{\"n\":2}");
}

TEST_CASE("raw inserts pre-serialised JSON as one value with separators") {
    json_writer w;
    w.begin_array().raw(R"({"cached":true})").raw("[1,2]").end_array();
    CHECK(w.str() == R"([{"cached":true},[1,2]])");
}

TEST_CASE("a moved owning writer keeps its text and keeps writing into it") {
    json_writer a;
    a.begin_array().value(1);
    json_writer b(std::move(a));
    b.value(2).end_array();
    CHECK(b.str() == "[1,2]");
    CHECK(b.take() == "[1,2]");
    CHECK(b.str().empty());
}

TEST_CASE("the writer does not accept characters or non-char pointers as values (compile-time)") {
    static_assert(!writable<char>);
    static_assert(!writable<char8_t>);
    static_assert(!writable<int*>);
    static_assert(writable<std::string>);
    static_assert(writable<signed char>);
}
