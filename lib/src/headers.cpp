#include "tessera/headers.hpp"

#include <algorithm>
#include <cstring>

namespace tessera {
namespace {

constexpr char lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

// Calls `fn(token)` for each non-empty, trimmed comma-separated token of `value`; stops early
// when `fn` returns true, and reports whether it did.
template <class Fn>
bool any_token(std::string_view value, Fn fn) {
    while (true) {
        const std::size_t comma = value.find(',');
        const std::string_view token = trim_ows(value.substr(0, comma));
        if (!token.empty() && fn(token)) return true;
        if (comma == std::string_view::npos) return false;
        value.remove_prefix(comma + 1);
    }
}

}  // namespace

std::string to_lower_ascii(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = lower(c);
    return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    // Field names are stored lower-case and compared with lower-case literals: equal bytes are
    // the common answer, and one memcmp finds them faster than the byte loop.
    if (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0) return true;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

bool list_has_token(std::string_view list, std::string_view token) noexcept {
    return any_token(list, [&](std::string_view element) { return iequals(element, token); });
}

headers::headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    fields_.reserve(fields.size());
    for (const auto& [name, value] : fields) {
        fields_.push_back(header_field{to_lower_ascii(name), std::string(value)});
    }
}

std::optional<std::string_view> headers::get(std::string_view name) const noexcept {
    for (const auto& f : fields_) {
        if (iequals(f.name, name)) return std::string_view(f.value);
    }
    return std::nullopt;
}

std::string_view headers::get_or(std::string_view name, std::string_view fallback) const noexcept {
    const auto v = get(name);
    return v ? *v : fallback;
}

std::vector<std::string_view> headers::get_all(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const auto& f : fields_) {
        if (iequals(f.name, name)) out.emplace_back(f.value);
    }
    return out;
}

bool headers::contains(std::string_view name) const noexcept {
    return std::any_of(fields_.begin(), fields_.end(),
                       [&](const header_field& f) { return iequals(f.name, name); });
}

std::vector<std::string_view> headers::keys() const {
    std::vector<std::string_view> out;
    for (const auto& f : fields_) {
        // Quadratic, but header counts are small and this avoids allocating a set.
        if (std::find(out.begin(), out.end(), std::string_view(f.name)) == out.end()) {
            out.emplace_back(f.name);
        }
    }
    return out;
}

void headers::set(std::string_view name, std::string_view value) {
    auto first = std::find_if(fields_.begin(), fields_.end(),
                              [&](const header_field& f) { return iequals(f.name, name); });
    if (first == fields_.end()) {
        fields_.push_back(header_field{to_lower_ascii(name), std::string(value)});
        return;
    }
    // Assign before erasing: `value` may view into a field that the erase moves or destroys.
    // Match the rest against `first->name`, which the erase never touches, rather than `name`,
    // which might view into a field that is about to be overwritten.
    first->value.assign(value);
    const std::string_view key = first->name;
    fields_.erase(std::remove_if(first + 1, fields_.end(),
                                 [&](const header_field& f) { return iequals(f.name, key); }),
                  fields_.end());
}

std::string_view headers::set_default(std::string_view name, std::string_view value) {
    if (const auto existing = get(name)) return *existing;
    fields_.push_back(header_field{to_lower_ascii(name), std::string(value)});
    return fields_.back().value;
}

void headers::append(std::string_view name, std::string_view value) {
    fields_.push_back(header_field{to_lower_ascii(name), std::string(value)});
}

std::size_t headers::remove(std::string_view name) {
    auto first = std::find_if(fields_.begin(), fields_.end(),
                              [&](const header_field& f) { return iequals(f.name, name); });
    if (first == fields_.end()) return 0;
    // `name` may view into a field that remove_if overwrites; the first match is going away
    // anyway, so steal its (lower-case) name as a stable key without allocating.
    const std::string key = std::move(first->name);
    const auto before = fields_.size();
    fields_.erase(std::remove_if(first, fields_.end(),
                                 [&](const header_field& f) {
                                     return &f == &*first || iequals(f.name, key);
                                 }),
                  fields_.end());
    return before - fields_.size();
}

void headers::add_vary(std::string_view token) {
    token = trim_ows(token);
    if (token.empty()) return;

    // Starlette only looks at the first `vary` field and may list a token twice; here every
    // `vary` field is consulted, so middleware stacking the same token (GZip + CORS, say)
    // leaves one copy.
    std::string merged;
    bool found = false;
    for (const auto& f : fields_) {
        if (!iequals(f.name, "vary")) continue;
        found = true;
        const bool covered = any_token(f.value, [&](std::string_view existing) {
            return existing == "*" || iequals(existing, token);
        });
        if (covered) return;
        any_token(f.value, [&](std::string_view existing) {
            if (!merged.empty()) merged += ", ";
            merged += existing;
            return false;
        });
    }
    if (token == "*") {
        // `*` already means "varies on everything"; listing other names beside it adds nothing.
        merged = "*";
    } else {
        if (!merged.empty()) merged += ", ";
        merged += token;
    }
    if (found) {
        set("vary", merged);
    } else {
        fields_.push_back(header_field{"vary", std::move(merged)});
    }
}

}  // namespace tessera
