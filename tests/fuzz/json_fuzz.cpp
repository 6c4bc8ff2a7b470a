// libFuzzer target for JSON: parse_json (simdjson turned into tessera's `json` tree), json::dump
// and the streaming json_writer.
//
// Build and run: scripts/fuzz (see its `sources` map), or by hand with clang:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Ilib/include \
//     tests/fuzz/json_fuzz.cpp lib/src/json.cpp lib/src/json_writer.cpp -lsimdjson -o fuzz
//   cp -r tests/fuzz/corpus/json /tmp/corpus && ./fuzz -max_total_time=60 /tmp/corpus
//
// Input layout: an input starting with 'W' is a program for a json_writer (see run_writer: one
// op byte, then its arguments, per call); any other input is JSON text as a client would send
// it (text starting with 'W' is never valid JSON, so the text mode loses nothing).
//
// Text mode checks, besides memory safety (the sanitizers; deep nesting included):
// - every accessor on every node of a parsed tree answers for its own kind and throws
//   json_type_error (or json_lookup_error for an absent key or index) otherwise;
// - parse_json returns a value or throws json_parse_error, nothing else; the ways in (a view, a
//   std::string parsed in place, a std::string copied, a view with other bytes after it) agree;
// - differential: an independent strict RFC 8259 parser in this file accepts exactly the texts
//   parse_json accepts and builds an identical tree: an integer text is int64, or uint64 above
//   INT64_MAX, and beyond 64 bits an error; a fraction or exponent makes a correctly rounded
//   double, and one too large for a double an error; strings are decoded to valid UTF-8 (a lone
//   surrogate escape is an error); a repeated key keeps its first position and last value;
//   nesting is limited as simdjson limits it (see max_depth);
// - the tree keeps the header's promises (UTF-8 strings and keys, unique keys, uint64 only above
//   INT64_MAX, finite doubles) and operator== compares numbers of different kinds by exact value,
//   holds for identical trees and ignores member order;
// - dump never throws on a parsed value, is compact, escapes exactly as json_writer documents,
//   re-parses to an identical tree (kinds and the sign of -0.0 included) and is a fixed point
//   (dump(parse(dump(v))) == dump(v)); dump_to appends it; write_to embeds it in a stream.
// Writer mode checks that every call either writes or throws exactly when a model of the
// documented rules says so (logic_error for misuse, json_value_error for NaN/infinity), that a
// throwing call leaves the output untouched, that output only grows, that moves and take() keep
// what they document, that each complete document (several, NDJSON-style, after reset) is valid
// JSON parsing back to the values written, and that dump_to restores its buffer on a NaN.

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/json.hpp"
#include "tessera/json_writer.hpp"

#include "reference_utf8.hpp"

namespace {

using tessera::json;
using tessera::json_kind;
using tessera::json_writer;
using tessera::fuzz::valid_utf8;

void check(bool ok) {
    if (!ok) __builtin_trap();
}


void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

// simdjson (the DOM parser's default max depth, 1024) refuses a document once 1024 containers
// that hold something are open; an empty container inside the 1023rd still parses. (So
// "1024 levels" parse only when the innermost container is empty: see the report on
// json.hpp's comment.) RFC 8259 §9 lets a parser set such a limit.
constexpr int max_depth = 1023;

// An independent, deliberately plain recursive-descent parser of RFC 8259 JSON text. Builds the
// tree parse_json should build; recursion is bounded by max_depth. With `check_utf8` false,
// bytes >= 0x80 in strings are taken as they are (for writer output holding invalid UTF-8).
class reference_parser {
public:
    explicit reference_parser(std::string_view text, bool check_utf8 = true)
        : in_(text), check_utf8_(check_utf8) {}

