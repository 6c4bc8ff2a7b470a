#include "tessera/json.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace tessera {

std::string_view to_string(json_kind kind) noexcept {
    switch (kind) {
        case json_kind::null: return "null";
        case json_kind::boolean: return "bool";
        case json_kind::int64: return "int64";
        case json_kind::uint64: return "uint64";
        case json_kind::floating: return "double";
        case json_kind::string: return "string";
        case json_kind::array: return "array";
        case json_kind::object: return "object";
    }
    return "unknown";
}

namespace {

json::object_t::iterator find_member(json::object_t& members, std::string_view key) noexcept {
    auto it = members.begin();
    for (; it != members.end(); ++it) {
        if (it->first == key) break;
    }
    return it;
}

// Inserts or replaces in place: the one rule for repeated keys, shared by construction, `set`
// and parsing, so a key keeps the position where it first appeared.
json& set_member(json::object_t& members, std::string_view key, json value) {
    auto it = find_member(members, key);
    if (it != members.end()) {
        it->second = std::move(value);
        return it->second;
    }
    return members.emplace_back(std::string(key), std::move(value)).second;
}

// Objects with more members than this find duplicates by sorting rather than by comparing
// every pair, so a hostile body with many thousands of keys costs O(n log n), not O(n^2). (Sorting
// rather than hashing: std::hash is unseeded, so crafted keys could make a hash table quadratic.)
constexpr std::size_t sorted_check_threshold = 32;

// Collapses repeated keys: a key keeps its first position and takes its last value. Input
// without duplicates, the usual case, comes back unchanged.
json::object_t unique_members(json::object_t&& members) {
    const std::size_t n = members.size();
    if (n <= sorted_check_threshold) {
        bool duplicates = false;
        for (std::size_t i = 1; i < n && !duplicates; ++i) {
            for (std::size_t j = 0; j < i; ++j) {
                if (members[i].first == members[j].first) {
                    duplicates = true;
                    break;
                }
            }
        }
        if (!duplicates) return std::move(members);
        json::object_t unique;
        unique.reserve(n);
        for (auto& [key, value] : members) set_member(unique, key, std::move(value));
        return unique;
    }
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    // Stable, so equal keys stay in input order: the first of a run is the first occurrence.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return members[a].first < members[b].first;
    });
    std::vector<bool> dropped;
    for (std::size_t run = 0; run < n;) {
        std::size_t next = run + 1;
        while (next < n && members[order[next]].first == members[order[run]].first) ++next;
        if (next - run > 1) {
            if (dropped.empty()) dropped.assign(n, false);
            members[order[run]].second = std::move(members[order[next - 1]].second);
            for (std::size_t k = run + 1; k < next; ++k) dropped[order[k]] = true;
        }
        run = next;
    }
    if (dropped.empty()) return std::move(members);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (dropped[i]) continue;
        if (kept != i) members[kept] = std::move(members[i]);
        ++kept;
    }
    members.erase(members.begin() + static_cast<std::ptrdiff_t>(kept), members.end());
    return std::move(members);
}

bool looks_like_member(const json& element) {
    if (!element.is_array()) return false;
    const auto& pair = element.as_array();
    return pair.size() == 2 && pair[0].is_string();
}

// Exact comparison of an integer with a double: converting the integer to double would round
// above 2^53 and call distinct numbers equal.
bool int_equals_double(std::int64_t i, double d) noexcept {
    constexpr double two63 = 9223372036854775808.0;
    if (!(d >= -two63 && d < two63) || std::trunc(d) != d) return false;
    return static_cast<std::int64_t>(d) == i;
}
bool uint_equals_double(std::uint64_t u, double d) noexcept {
    constexpr double two64 = 18446744073709551616.0;
    if (!(d >= 0 && d < two64) || std::trunc(d) != d) return false;
    return static_cast<std::uint64_t>(d) == u;
}

}  // namespace

json::json(const char* text) {
    if (text != nullptr) value_.emplace<5>(text);
}

json::json(object_t members) : value_(std::in_place_index<7>, unique_members(std::move(members))) {}

json::json(std::initializer_list<json> elements) {
    bool is_object = elements.size() != 0;
    for (const json& element : elements) {
        if (!looks_like_member(element)) {
            is_object = false;
            break;
        }
    }
    if (is_object) {
        object_t members;
        members.reserve(elements.size());
        for (const json& element : elements) {
            const auto& pair = element.as_array();
            set_member(members, pair[0].as_string(), pair[1]);
        }
        value_.emplace<7>(std::move(members));
    } else {
        value_.emplace<6>(elements);
    }
}

json json::array(std::initializer_list<json> elements) {
    return json(array_t(elements));
}

json json::object(std::initializer_list<std::pair<std::string, json>> members) {
    object_t result;
    result.reserve(members.size());
    for (const auto& [key, value] : members) set_member(result, key, value);
    json j;
    j.value_.emplace<7>(std::move(result));
    return j;
}

void json::throw_type_error(std::string_view expected) const {
    std::string message = "json: expected ";
    message += expected;
    message += ", got ";
    message += type_name();
    throw json_type_error(message);
}

