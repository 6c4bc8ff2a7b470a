#pragma once
/// The JSON value type (`json`) and parsing (`parse_json`).

#include "tessera/json_writer.hpp"

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace tessera {

/// Thrown when a `json` is accessed as a type it does not hold (or an integer does not fit the
/// requested width); the message names the expected and the actual type.
class json_type_error : public json_error {
public:
    using json_error::json_error;
};

/// Thrown by const `operator[]` for a missing key and by `operator[](index)` out of range.
class json_lookup_error : public json_error {
public:
    using json_error::json_error;
};

/// Thrown by `parse_json` on malformed input; the message is simdjson's description.
class json_parse_error : public json_error {
public:
    using json_error::json_error;
};

/// What a `json` holds. Integers are `int64` unless above INT64_MAX, then `uint64`.
enum class json_kind : std::uint8_t {
    null, boolean, int64, uint64, floating, string, array, object
};

/// The name used in error messages: "null", "bool", "int64", "uint64", "double", "string",
/// "array", "object".
[[nodiscard]] std::string_view to_string(json_kind kind) noexcept;

/// A JSON value: null, bool, integer (exact 64-bit, signed or unsigned), double, string, array,
/// or object. Objects keep insertion order and unique keys; lookups scan linearly, which suits
/// request and response payloads (use a map of your own for huge objects you query often).
///
/// Construction follows nlohmann::json:
///
///     json j = {{"message", "Hello"}, {"n", 3}, {"list", json::array({1, 2.5, nullptr, true})}};
///
/// A braced list whose elements are all two-element arrays starting with a string becomes an
/// object (a repeated key keeps its first position and its last value); any other braced list is
/// an array. So `json{1}` is the array `[1]`, `json{}` is null, and — as in nlohmann —
/// `json{j}` is a one-element array holding `j`: copy with `json c = j;` or `json c(j);`. Use
/// `json::array({...})` when a list of pairs must stay an array.
///
/// Implicit conversions: `nullptr`; `bool` (exactly — pointers do not turn into bools); every
/// integer type except characters (`json('a')` does not compile); `float`/`double`/`long double`
/// (stored as double); `const char*` (a null pointer gives null), `std::string`,
/// `std::string_view`; `array_t` and `object_t`.
///
/// Accessors are strict: `as_string()` on a number throws `json_type_error`. The mutating
/// `operator[](key)`, `set` and `push_back` turn a null into an empty object/array first, so
/// `json j; j["a"] = 1;` works.
class json {
public:
    using array_t = std::vector<json>;
    using object_t = std::vector<std::pair<std::string, json>>;

    json() noexcept = default;
    json(std::nullptr_t) noexcept {}
    template <class T>
        requires std::same_as<T, bool>
    json(T b) noexcept : value_(std::in_place_index<1>, b) {}
    template <class T>
        requires detail::json_integer<T>
    json(T n) noexcept {
        if constexpr (std::is_signed_v<T>) {
            value_.template emplace<2>(static_cast<std::int64_t>(n));
        } else if (static_cast<std::uint64_t>(n) <= static_cast<std::uint64_t>(INT64_MAX)) {
            // One representation per number: uint64 only holds what int64 cannot.
            value_.template emplace<2>(static_cast<std::int64_t>(n));
        } else {
            value_.template emplace<3>(static_cast<std::uint64_t>(n));
        }
    }
    template <class T>
        requires detail::json_character<T>
    json(T) = delete;
    template <class T>
        requires std::floating_point<T>
    json(T d) noexcept : value_(std::in_place_index<4>, static_cast<double>(d)) {}
    json(const char* text);
    json(std::string text) noexcept : value_(std::in_place_index<5>, std::move(text)) {}
    json(std::string_view text) : value_(std::in_place_index<5>, text) {}
    json(array_t elements) noexcept : value_(std::in_place_index<6>, std::move(elements)) {}
    /// Repeated keys collapse: the first position, the last value.
    json(object_t members);
    /// An object if every element is a two-element array whose first element is a string,
    /// otherwise an array (see the class comment).
    json(std::initializer_list<json> elements);

    /// An array of the given elements (never an object); `json::array()` is `[]`.
    [[nodiscard]] static json array(std::initializer_list<json> elements = {});
    /// An object of the given members (a repeated key keeps its last value); `json::object()`
    /// is `{}`.
    [[nodiscard]] static json object(
        std::initializer_list<std::pair<std::string, json>> members = {});

    [[nodiscard]] json_kind kind() const noexcept {
        return static_cast<json_kind>(value_.index());
    }
    [[nodiscard]] std::string_view type_name() const noexcept { return to_string(kind()); }
    [[nodiscard]] bool is_null() const noexcept { return kind() == json_kind::null; }
    [[nodiscard]] bool is_bool() const noexcept { return kind() == json_kind::boolean; }
    /// int64, uint64 or double.
    [[nodiscard]] bool is_number() const noexcept {
        return is_integer() || kind() == json_kind::floating;
    }
    /// int64 or uint64 (a double such as 3.0 is not an integer).
    [[nodiscard]] bool is_integer() const noexcept {
        return kind() == json_kind::int64 || kind() == json_kind::uint64;
    }
    [[nodiscard]] bool is_double() const noexcept { return kind() == json_kind::floating; }
    [[nodiscard]] bool is_string() const noexcept { return kind() == json_kind::string; }
    [[nodiscard]] bool is_array() const noexcept { return kind() == json_kind::array; }
    [[nodiscard]] bool is_object() const noexcept { return kind() == json_kind::object; }

    [[nodiscard]] bool as_bool() const;
    /// Integers only; a uint64 above INT64_MAX throws `json_type_error`.
    [[nodiscard]] std::int64_t as_int64() const;
    /// Integers only; a negative integer throws `json_type_error`.
    [[nodiscard]] std::uint64_t as_uint64() const;
    /// Any number; integers beyond 2^53 round to the nearest double.
    [[nodiscard]] double as_double() const;
    [[nodiscard]] const std::string& as_string() const;
    [[nodiscard]] std::string& as_string();
    [[nodiscard]] const array_t& as_array() const;
    [[nodiscard]] array_t& as_array();
    /// Editing members directly is allowed; keep keys unique (the rest of the API assumes it).
    [[nodiscard]] const object_t& as_object() const;
    [[nodiscard]] object_t& as_object();

    /// The member `key`, inserted as null at the end if absent (a null value becomes an object).
    json& operator[](std::string_view key);
    /// The member `key`; throws `json_lookup_error` if absent, `json_type_error` if not an object.
    const json& operator[](std::string_view key) const;
    /// The array element at `index`; throws `json_lookup_error` if out of range.
    json& operator[](std::size_t index);
    const json& operator[](std::size_t index) const;

    /// The member `key`, or nullptr if absent or if this is not an object.
    [[nodiscard]] const json* find(std::string_view key) const noexcept;
    [[nodiscard]] json* find(std::string_view key) noexcept;
    /// False for non-objects.
    [[nodiscard]] bool contains(std::string_view key) const noexcept {
        return find(key) != nullptr;
    }
    /// Element count of an array or object; other types throw `json_type_error`.
    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] bool empty() const { return size() == 0; }

    /// Appends to an array (a null value becomes an array first).
    void push_back(json element);
    /// Sets member `key`, replacing an existing value in place or appending (a null value
    /// becomes an object first). Returns the stored value.
    json& set(std::string_view key, json value);
    /// Removes member `key` if present; returns whether it was. Throws if not an object.
    bool erase(std::string_view key);

    /// Compact JSON text. Throws `json_value_error` if the value holds NaN or an infinity.
    [[nodiscard]] std::string dump() const;
    /// Appends compact JSON text to `out`. On an exception `out` is restored to its old size.
    void dump_to(std::string& out) const;
    /// Writes this value as the writer's next value (embed a DOM in a streamed document).
    void write_to(json_writer& writer) const;

    /// Structural equality. Numbers compare by exact mathematical value across int64, uint64 and
    /// double (so `json(1) == json(1.0)`, as in Python); objects compare as unordered maps.
    friend bool operator==(const json& a, const json& b) noexcept { return equals(a, b); }

private:
    static bool equals(const json& a, const json& b) noexcept;
    [[noreturn]] void throw_type_error(std::string_view expected) const;

    std::variant<std::nullptr_t, bool, std::int64_t, std::uint64_t, double, std::string, array_t,
                 object_t>
        value_;
};

/// Parses one JSON document with simdjson. Throws `json_parse_error` on malformed input —
/// including empty input, content after the value, invalid UTF-8, integers beyond the 64-bit
/// ranges, and nesting deeper than 1024 levels, a value inside the innermost container counting
/// as one (1024 arrays parse only when the innermost is empty; 1023 may hold a value). Strings
/// come out as UTF-8 with escapes decoded.
/// In objects with a repeated key, the key keeps its first position and takes its last value.
///
/// simdjson reads up to SIMDJSON_PADDING (64) bytes past the end of the text. This overload
/// cannot know whether that memory exists, so the text is copied into a padded buffer owned by
/// a per-thread parser (reused across calls: no allocation once warmed up).
[[nodiscard]] json parse_json(std::string_view text);
/// As above, but parses in place without copying when `text.capacity() - text.size()` is at
/// least SIMDJSON_PADDING (e.g. a body read into a string reserved with extra room).
[[nodiscard]] json parse_json(const std::string& text);
/// Disambiguates string literals between the two overloads above.
[[nodiscard]] inline json parse_json(const char* text) {
    return parse_json(std::string_view(text));
}

}  // namespace tessera