    std::optional<json> document() {
        if (check_utf8_ && !valid_utf8(in_)) return std::nullopt;
        skip_ws();
        json v;
        if (!value(v, 0)) return std::nullopt;
        skip_ws();
        if (pos_ != in_.size()) return std::nullopt;
        return v;
    }

private:
    bool at_end() const { return pos_ >= in_.size(); }
    char peek() const { return in_[pos_]; }
    void skip_ws() {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) {
            ++pos_;
        }
    }
    bool literal(std::string_view word) {
        if (in_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    bool value(json& out, int depth) {
        if (at_end()) return false;
        switch (peek()) {
            case '{': return object(out, depth);
            case '[': return array(out, depth);
            case '"': {
                std::string s;
                if (!string(s)) return false;
                out = json(std::move(s));
                return true;
            }
            case 't': out = json(true); return literal("true");
            case 'f': out = json(false); return literal("false");
            case 'n': out = json(nullptr); return literal("null");
            default: return number(out);
        }
    }

    bool array(json& out, int depth) {
        ++pos_;  // '['
        skip_ws();
        json::array_t elements;
        if (!at_end() && peek() == ']') {
            ++pos_;
            out = json(std::move(elements));
            return true;
        }
        if (depth + 1 > max_depth) return false;
        while (true) {
            skip_ws();
            json element;
            if (!value(element, depth + 1)) return false;
            elements.push_back(std::move(element));
            skip_ws();
            if (at_end()) return false;
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() != ']') return false;
            ++pos_;
            out = json(std::move(elements));
            return true;
        }
    }

    bool object(json& out, int depth) {
        ++pos_;  // '{'
        skip_ws();
        json::object_t members;
        if (!at_end() && peek() == '}') {
            ++pos_;
            out = json(std::move(members));
            return true;
        }
        if (depth + 1 > max_depth) return false;
        while (true) {
            skip_ws();
            if (at_end() || peek() != '"') return false;
            std::string key;
            if (!string(key)) return false;
            skip_ws();
            if (at_end() || peek() != ':') return false;
            ++pos_;
            skip_ws();
            json member;
            if (!value(member, depth + 1)) return false;
            // The documented rule for a repeated key: first position, last value (a plain scan,
            // independent of json.cpp's sorting for large objects).
            bool replaced = false;
            for (auto& [k, v] : members) {
                if (k == key) {
                    v = std::move(member);
                    replaced = true;
                    break;
                }
            }
            if (!replaced) members.emplace_back(std::move(key), std::move(member));
            skip_ws();
            if (at_end()) return false;
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() != '}') return false;
            ++pos_;
            out = json(std::move(members));
            return true;
        }
    }

    bool hex4(std::uint32_t& out) {
        if (in_.size() - pos_ < 4) return false;
        out = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = in_[pos_++];
            std::uint32_t d;
            if (c >= '0' && c <= '9') d = static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') d = static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') d = static_cast<std::uint32_t>(c - 'A' + 10);
            else return false;
            out = out * 16 + d;
        }
        return true;
    }

    bool string(std::string& out) {
        ++pos_;  // '"'
        while (true) {
            if (at_end()) return false;
            const auto c = static_cast<unsigned char>(in_[pos_++]);
            if (c == '"') return true;
            if (c < 0x20) return false;
            if (c != '\\') {
                out.push_back(static_cast<char>(c));
                continue;
            }
            if (at_end()) return false;
            switch (in_[pos_++]) {
                case '"': out.push_back('"'); break;
                case '\\': out.push_back('\\'); break;
                case '/': out.push_back('/'); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'n': out.push_back('\n'); break;
                case 'r': out.push_back('\r'); break;
                case 't': out.push_back('\t'); break;
                case 'u': {
                    std::uint32_t cp;
                    if (!hex4(cp)) return false;
                    // A surrogate escape must be a high one followed by a low one: a lone half
                    // has no UTF-8 spelling, and parse_json promises valid UTF-8.
                    if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        std::uint32_t low;
                        if (!literal("\\u") || !hex4(low)) return false;
                        if (low < 0xDC00 || low > 0xDFFF) return false;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    }
                    append_utf8(out, cp);
                    break;
                }
                default: return false;
            }
        }
    }

    bool digits() {
        const std::size_t start = pos_;
        while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
        return pos_ != start;
    }

    bool number(json& out) {
        const std::size_t start = pos_;
        const bool negative = !at_end() && peek() == '-';
        if (negative) ++pos_;
        if (at_end()) return false;
        if (peek() == '0') {
            ++pos_;
        } else if (peek() >= '1' && peek() <= '9') {
            digits();
        } else {
            return false;
        }
        const std::size_t integer_end = pos_;
        bool floating = false;
        if (!at_end() && peek() == '.') {
            ++pos_;
            if (!digits()) return false;
            floating = true;
        }
        if (!at_end() && (peek() == 'e' || peek() == 'E')) {
            ++pos_;
            if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
            if (!digits()) return false;
            floating = true;
        }
        const std::string text(in_.substr(start, pos_ - start));
        if (floating) {
            // glibc's strtod rounds correctly; a number too large for a double is refused (it
            // would have no JSON spelling on the way out).
            const double d = std::strtod(text.c_str(), nullptr);
            if (!std::isfinite(d)) return false;
            out = json(d);
            return true;
        }
        std::uint64_t magnitude = 0;
        for (std::size_t i = negative ? start + 1 : start; i < integer_end; ++i) {
            if (__builtin_mul_overflow(magnitude, 10U, &magnitude) ||
                __builtin_add_overflow(magnitude, static_cast<unsigned>(in_[i] - '0'),
                                       &magnitude)) {
                return false;  // beyond 64 bits: an error, never rounded
            }
        }
        if (negative) {
            if (magnitude > (std::uint64_t{1} << 63)) return false;
            out = json(static_cast<std::int64_t>(0 - magnitude));  // "-0" is the integer 0
        } else {
            out = json(magnitude);  // json(uint64) picks int64 up to INT64_MAX
        }
        return true;
    }

    std::string_view in_;
    std::size_t pos_ = 0;
    bool check_utf8_;
};