bool json::as_bool() const {
    if (const bool* b = std::get_if<1>(&value_)) return *b;
    throw_type_error("bool");
}

std::int64_t json::as_int64() const {
    if (const auto* i = std::get_if<2>(&value_)) return *i;
    if (const auto* u = std::get_if<3>(&value_)) {
        throw json_type_error("json: expected int64, got uint64 " + std::to_string(*u) +
                              " (out of range)");
    }
    throw_type_error("int64");
}

std::uint64_t json::as_uint64() const {
    if (const auto* u = std::get_if<3>(&value_)) return *u;
    if (const auto* i = std::get_if<2>(&value_)) {
        if (*i >= 0) return static_cast<std::uint64_t>(*i);
        throw json_type_error("json: expected uint64, got negative int64 " + std::to_string(*i));
    }
    throw_type_error("uint64");
}

double json::as_double() const {
    switch (kind()) {
        case json_kind::floating: return std::get<4>(value_);
        case json_kind::int64: return static_cast<double>(std::get<2>(value_));
        case json_kind::uint64: return static_cast<double>(std::get<3>(value_));
        default: throw_type_error("number");
    }
}

const std::string& json::as_string() const {
    if (const auto* s = std::get_if<5>(&value_)) return *s;
    throw_type_error("string");
}
std::string& json::as_string() {
    if (auto* s = std::get_if<5>(&value_)) return *s;
    throw_type_error("string");
}
const json::array_t& json::as_array() const {
    if (const auto* a = std::get_if<6>(&value_)) return *a;
    throw_type_error("array");
}
json::array_t& json::as_array() {
    if (auto* a = std::get_if<6>(&value_)) return *a;
    throw_type_error("array");
}
const json::object_t& json::as_object() const {
    if (const auto* o = std::get_if<7>(&value_)) return *o;
    throw_type_error("object");
}
json::object_t& json::as_object() {
    if (auto* o = std::get_if<7>(&value_)) return *o;
    throw_type_error("object");
}

json& json::operator[](std::string_view key) {
    if (is_null()) value_.emplace<7>();
    object_t& members = as_object();
    auto it = find_member(members, key);
    if (it != members.end()) return it->second;
    return members.emplace_back(std::string(key), json()).second;
}

const json& json::operator[](std::string_view key) const {
    const object_t& members = as_object();
    for (const auto& [name, value] : members) {
        if (name == key) return value;
    }
    throw json_lookup_error("json: no member \"" + std::string(key) + "\"");
}

json& json::operator[](std::size_t index) {
    array_t& elements = as_array();
    if (index >= elements.size()) {
        throw json_lookup_error("json: index " + std::to_string(index) + " out of range (size " +
                                std::to_string(elements.size()) + ")");
    }
    return elements[index];
}

const json& json::operator[](std::size_t index) const {
    // Same checks; the const_cast only reuses them and never writes.
    return const_cast<json&>(*this)[index];
}

const json* json::find(std::string_view key) const noexcept {
    const auto* members = std::get_if<7>(&value_);
    if (members == nullptr) return nullptr;
    for (const auto& [name, value] : *members) {
        if (name == key) return &value;
    }
    return nullptr;
}

json* json::find(std::string_view key) noexcept {
    return const_cast<json*>(std::as_const(*this).find(key));
}

std::size_t json::size() const {
    if (const auto* a = std::get_if<6>(&value_)) return a->size();
    if (const auto* o = std::get_if<7>(&value_)) return o->size();
    throw_type_error("array or object");
}

void json::push_back(json element) {
    if (is_null()) value_.emplace<6>();
    as_array().push_back(std::move(element));
}

json& json::set(std::string_view key, json value) {
    if (is_null()) value_.emplace<7>();
    return set_member(as_object(), key, std::move(value));
}

bool json::erase(std::string_view key) {
    object_t& members = as_object();
    auto it = find_member(members, key);
    if (it == members.end()) return false;
    members.erase(it);
    return true;
}

void json::write_to(json_writer& writer) const {
    switch (kind()) {
        case json_kind::null: writer.value(nullptr); break;
        case json_kind::boolean: writer.value(std::get<1>(value_)); break;
        case json_kind::int64: writer.value(std::get<2>(value_)); break;
        case json_kind::uint64: writer.value(std::get<3>(value_)); break;
        case json_kind::floating: writer.value(std::get<4>(value_)); break;
        case json_kind::string: writer.value(std::string_view(std::get<5>(value_))); break;
        case json_kind::array:
            writer.begin_array();
            for (const json& element : std::get<6>(value_)) element.write_to(writer);
            writer.end_array();
            break;
        case json_kind::object:
            writer.begin_object();
            for (const auto& [key, value] : std::get<7>(value_)) {
                writer.key(key);
                value.write_to(writer);
            }
            writer.end_object();
            break;
    }
}

void json::dump_to(std::string& out) const {
    const std::size_t mark = out.size();
    try {
        json_writer writer(out);
        write_to(writer);
    } catch (...) {
        // A NaN deep inside would otherwise leave half a document in the caller's buffer.
        out.resize(mark);
        throw;
    }
}

