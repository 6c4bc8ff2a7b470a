#pragma once
/// Query-string parameters: an ordered multidict (Starlette's `QueryParams`).

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera {

/// An ordered list of decoded key/value pairs; keys may repeat. Parsing follows Python's
/// `parse_qsl(..., keep_blank_values=True)`: `&`-separated, `+` is a space, `%XX` is decoded
/// (invalid escapes kept literally), empty chunks skipped, `a` and `a=` both give `a=""`.
/// Decoded bytes are kept as they are (no UTF-8 replacement). The object owns its strings.
class query_params {
public:
    using value_type = std::pair<std::string, std::string>;
    using const_iterator = std::vector<value_type>::const_iterator;

    query_params() = default;
    /// Parses a raw (still percent-encoded) query string, without the leading `?`.
    explicit query_params(std::string_view query_string);
    /// Builds from already-decoded pairs, in order.
    query_params(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs);
    /// Takes ownership of already-decoded pairs.
    explicit query_params(std::vector<value_type> pairs) noexcept : items_(std::move(pairs)) {}

    /// The value for `key`; the LAST one when it repeats (Starlette's `params[key]`).
    [[nodiscard]] std::optional<std::string_view> get(std::string_view key) const noexcept;
    /// The value for `key`, or `fallback`.
    [[nodiscard]] std::string_view get_or(std::string_view key,
                                          std::string_view fallback = {}) const noexcept;
    /// Every value for `key`, in order.
    [[nodiscard]] std::vector<std::string_view> get_all(std::string_view key) const;
    [[nodiscard]] bool contains(std::string_view key) const noexcept;
    /// Distinct keys in order of first appearance.
    [[nodiscard]] std::vector<std::string_view> keys() const;
    /// Every pair, in order, duplicates included (Starlette's `multi_items()`).
    [[nodiscard]] const std::vector<value_type>& items() const noexcept { return items_; }

    [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
    [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
    [[nodiscard]] const_iterator begin() const noexcept { return items_.begin(); }
    [[nodiscard]] const_iterator end() const noexcept { return items_.end(); }

    /// Adds a pair at the end.
    void append(std::string_view key, std::string_view value);
    /// Removes every pair with `key`; returns how many were removed.
    std::size_t remove(std::string_view key);

    /// Encodes back to a query string the way Python's `urlencode` does (`quote_plus` on keys
    /// and values, joined with `=` and `&`).
    [[nodiscard]] std::string str() const;

    /// Equal when both hold the same pairs, in any order (Starlette compares sorted lists).
    friend bool operator==(const query_params& a, const query_params& b);

private:
    std::vector<value_type> items_;
};

}  // namespace tessera