// Identical trees: same kinds everywhere, doubles bit for bit (so -0.0 is not 0.0), members in
// the same order. Stricter than operator==, which compares numbers by value and ignores order.
bool same(const json& a, const json& b) {
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case json_kind::null: return true;
        case json_kind::boolean: return a.as_bool() == b.as_bool();
        case json_kind::int64: return a.as_int64() == b.as_int64();
        case json_kind::uint64: return a.as_uint64() == b.as_uint64();
        case json_kind::floating:
            return std::bit_cast<std::uint64_t>(a.as_double()) ==
                   std::bit_cast<std::uint64_t>(b.as_double());
        case json_kind::string: return a.as_string() == b.as_string();
        case json_kind::array: {
            const auto& x = a.as_array();
            const auto& y = b.as_array();
            if (x.size() != y.size()) return false;
            for (std::size_t i = 0; i < x.size(); ++i) {
                if (!same(x[i], y[i])) return false;
            }
            return true;
        }
        case json_kind::object: {
            const auto& x = a.as_object();
            const auto& y = b.as_object();
            if (x.size() != y.size()) return false;
            for (std::size_t i = 0; i < x.size(); ++i) {
                if (x[i].first != y[i].first || !same(x[i].second, y[i].second)) return false;
            }
            return true;
        }
    }
    return false;
}

// What the header promises about every parsed value: valid UTF-8 strings and keys, unique keys,
// uint64 only above INT64_MAX, finite doubles; and operator== on numbers of different kinds
// (exact value). Returns whether any object has two members.
bool check_parsed_invariants(const json& v) {
    bool reorderable = false;
    switch (v.kind()) {
        case json_kind::int64: {
            // operator== compares numbers by exact value across kinds: an integer equals the
            // double nearest to it only when that double is exactly it.
            const std::int64_t i = v.as_int64();
            const double d = static_cast<double>(i);
            const bool exact = static_cast<__int128>(d) == i;
            check((json(d) == v) == exact && (v == json(d)) == exact);
            break;
        }
        case json_kind::uint64: {
            const std::uint64_t u = v.as_uint64();
            check(u > static_cast<std::uint64_t>(INT64_MAX));
            const double d = static_cast<double>(u);
            const bool exact = static_cast<unsigned __int128>(d) == u;
            check((json(d) == v) == exact && (v == json(d)) == exact);
            break;
        }
        case json_kind::floating: {
            const double d = v.as_double();
            check(std::isfinite(d));
            if (std::trunc(d) == d && d >= -0x1p63 && d < 0x1p63) {
                const json i(static_cast<std::int64_t>(d));
                check(i == v && v == i);
            } else if (std::trunc(d) == d && d >= 0x1p63 && d < 0x1p64) {
                const json u(static_cast<std::uint64_t>(d));
                check(u == v && v == u);
            } else {
                // A fraction, or beyond the 64-bit ranges: no integer equals it (2^64 is not
                // UINT64_MAX, though UINT64_MAX converts to it).
                check(!(json(INT64_MIN) == v) && !(json(UINT64_MAX) == v));
                if (std::fabs(d) < 0x1p63) check(!(json(static_cast<std::int64_t>(d)) == v));
            }
            break;
        }
        case json_kind::string: check(valid_utf8(v.as_string())); break;
        case json_kind::array:
            for (const json& e : v.as_array()) reorderable |= check_parsed_invariants(e);
            break;
        case json_kind::object: {
            const auto& members = v.as_object();
            reorderable = members.size() >= 2;
            for (std::size_t i = 0; i < members.size(); ++i) {
                check(valid_utf8(members[i].first));
                // Unique keys (a quadratic check: fine at fuzzing sizes, capped anyway).
                if (members.size() <= 256) {
                    for (std::size_t j = 0; j < i; ++j) check(members[j].first != members[i].first);
                }
                check(v.find(members[i].first) == &members[i].second);
                reorderable |= check_parsed_invariants(members[i].second);
            }
            break;
        }
        default: break;
    }
    return reorderable;
}