std::string json::dump() const {
    std::string out;
    dump_to(out);
    return out;
}

bool json::equals(const json& a, const json& b) noexcept {
    const json_kind ka = a.kind();
    const json_kind kb = b.kind();
    if (ka != kb) {
        // int64 and uint64 ranges do not overlap (uint64 holds only values above INT64_MAX), so
        // only a double can equal a number of another kind.
        const json& d = ka == json_kind::floating ? a : b;
        const json& n = ka == json_kind::floating ? b : a;
        if (d.kind() != json_kind::floating) return false;
        if (n.kind() == json_kind::int64) {
            return int_equals_double(std::get<2>(n.value_), std::get<4>(d.value_));
        }
        if (n.kind() == json_kind::uint64) {
            return uint_equals_double(std::get<3>(n.value_), std::get<4>(d.value_));
        }
        return false;
    }
    switch (ka) {
        case json_kind::null: return true;
        case json_kind::boolean: return std::get<1>(a.value_) == std::get<1>(b.value_);
        case json_kind::int64: return std::get<2>(a.value_) == std::get<2>(b.value_);
        case json_kind::uint64: return std::get<3>(a.value_) == std::get<3>(b.value_);
        case json_kind::floating: return std::get<4>(a.value_) == std::get<4>(b.value_);
        case json_kind::string: return std::get<5>(a.value_) == std::get<5>(b.value_);
        case json_kind::array: return std::get<6>(a.value_) == std::get<6>(b.value_);
        case json_kind::object: {
            const auto& ma = std::get<7>(a.value_);
            const auto& mb = std::get<7>(b.value_);
            if (ma.size() != mb.size()) return false;
            // Order-insensitive, like a JSON object (and a Python dict); keys are unique, so
            // equal sizes plus every member of `a` found equal in `b` means equal sets.
            for (const auto& [key, value] : ma) {
                const json* other = b.find(key);
                if (other == nullptr || !equals(*other, value)) return false;
            }
            return true;
        }
    }
    return false;
}

namespace {

// Documents larger than this get a one-off parser: the per-thread parser keeps its buffers at
// the largest size it has seen, and one big upload should not pin that memory on every thread.
constexpr std::size_t cached_parser_limit = std::size_t{1} << 20;

json from_element(simdjson::dom::element element);

json from_object(simdjson::dom::object object) {
    json::object_t members;
    members.reserve(object.size());  // saturates for huge objects: only a hint
    for (auto field : object) {
        members.emplace_back(std::string(field.key), from_element(field.value));
    }
    // The json(object_t) constructor applies the repeated-key rule.
    return json(std::move(members));
}

json from_element(simdjson::dom::element element) {
    // Recursion depth is bounded by the parser's max depth (1024): deeper input fails parsing.
    using simdjson::dom::element_type;
    switch (element.type()) {
        case element_type::ARRAY: {
            const simdjson::dom::array source = element.get_array().value_unsafe();
            json::array_t elements;
            elements.reserve(source.size());
            for (simdjson::dom::element child : source) elements.push_back(from_element(child));
            return json(std::move(elements));
        }
        case element_type::OBJECT: return from_object(element.get_object().value_unsafe());
        case element_type::INT64: return json(element.get_int64().value_unsafe());
        case element_type::UINT64: return json(element.get_uint64().value_unsafe());
        case element_type::DOUBLE: return json(element.get_double().value_unsafe());
        case element_type::STRING: return json(element.get_string().value_unsafe());
        case element_type::BOOL: return json(element.get_bool().value_unsafe());
        case element_type::NULL_VALUE: return json(nullptr);
    }
    return json(nullptr);
}

json convert(simdjson::simdjson_result<simdjson::dom::element> result) {
    simdjson::dom::element root;
    if (const auto error = std::move(result).get(root); error != simdjson::SUCCESS) {
        throw json_parse_error(std::string("json: ") + simdjson::error_message(error));
    }
    return from_element(root);
}

simdjson::dom::parser& thread_parser() {
    // Reused so that steady-state parsing allocates only the resulting json values.
    thread_local simdjson::dom::parser parser;
    return parser;
}

}  // namespace

json parse_json(std::string_view text) {
    // realloc_if_needed = true: simdjson copies into a padded buffer owned by the parser (and
    // reused by it), because nothing is known about the memory after `text`.
    if (text.size() > cached_parser_limit) {
        simdjson::dom::parser parser;
        return convert(parser.parse(text.data(), text.size(), true));
    }
    return convert(thread_parser().parse(text.data(), text.size(), true));
}

json parse_json(const std::string& text) {
    if (text.capacity() - text.size() < simdjson::SIMDJSON_PADDING) {
        return parse_json(std::string_view(text));
    }
    // The string's spare capacity is allocated memory, so simdjson may read into it directly.
    const simdjson::padded_string_view padded(text.data(), text.size(), text.capacity());
    if (text.size() > cached_parser_limit) {
        simdjson::dom::parser parser;
        return convert(parser.parse(padded));
    }
    return convert(thread_parser().parse(padded));
}

}  // namespace tessera
