#pragma once
/// A streaming JSON writer: appends compact JSON text to a string without building a DOM.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tessera {

/// Base of every JSON error tessera throws (type, lookup, parse and value errors), so a handler
/// can turn "the client sent unusable JSON" into one response with a single catch.
class json_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Thrown when a value has no JSON representation: NaN or an infinity. JSON has no spelling for
/// them, and writing `NaN` (as Python does by default) would produce text other parsers reject.
class json_value_error : public json_error {
public:
    using json_error::json_error;
};

namespace detail {
/// Character types are text, not numbers: `value('a')` would be ambiguous to a reader.
template <class T>
concept json_character = std::same_as<std::remove_cv_t<T>, char> ||
                         std::same_as<std::remove_cv_t<T>, wchar_t> ||
                         std::same_as<std::remove_cv_t<T>, char8_t> ||
                         std::same_as<std::remove_cv_t<T>, char16_t> ||
                         std::same_as<std::remove_cv_t<T>, char32_t>;
/// The integer types written as JSON numbers: every integral type except `bool` and characters
/// (`signed char` / `unsigned char`, i.e. `int8_t` / `uint8_t`, are numbers).
template <class T>
concept json_integer = std::integral<T> && !std::same_as<std::remove_cv_t<T>, bool> &&
                       !json_character<T>;
}  // namespace detail

/// Writes one JSON document, value by value, as compact text (no whitespace).
///
/// Output goes to a `std::string` the writer either owns (default constructor; read it with
/// `str()` or move it out with `take()`) or borrows (`json_writer(std::string&)`: text is appended
/// after whatever the string already holds; the string must outlive the writer). Commas and colons
/// are inserted by the writer. Apart from the output's own growth, nothing is allocated per value;
/// nesting deeper than 64 levels allocates a little bookkeeping once.
///
/// Strings (values and keys) are written with `"`, `\` and control characters below 0x20 escaped:
/// `\b \t \n \f \r` in their short forms, the rest as `\u00xx` with lower-case hex. Every other
/// byte — including 0x7F and all bytes of multi-byte UTF-8 — is copied unchanged. Invalid UTF-8
/// is NOT checked or repaired: it is copied through byte for byte, so the output is then not
/// valid UTF-8; validate untrusted bytes first if that matters (text from `parse_json` is always
/// valid UTF-8).
///
/// Doubles use the shortest text that reads back as the same double; an integral double keeps a
/// fraction (`3.0`, not `3`) so it stays a float on the reader's side; `-0.0` stays `-0.0`; large
/// and tiny magnitudes use exponents (`1e+21`, `5e-324`).
///
/// Errors, all thrown before the call writes anything (the output is exactly as it was):
/// - `json_value_error` for NaN or an infinity;
/// - `std::logic_error` for misuse — a value in an object without a key first, a key outside an
///   object or twice in a row, an `end_*` that does not match the open container, or a second
///   top-level value (call `reset()` to start another document, e.g. for NDJSON).
/// The checks are always on: they cost a couple of predictable branches and guarantee the writer
/// never emits structurally invalid JSON.
class json_writer {
public:
    /// A writer that owns its output string.
    json_writer() noexcept : out_(&own_) {}
    /// A writer that appends to `out`, which it does not own and which must outlive the writer.
    explicit json_writer(std::string& out) noexcept : out_(&out) {}
    /// Moving keeps the target: an owning writer's text moves along, a borrowing one keeps
    /// pointing at the same external string.
    json_writer(json_writer&& other) noexcept;
    json_writer(const json_writer&) = delete;
    json_writer& operator=(const json_writer&) = delete;
    json_writer& operator=(json_writer&&) = delete;
    ~json_writer() = default;

    json_writer& begin_object();
    json_writer& end_object();
    json_writer& begin_array();
    json_writer& end_array();
    /// Writes an object member's key; the next value or container is its value.
    json_writer& key(std::string_view name);

    json_writer& value(std::nullptr_t);
    /// `bool` only: a template so pointers do not silently convert to `true`.
    template <class T>
        requires std::same_as<T, bool>
    json_writer& value(T b) {
        return write_bool(b);
    }
    template <class T>
        requires detail::json_integer<T>
    json_writer& value(T n) {
        if constexpr (std::is_signed_v<T>) {
            return write_signed(static_cast<std::int64_t>(n));
        } else {
            return write_unsigned(static_cast<std::uint64_t>(n));
        }
    }
    /// Characters are not numbers; write `std::string_view(&c, 1)` for a one-letter string.
    template <class T>
        requires detail::json_character<T>
    json_writer& value(T) = delete;
    json_writer& value(double d);
    /// Shortest text that reads back as the same `float` (0.1f writes `0.1`).
    json_writer& value(float f);
    json_writer& value(long double d) { return value(static_cast<double>(d)); }
    json_writer& value(std::string_view text);
    /// A null pointer writes `null`. (This overload also stops string literals becoming `bool`.)
    json_writer& value(const char* text);

    /// `key(name)` then `value(v)`.
    template <class T>
    json_writer& member(std::string_view name, T&& v) {
        key(name);
        return value(static_cast<T&&>(v));
    }

    /// Inserts already-serialised JSON as one value (separators are still handled). The caller
    /// guarantees `json_text` is exactly one valid JSON value; it is not checked.
    json_writer& raw(std::string_view json_text);

    /// True once one complete top-level value has been written.
    [[nodiscard]] bool complete() const noexcept { return depth_ == 0 && has_elements_; }
    /// Number of currently open containers.
    [[nodiscard]] std::size_t depth() const noexcept { return depth_; }
    /// Forgets the structure state (keeps the output) so another document can follow.
    void reset() noexcept;

    /// The output string (the owned one or the borrowed one).
    [[nodiscard]] const std::string& str() const noexcept { return *out_; }
    [[nodiscard]] std::string& str() noexcept { return *out_; }
    /// Moves the output out of the target string and resets the writer.
    [[nodiscard]] std::string take() noexcept;

private:
    json_writer& write_bool(bool b);
    json_writer& write_signed(std::int64_t n);
    json_writer& write_unsigned(std::uint64_t n);
    // double and float, each in its own shortest form (defined and used in json_writer.cpp).
    template <class Floating>
    json_writer& write_floating(Floating f);
    // Throws logic_error unless a value may be written now; writes nothing.
    void check_value_allowed() const;
    // Writes the separator owed before a value (a comma between array elements).
    void write_separator();
    void value_done() noexcept {
        has_elements_ = true;
        after_key_ = false;
    }
    void push_container(bool is_object);
    [[nodiscard]] bool top_is_object() const noexcept;
    void write_escaped(std::string_view text);

    std::string* out_;
    std::string own_;
    // One bit per open container (1 = object); levels past 64 spill into `deep_kinds_`.
    std::uint64_t kinds_ = 0;
    std::vector<std::uint64_t> deep_kinds_;
    std::size_t depth_ = 0;
    // The innermost open container (or, at depth 0, the document) already holds a value.
    bool has_elements_ = false;
    // A key was written and its value is owed.
    bool after_key_ = false;
};

}  // namespace tessera