// Whether `f` throws the exception type E; any other exception is a bug.
template <class E, class F>
bool throws(F f) {
    try {
        (void)f();
    } catch (const E&) {
        return true;
    } catch (...) {
        check(false);
    }
    return false;
}

// The accessors a handler reads a request body with, on every node of a parsed tree: each
// kind's predicate, `as_*` answering exactly its own kind (and the integers' documented range
// rules) and throwing json_type_error otherwise, size/empty, and lookups by key and index
// agreeing with the members (absent → nullptr or json_lookup_error), then erase on a copy.
void check_accessors(const json& v) {
    using tessera::json_lookup_error;
    using tessera::json_type_error;
    const json_kind k = v.kind();
    const bool is_int64 = k == json_kind::int64, is_uint64 = k == json_kind::uint64;
    check(v.is_null() == (k == json_kind::null) && v.is_bool() == (k == json_kind::boolean));
    check(v.is_integer() == (is_int64 || is_uint64) && v.is_double() == (k == json_kind::floating));
    check(v.is_number() == (v.is_integer() || v.is_double()));
    check(v.is_string() == (k == json_kind::string) && v.is_array() == (k == json_kind::array));
    check(v.is_object() == (k == json_kind::object));
    check(throws<json_type_error>([&] { return v.as_bool(); }) == !v.is_bool());
    const bool negative = is_int64 && v.as_int64() < 0;
    check(throws<json_type_error>([&] { return v.as_int64(); }) == !is_int64);
    check(throws<json_type_error>([&] { return v.as_uint64(); }) ==
          (!(is_int64 || is_uint64) || negative));
    if (is_int64 && !negative) check(v.as_uint64() == static_cast<std::uint64_t>(v.as_int64()));
    check(throws<json_type_error>([&] { return v.as_double(); }) == !v.is_number());
    if (is_int64) check(v.as_double() == static_cast<double>(v.as_int64()));
    if (is_uint64) check(v.as_double() == static_cast<double>(v.as_uint64()));
    check(throws<json_type_error>([&] { return v.as_string().size(); }) == !v.is_string());
    check(throws<json_type_error>([&] { return v.as_array().size(); }) == !v.is_array());
    check(throws<json_type_error>([&] { return v.as_object().size(); }) == !v.is_object());
    const bool container = v.is_array() || v.is_object();
    check(throws<json_type_error>([&] { return v.size(); }) == !container);
    if (container) check(v.empty() == (v.size() == 0));

    if (!v.is_object()) {
        check(v.find("") == nullptr && !v.contains("a"));
        check(throws<json_type_error>([&] { return v[std::string_view("a")].kind(); }));
    }
    if (!v.is_array()) {
        check(throws<json_type_error>([&] { return v[std::size_t{0}].kind(); }));
    }
    if (v.is_array()) {
        const auto& elements = v.as_array();
        for (std::size_t i = 0; i < elements.size(); ++i) {
            check(&v[i] == &elements[i]);
            check_accessors(elements[i]);
        }
        check(throws<json_lookup_error>([&] { return v[elements.size()].kind(); }));
    }
    if (v.is_object()) {
        const auto& members = v.as_object();
        for (const auto& [key, value] : members) {
            check(&v[std::string_view(key)] == &value && v.contains(key));
            // A key one byte longer names another member or none.
            const std::string longer = key + '\x01';
            const json* other = v.find(longer);
            check(other == nullptr ||
                  (other != &value && &v[std::string_view(longer)] == other));
            if (other == nullptr) {
                check(throws<json_lookup_error>(
                    [&] { return v[std::string_view(longer)].kind(); }));
            }
            check_accessors(value);
        }
        if (!members.empty() && members.size() <= 64) {
            json copy = v;
            check(copy.erase(members.front().first) && !copy.erase(members.front().first));
            check(copy.size() == members.size() - 1 && !copy.contains(members.front().first));
        }
    }
}

