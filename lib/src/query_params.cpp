#include "tessera/query_params.hpp"

#include <algorithm>

#include "tessera/percent.hpp"

namespace tessera {

query_params::query_params(std::string_view query_string) {
    // Reserve for the upper bound of pairs so the vector never reallocates while parsing.
    items_.reserve(static_cast<std::size_t>(std::count(query_string.begin(), query_string.end(), '&')) + 1);
    while (!query_string.empty()) {
        const std::size_t amp = query_string.find('&');
        const std::string_view chunk = query_string.substr(0, amp);
        query_string = amp == std::string_view::npos ? std::string_view{}
                                                     : query_string.substr(amp + 1);
        if (chunk.empty()) continue;  // parse_qsl skips empty chunks ("a=1&&b=2")
        const std::size_t eq = chunk.find('=');
        auto& item = items_.emplace_back();
        percent_decode_append(item.first, chunk.substr(0, eq), true);
        if (eq != std::string_view::npos) percent_decode_append(item.second, chunk.substr(eq + 1), true);
    }
}

query_params::query_params(
    std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
    items_.reserve(pairs.size());
    for (const auto& [key, value] : pairs) items_.emplace_back(std::string(key), std::string(value));
}

std::optional<std::string_view> query_params::get(std::string_view key) const noexcept {
    // Starlette builds its lookup dict from the list in order, so the last value wins.
    for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
        if (it->first == key) return std::string_view(it->second);
    }
    return std::nullopt;
}

std::string_view query_params::get_or(std::string_view key, std::string_view fallback) const noexcept {
    const auto v = get(key);
    return v ? *v : fallback;
}

std::vector<std::string_view> query_params::get_all(std::string_view key) const {
    std::vector<std::string_view> out;
    for (const auto& [k, v] : items_) {
        if (k == key) out.emplace_back(v);
    }
    return out;
}

bool query_params::contains(std::string_view key) const noexcept {
    return std::any_of(items_.begin(), items_.end(),
                       [&](const value_type& item) { return item.first == key; });
}

std::vector<std::string_view> query_params::keys() const {
    std::vector<std::string_view> out;
    for (const auto& item : items_) {
        if (std::find(out.begin(), out.end(), std::string_view(item.first)) == out.end()) {
            out.emplace_back(item.first);
        }
    }
    return out;
}

void query_params::append(std::string_view key, std::string_view value) {
    items_.emplace_back(std::string(key), std::string(value));
}

std::size_t query_params::remove(std::string_view key) {
    const auto before = items_.size();
    // Copy first: `key` may view into an item that remove_if overwrites.
    const std::string stable_key(key);
    items_.erase(std::remove_if(items_.begin(), items_.end(),
                                [&](const value_type& item) { return item.first == stable_key; }),
                 items_.end());
    return before - items_.size();
}

std::string query_params::str() const {
    std::string out;
    for (const auto& [key, value] : items_) {
        if (!out.empty()) out += '&';
        quote_append(out, key, {}, true);
        out += '=';
        quote_append(out, value, {}, true);
    }
    return out;
}

bool operator==(const query_params& a, const query_params& b) {
    if (a.items_.size() != b.items_.size()) return false;
    if (a.items_ == b.items_) return true;  // the common case needs no sorting
    std::vector<const query_params::value_type*> left;
    std::vector<const query_params::value_type*> right;
    left.reserve(a.items_.size());
    right.reserve(b.items_.size());
    for (const auto& item : a.items_) left.push_back(&item);
    for (const auto& item : b.items_) right.push_back(&item);
    const auto less = [](const auto* x, const auto* y) { return *x < *y; };
    std::sort(left.begin(), left.end(), less);
    std::sort(right.begin(), right.end(), less);
    return std::equal(left.begin(), left.end(), right.begin(), right.end(),
                      [](const auto* x, const auto* y) { return *x == *y; });
}

}  // namespace tessera
