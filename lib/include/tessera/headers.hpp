#pragma once
/// HTTP header fields: an ordered, case-insensitive multimap.

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera {

/// One header field line. `name` is lower-case; `value` is kept as received (bytes, trimmed of
/// surrounding whitespace by the parser that produced it).
struct header_field {
    std::string name;
    std::string value;
    friend bool operator==(const header_field&, const header_field&) = default;
};

/// Lower-cases ASCII letters; other bytes are left alone.
[[nodiscard]] std::string to_lower_ascii(std::string_view text);
/// Compares two names ignoring ASCII case.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;
/// Whether the comma-separated field value `list` names the (non-empty) `token`, ignoring
/// case and the whitespace around each element: `close` in `Connection: keep-alive, Close`.
[[nodiscard]] bool list_has_token(std::string_view list, std::string_view token) noexcept;

/// An ordered multimap of header fields with case-insensitive names; order and duplicates are
/// kept exactly as given. A `const headers&` is the immutable view (Starlette's `Headers`); the
/// mutating members make it Starlette's `MutableHeaders`. Names are stored lower-cased.
class headers {
public:
    using value_type = header_field;
    using const_iterator = std::vector<header_field>::const_iterator;

    headers() = default;
    /// Builds from name/value pairs; names are lower-cased.
    headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields);
    /// Takes ownership of fields whose names are already lower-case (as parsers produce them).
    explicit headers(std::vector<header_field> lower_case_fields) noexcept
        : fields_(std::move(lower_case_fields)) {}

    /// First value of `name`, if present.
    [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept;
    /// First value of `name`, or `fallback`.
    [[nodiscard]] std::string_view get_or(std::string_view name,
                                          std::string_view fallback = {}) const noexcept;
    /// Every value of `name`, in order.
    [[nodiscard]] std::vector<std::string_view> get_all(std::string_view name) const;
    [[nodiscard]] bool contains(std::string_view name) const noexcept;
    /// Distinct names in order of first appearance.
    [[nodiscard]] std::vector<std::string_view> keys() const;

    [[nodiscard]] std::size_t size() const noexcept { return fields_.size(); }
    [[nodiscard]] bool empty() const noexcept { return fields_.empty(); }
    [[nodiscard]] const_iterator begin() const noexcept { return fields_.begin(); }
    [[nodiscard]] const_iterator end() const noexcept { return fields_.end(); }
    [[nodiscard]] const std::vector<header_field>& fields() const noexcept { return fields_; }

    /// Replaces every field named `name` with one field holding `value`, kept at the position of
    /// the first one (appended if there was none).
    void set(std::string_view name, std::string_view value);
    /// Sets `name` only when absent; returns the value now in force.
    std::string_view set_default(std::string_view name, std::string_view value);
    /// Adds a field at the end, keeping existing ones.
    void append(std::string_view name, std::string_view value);
    /// Removes every field named `name`; returns how many were removed.
    std::size_t remove(std::string_view name);
    /// Adds `token` to the comma-separated `vary` field unless a case-insensitive equal token is
    /// already listed (or `*` is).
    void add_vary(std::string_view token);
    void reserve(std::size_t n) { fields_.reserve(n); }
    /// Moves the fields out (leaving this empty), e.g. to refill them without reallocating.
    [[nodiscard]] std::vector<header_field> release() noexcept { return std::move(fields_); }
    void clear() noexcept { fields_.clear(); }

    friend bool operator==(const headers&, const headers&) = default;

private:
    std::vector<header_field> fields_;
};

}  // namespace tessera