// A copy with every object's members in reverse order: operator== must not notice.
json reversed(const json& v) {
    if (v.is_array()) {
        json::array_t out;
        for (const json& e : v.as_array()) out.push_back(reversed(e));
        return json(std::move(out));
    }
    if (v.is_object()) {
        json::object_t out;
        const auto& members = v.as_object();
        for (auto it = members.rbegin(); it != members.rend(); ++it) {
            out.emplace_back(it->first, reversed(it->second));
        }
        return json(std::move(out));
    }
    return v;
}

// Dump is compact and escapes exactly as json_writer documents: outside strings no whitespace
// and nothing but ASCII; inside, no raw byte below 0x20, `\"`, `\\`, the short forms
// \b \t \n \f \r, and \u00xx (lower-case hex) only for the other control characters.
void check_dump_form(std::string_view d) {
    bool in_string = false;
    for (std::size_t i = 0; i < d.size(); ++i) {
        const auto c = static_cast<unsigned char>(d[i]);
        check(c >= 0x20);
        if (!in_string) {
            check(c != ' ' && c < 0x80);
            if (c == '"') in_string = true;
            continue;
        }
        if (c == '"') {
            in_string = false;
        } else if (c == '\\') {
            check(i + 1 < d.size());
            const char e = d[++i];
            if (e == 'u') {
                check(i + 4 < d.size() && d[i + 1] == '0' && d[i + 2] == '0');
                const char h = d[i + 3], l = d[i + 4];
                check(h == '0' || h == '1');
                check((l >= '0' && l <= '9') || (l >= 'a' && l <= 'f'));
                const int code = (h - '0') * 16 + (l <= '9' ? l - '0' : l - 'a' + 10);
                check(code != '\b' && code != '\t' && code != '\n' && code != '\f' &&
                      code != '\r');
                i += 4;
            } else {
                check(e == '"' || e == '\\' || e == 'b' || e == 't' || e == 'n' || e == 'f' ||
                      e == 'r');
            }
        }
    }
    check(!in_string);
}

enum class outcome { value, parse_error };

// parse_json must either return or throw json_parse_error (with simdjson's message after
// "json: "); any other exception escaping is a broken contract.
template <class Arg>
outcome try_parse(const Arg& text, json& out) {
    try {
        out = tessera::parse_json(text);
        return outcome::value;
    } catch (const tessera::json_parse_error& e) {
        check(std::string_view(e.what()).starts_with("json: "));
        return outcome::parse_error;
    } catch (...) {
        check(false);
    }
    return outcome::parse_error;
}

void run_text(std::string_view text) {
    json parsed;
    const outcome o = try_parse(text, parsed);

    // The other entry points agree: in place (spare capacity for simdjson's padding), copied,
    // and a view followed by bytes that would change the meaning if they were read.
    {
        std::string padded;
        padded.reserve(text.size() + 64);
        padded.assign(text);
        json other;
        check(try_parse(padded, other) == o);
        if (o == outcome::value) check(same(other, parsed));
        const std::string copied(text);
        check(try_parse(copied, other) == o);
        if (o == outcome::value) check(same(other, parsed));
        std::string longer(text);
        longer.append("]}\"x");
        check(try_parse(std::string_view(longer).substr(0, text.size()), other) == o);
        if (o == outcome::value) check(same(other, parsed));
    }

    // Differential against the reference parser.
    const std::optional<json> expected = reference_parser(text).document();
    check(expected.has_value() == (o == outcome::value));
    if (o != outcome::value) return;
    check(same(parsed, *expected));
    const bool reorderable = check_parsed_invariants(parsed);
    check_accessors(parsed);

    // Equality: reflexive on the tree and its copy, blind to member order.
    check(parsed == parsed);
    check(parsed == *expected);
    if (reorderable) {
        const json flipped = reversed(parsed);
        check(parsed == flipped && flipped == parsed);
    }

    // Dump: never throws on a parsed value, compact, and round-trips with kinds kept.
    std::string dumped;
    try {
        dumped = parsed.dump();
    } catch (...) {
        check(false);
    }
    check_dump_form(dumped);
    json again;
    check(try_parse(dumped, again) == outcome::value);
    check(same(again, parsed));
    const std::optional<json> reference_again = reference_parser(dumped).document();
    check(reference_again.has_value() && same(*reference_again, parsed));
    check(again.dump() == dumped);  // a fixed point after one round

    // dump_to appends after existing text; write_to embeds the same text in a stream.
    std::string appended = "prefix";
    parsed.dump_to(appended);
    check(appended == "prefix" + dumped);
    json_writer w;
    w.begin_array();
    parsed.write_to(w);
    parsed.write_to(w);
    w.end_array();
    check(w.complete());
    check(w.str() == "[" + dumped + "," + dumped + "]");
}

// ---- Writer mode ---------------------------------------------------------------------------

class byte_reader {
public:
    explicit byte_reader(std::string_view in) : in_(in) {}
    bool empty() const { return pos_ >= in_.size(); }
    std::uint8_t byte() { return empty() ? 0 : static_cast<std::uint8_t>(in_[pos_++]); }
    template <class T>
    T bits() {
        unsigned char raw[sizeof(T)] = {};
        for (auto& b : raw) b = byte();
        T out;
        std::memcpy(&out, raw, sizeof out);
        return out;
    }
    std::string text() {
        // A length byte, then up to that many bytes (pos_ never passes the end).
        const std::size_t n = std::min<std::size_t>(byte() % 40, in_.size() - pos_);
        std::string out(in_.substr(pos_, n));
        pos_ += n;
        return out;
    }

private:
    std::string_view in_;
    std::size_t pos_ = 0;
};

// The documented rules of json_writer, kept independently, plus the values written so far.
struct writer_model {
    struct level {
        bool is_object;
        json value;
        std::string pending_key;
        bool nonempty = false;
    };
    std::vector<level> open;
    bool has_root = false;  // a complete top-level value was written
    bool after_key = false;
    json root;
    bool invalid_utf8 = false;   // some string in this document is not UTF-8
    int deepest_nonempty = 0;    // deepest count of open non-empty containers
    bool repeated_key = false;   // some object got the same key twice

    bool value_allowed() const {
        if (open.empty()) return !has_root;
        return !open.back().is_object || after_key;
    }
    void note_text(std::string_view s) {
        if (!valid_utf8(s)) invalid_utf8 = true;
    }
    // The innermost open container gets its first content: all open containers now hold
    // something.
    void mark_top_nonempty() {
        if (open.empty() || open.back().nonempty) return;
        open.back().nonempty = true;
        deepest_nonempty = std::max(deepest_nonempty, static_cast<int>(open.size()));
    }
    void add(json v) {
        if (open.empty()) {
            root = std::move(v);
            has_root = true;
        } else {
            mark_top_nonempty();
            level& top = open.back();
            if (top.is_object) {
                if (top.value.contains(top.pending_key)) repeated_key = true;
                // A repeated key is written twice; parsing then keeps the first position and
                // the last value, which is what `set` does.
                top.value.set(top.pending_key, std::move(v));
            } else {
                top.value.push_back(std::move(v));
            }
        }
        after_key = false;
    }
    void begin(bool is_object) {
        mark_top_nonempty();
        open.push_back({is_object, is_object ? json::object() : json::array(), {}});
        after_key = false;
    }
    void end() {
        json v = std::move(open.back().value);
        open.pop_back();
        add(std::move(v));
    }
    void reset() { *this = writer_model{}; }
};

struct snapshot {
    explicit snapshot(std::string_view text)
        : size(text.size()),
          tail(text.substr(text.size() - std::min<std::size_t>(text.size(), 32))) {}
    bool matches(std::string_view text) const {
        return text.size() == size && text.ends_with(tail);
    }
    std::size_t size;
    std::string tail;
};

// One complete document the writer produced must be the values the model recorded.
void check_document(std::string_view text, const writer_model& m) {
    // Structure is always valid; only the depth limit can make a parser refuse it.
    const std::optional<json> lenient = reference_parser(text, false).document();
    check(lenient.has_value() == (m.deepest_nonempty <= max_depth));
    if (lenient) check(same(*lenient, m.root));
    json parsed;
    const bool expect_parse = !m.invalid_utf8 && m.deepest_nonempty <= max_depth;
    check((try_parse(text, parsed) == outcome::value) == expect_parse);
    if (expect_parse) {
        check(same(parsed, m.root));
        // json::dump writes what the writer wrote (unless a repeated key was collapsed).
        if (!m.repeated_key) check(parsed.dump() == text);
    }
}

void run_writer(std::string_view program) {
    byte_reader in(program);
    const std::uint8_t config = in.byte();
    const bool borrowing = (config & 1) != 0;
    std::string external = (config & 2) != 0 ? "existing " : "";
    std::optional<json_writer> w;
    if (borrowing) w.emplace(external); else w.emplace();
    writer_model m;
    std::size_t doc_start = w->str().size();
    std::optional<double> rejected_number;  // a NaN or infinity the writer refused
    // Ends the current document: if complete, it stays in the output and must hold up; the
    // next one starts after it.
    const auto reset = [&] {
        if (m.has_root && m.open.empty()) {
            check_document(std::string_view(w->str()).substr(doc_start), m);
        }
        w->reset();
        check(w->depth() == 0 && !w->complete());
        m.reset();
        doc_start = w->str().size();
    };

    while (!in.empty()) {
        std::uint8_t op = in.byte();
        // Once a document is complete, an op byte below 0x80 starts the next one first, as
        // NDJSON would; with the high bit set the op goes to the complete writer (a second
        // top-level value must throw). Random programs would otherwise spend most of their
        // ops on that one error.
        if (m.has_root && m.open.empty() && op < 0x80 && op % 16 != 14 && op % 16 != 15) reset();
        op %= 16;
        // The output so far, by length and its last bytes (copying it all on every step
        // would make long programs quadratic).
        const snapshot before(w->str());
        const std::size_t depth_before = w->depth();
        enum class expect { ok, logic, value_error } e = expect::ok;
        std::optional<json> written;  // the value an accepted op adds
        std::optional<bool> opened;   // an accepted op opens a container (true: an object)
        bool closed = false;          // an accepted op closes the innermost container
        bool threw_logic = false, threw_value = false;
        try {
            switch (op) {
                case 0:
                    if (!m.value_allowed()) e = expect::logic;
                    w->begin_object();
                    opened = true;
                    break;
                case 1:
                    if (m.open.empty() || !m.open.back().is_object || m.after_key) {
                        e = expect::logic;
                    }
                    w->end_object();
                    closed = true;
                    break;
                case 2:
                    if (!m.value_allowed()) e = expect::logic;
                    w->begin_array();
                    opened = false;
                    break;
                case 3:
                    if (m.open.empty() || m.open.back().is_object) e = expect::logic;
                    w->end_array();
                    closed = true;
                    break;
                case 4:
                case 13: {
                    const std::string k = in.text();
                    if (m.open.empty() || !m.open.back().is_object || m.after_key) {
                        e = expect::logic;
                    }
                    if (e == expect::ok) m.note_text(k);
                    const auto n = static_cast<std::int8_t>(in.byte());
                    if (in.byte() % 2 == 0) {
                        w->key(k);
                        if (e == expect::ok) m.open.back().pending_key = k, m.after_key = true;
                    } else {
                        // member() = key() then value(): a failing key writes neither.
                        w->member(k, n);
                        if (e == expect::ok) {
                            m.open.back().pending_key = k;
                            m.after_key = true;
                            written = json(n);
                        }
                    }
                    break;
                }
                case 5:
                    if (!m.value_allowed()) e = expect::logic;
                    w->value(nullptr);
                    written = json(nullptr);
                    break;
                case 6: {
                    const std::uint8_t arg = in.byte();
                    if (!m.value_allowed()) e = expect::logic;
                    if ((arg & 2) != 0) {
                        // raw(): pre-serialised text is one value, separators still handled.
                        w->raw(R"([1,{"r":null}])");
                        written = json::array({1, json::object({{"r", nullptr}})});
                    } else {
                        w->value((arg & 1) != 0);
                        written = json((arg & 1) != 0);
                    }
                    break;
                }
                case 7: {
                    const auto n = in.bits<std::int64_t>();
                    if (!m.value_allowed()) e = expect::logic;
                    w->value(n);
                    written = json(n);
                    break;
                }
                case 8: {
                    const auto n = in.bits<std::uint64_t>();
                    if (!m.value_allowed()) e = expect::logic;
                    w->value(n);
                    written = json(n);
                    break;
                }
                case 9: {
                    const auto d = in.bits<double>();
                    if (!m.value_allowed()) e = expect::logic;
                    else if (!std::isfinite(d)) e = expect::value_error;
                    if (!std::isfinite(d)) rejected_number = d;
                    w->value(d);
                    written = json(d);
                    break;
                }
                case 10: {
                    const auto f = in.bits<float>();
                    if (!m.value_allowed()) e = expect::logic;
                    else if (!std::isfinite(f)) e = expect::value_error;
                    w->value(f);
                    if (e == expect::ok) {
                        // Shortest text that reads back as the same float.
                        char buf[64];
                        const auto r = std::to_chars(buf, buf + sizeof buf, f);
                        const double read_back =
                            std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
                        check(static_cast<float>(read_back) == f);
                        written = json(read_back);
                    }
                    break;
                }
                case 11: {
                    const std::string s = in.text();
                    if (!m.value_allowed()) e = expect::logic;
                    if (e == expect::ok) m.note_text(s);
                    w->value(std::string_view(s));
                    written = json(s);
                    break;
                }
                case 12: {
                    const std::string s = in.text();
                    const bool null = (in.byte() & 1) != 0;
                    if (!m.value_allowed()) e = expect::logic;
                    if (null) {
                        w->value(static_cast<const char*>(nullptr));
                        written = json(nullptr);
                    } else {
                        const std::string c_string(s.c_str());  // up to the first NUL
                        if (e == expect::ok) m.note_text(c_string);
                        w->value(s.c_str());
                        written = json(c_string);
                    }
                    break;
                }
                case 14:
                    reset();
                    continue;
                case 15: {
                    if ((in.byte() & 1) != 0) {
                        // take(): the whole target string leaves, structure is forgotten.
                        if (m.has_root && m.open.empty()) {
                            check_document(std::string_view(w->str()).substr(doc_start), m);
                        }
                        const std::string taken = w->take();
                        check(before.matches(taken));
                        check(w->str().empty() && w->depth() == 0 && !w->complete());
                        m.reset();
                        doc_start = 0;
                    } else {
                        // A move keeps the text (owning) or the target (borrowing) and the state.
                        const std::string* target = &w->str();
                        json_writer moved(std::move(*w));
                        check(before.matches(moved.str()) && moved.depth() == depth_before);
                        if (borrowing) check(&moved.str() == target);
                        check(w->depth() == 0 && !w->complete());
                        w.reset();
                        w.emplace(std::move(moved));
                        check(before.matches(w->str()) && w->depth() == depth_before);
                    }
                    continue;
                }
            }
        } catch (const tessera::json_value_error&) {
            threw_value = true;
        } catch (const std::logic_error&) {
            threw_logic = true;
        } catch (...) {
            check(false);
        }
        check(threw_logic == (e == expect::logic));
        check(threw_value == (e == expect::value_error));
        if (e != expect::ok) {
            // Thrown before writing anything.
            check(before.matches(w->str()) && w->depth() == depth_before);
            continue;
        }
        // Output only grows.
        check(w->str().size() > before.size && before.matches(w->str().substr(0, before.size)));
        if (opened) m.begin(*opened);
        if (closed) m.end();
        if (written) m.add(std::move(*written));
        check(w->depth() == m.open.size());
        check(w->complete() == (m.has_root && m.open.empty()));
    }
    if (m.has_root && m.open.empty()) {
        check_document(std::string_view(w->str()).substr(doc_start), m);
    }
    // dump_to restores the caller's buffer when a NaN or infinity hides inside.
    if (rejected_number) {
        const json bad = json::array({m.has_root ? m.root : json(), json{{"x", *rejected_number}}});
        std::string out = "kept";
        bool threw = false;
        try {
            bad.dump_to(out);
        } catch (const tessera::json_value_error&) {
            threw = true;
        }
        check(threw && out == "kept");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (!input.empty() && input[0] == 'W') {
        run_writer(input.substr(1));
    } else {
        run_text(input);
    }
    return 0;
}
