// Templates compile into literal and parameter parts. Matching walks the parts with the
// backtracking a regular expression would do (each parameter tries its longest candidate first,
// as Starlette's greedy regexes do), but on string views: no regex engine, no allocation. The
// common shapes are fast: a static template is one comparison, and a parameter at the end of a
// template takes the rest of the text without trying shorter candidates.
#include "tessera/path_pattern.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <system_error>

#include "tessera/headers.hpp"
#include "tessera/percent.hpp"

namespace tessera {

namespace {

enum class builtin { str, path, integer, floating, uuid, user };

struct param_type {
    builtin type = builtin::str;
    std::shared_ptr<const path_convertor> user;  // set for builtin::user
    [[nodiscard]] bool spans_slashes() const noexcept {
        return type == builtin::path || (type == builtin::user && user->spans_slashes);
    }
    [[nodiscard]] std::string_view name() const noexcept {
        switch (type) {
            case builtin::str: return "str";
            case builtin::path: return "path";
            case builtin::integer: return "int";
            case builtin::floating: return "float";
            case builtin::uuid: return "uuid";
            case builtin::user: return user->name;
        }
        return "?";
    }
};

bool is_identifier(std::string_view text) noexcept {
    if (text.empty()) return false;
    auto alpha = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    };
    if (!alpha(text.front())) return false;
    for (const char c : text) {
        if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
    }
    return true;
}

bool all_digits(std::string_view text) noexcept {
    if (text.empty()) return false;
    for (const char c : text) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

std::optional<std::int64_t> parse_int(std::string_view text) noexcept {
    if (!all_digits(text)) return std::nullopt;
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// `[0-9]+(\.[0-9]+)?`, and representable as a finite double.
std::optional<double> parse_float(std::string_view text) noexcept {
    const auto dot = text.find('.');
    if (!all_digits(text.substr(0, dot))) return std::nullopt;
    if (dot != std::string_view::npos && !all_digits(text.substr(dot + 1))) return std::nullopt;
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value,
                                              std::chars_format::fixed);
    if (error != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
        return std::nullopt;
    }
    return value;
}

bool is_uuid(std::string_view text, bool any_case) noexcept {
    if (text.size() != 36) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     (any_case && c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

// Shortest text that reads back as `value`, in `digits[.digits]` form (Starlette prints 20
// decimals and strips zeros, which turns 0.1 into 0.10000000000000000555).
std::string format_float(double value) {
    std::array<char, 400> buffer{};
    const auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                            std::chars_format::fixed);
    if (error != std::errc{}) return {};
    return std::string(buffer.data(), end);
}

std::string display(const path_value& value) {
    if (const auto* text = std::get_if<std::string>(&value)) return "\"" + *text + "\"";
    if (const auto* number = std::get_if<std::int64_t>(&value)) return std::to_string(*number);
    return format_float(std::get<double>(value));
}

bool accepts(const param_type& type, std::string_view text) {
    switch (type.type) {
        case builtin::str: return !text.empty() && text.find('/') == std::string_view::npos;
        case builtin::path: return true;
        case builtin::integer: return parse_int(text).has_value();
        case builtin::floating: return parse_float(text).has_value();
        case builtin::uuid: return is_uuid(text, false);
        case builtin::user:
            if (text.empty() && !type.user->spans_slashes) return false;
            return type.user->matches(text);
    }
    return false;
}

// The default text of a value: strings as they are, numbers formatted.
std::optional<std::string> plain_text(const path_value& value) {
    if (const auto* text = std::get_if<std::string>(&value)) return *text;
    if (const auto* number = std::get_if<std::int64_t>(&value)) return std::to_string(*number);
    const double number = std::get<double>(value);
    if (!std::isfinite(number)) return std::nullopt;
    return format_float(number);
}

std::optional<std::string> to_text(const param_type& type, const path_value& value) {
    switch (type.type) {
        case builtin::str:
        case builtin::path: {
            auto text = plain_text(value);
            if (text && !accepts(type, *text)) return std::nullopt;
            return text;
        }
        case builtin::integer:
            if (const auto* number = std::get_if<std::int64_t>(&value)) {
                if (*number < 0) return std::nullopt;  // the pattern cannot match a sign
                return std::to_string(*number);
            }
            if (const auto* text = std::get_if<std::string>(&value)) {
                if (parse_int(*text)) return *text;
            }
            return std::nullopt;
        case builtin::floating: {
            if (const auto* number = std::get_if<double>(&value)) {
                if (!std::isfinite(*number) || *number < 0) return std::nullopt;
                return format_float(*number);
            }
            auto text = plain_text(value);
            if (text && !parse_float(*text)) return std::nullopt;
            return text;
        }
        case builtin::uuid:
            if (const auto* text = std::get_if<std::string>(&value)) {
                if (!is_uuid(*text, true)) return std::nullopt;
                return to_lower_ascii(*text);
            }
            return std::nullopt;
        case builtin::user: {
            auto text = type.user->to_string ? type.user->to_string(value) : plain_text(value);
            if (text && !accepts(type, *text)) return std::nullopt;
            return text;
        }
    }
    return std::nullopt;
}

// What a path segment may hold unencoded (RFC 3986 pchar, plus '/'): the text of a reversed
// path is the decoded path quoted back, so that it routes to the same values.
constexpr std::string_view path_safe = "/:@!$&'()*+,;=";

}  // namespace

struct path_pattern::compiled {
    struct part {
        bool literal = true;
        std::string text;       // literal text (lower-cased for hosts)
        std::size_t param = 0;  // index into names/types for a parameter
    };
    std::string text;
    kind what = kind::path;
    std::vector<part> parts;
    std::vector<std::string> names;
    std::vector<param_type> types;

    [[nodiscard]] bool literal_at(const part& p, std::string_view rest) const noexcept {
        if (rest.size() < p.text.size()) return false;
        const auto head = rest.substr(0, p.text.size());
        return what == kind::host ? iequals(head, p.text) : head == p.text;
    }

    bool match_from(std::size_t index, std::string_view rest, captures& out) const {
        if (index == parts.size()) return rest.empty();
        const part& p = parts[index];
        if (p.literal) {
            return literal_at(p, rest) && match_from(index + 1, rest.substr(p.text.size()), out);
        }
        const param_type& type = types[p.param];
        const std::size_t limit =
            type.spans_slashes() ? rest.size() : std::min(rest.find('/'), rest.size());
        if (index + 1 == parts.size()) {
            // The last part must take the rest.
            if (limit != rest.size() || !accepts(type, rest)) return false;
            out[p.param] = rest;
            return true;
        }
        const part* next = &parts[index + 1];
        for (std::size_t length = limit + 1; length-- > 0;) {
            const auto after = rest.substr(length);
            if (next->literal && !literal_at(*next, after)) continue;
            const auto candidate = rest.substr(0, length);
            if (!accepts(type, candidate)) continue;
            if (match_from(index + 1, after, out)) {
                out[p.param] = candidate;
                return true;
            }
        }
        return false;
    }
};

path_pattern::path_pattern(std::string_view text, kind what,
                           std::span<const path_convertor> user) {
    auto fail = [&](const std::string& why) {
        throw std::invalid_argument(std::string(what == kind::host ? "host" : "path") +
                                    " pattern \"" + std::string(text) + "\": " + why);
    };
    for (std::size_t i = 0; i < user.size(); ++i) {
        if (!is_identifier(user[i].name)) {
            fail("convertor name \"" + user[i].name + "\" is not an identifier");
        }
        if (!user[i].matches) fail("convertor \"" + user[i].name + "\" has no `matches` function");
        for (std::size_t j = 0; j < i; ++j) {
            if (user[j].name == user[i].name) {
                fail("convertor \"" + user[i].name + "\" is given twice");
            }
        }
    }
    if (what == kind::path && !text.empty() && !text.starts_with('/')) {
        fail("routed paths must start with '/'");
    }
    if (what == kind::host && text.empty()) fail("a host pattern cannot be empty");

    auto c = std::make_shared<compiled>();
    c->text = std::string(text);
    c->what = what;
    auto add_literal = [&](std::string_view literal) {
        if (literal.empty()) return;
        if (literal.find('}') != std::string_view::npos) fail("'}' without a matching '{'");
        if (what == kind::host) {
            if (literal.find_first_of("/: \t") != std::string_view::npos) {
                fail("a host pattern is a host name only (no '/', no port: ports are ignored "
                     "when matching)");
            }
            c->parts.push_back({true, to_lower_ascii(literal), 0});
        } else {
            c->parts.push_back({true, std::string(literal), 0});
        }
    };
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto open = text.find('{', pos);
        add_literal(text.substr(pos, open == std::string_view::npos ? open : open - pos));
        if (open == std::string_view::npos) break;
        const auto close = text.find('}', open);
        if (close == std::string_view::npos) fail("'{' without a matching '}'");
        const auto inside = text.substr(open + 1, close - open - 1);
        const auto colon = inside.find(':');
        const auto name = inside.substr(0, colon);
        const auto type_name =
            colon == std::string_view::npos ? std::string_view("str") : inside.substr(colon + 1);
        if (!is_identifier(name)) {
            fail("\"{" + std::string(inside) + "}\" is not a parameter ({name} or {name:type})");
        }
        for (const auto& existing : c->names) {
            if (existing == name) fail("duplicated param name " + std::string(name));
        }
        if (c->names.size() == max_params) {
            fail("more than " + std::to_string(max_params) + " parameters");
        }
        param_type type;
        bool found = false;
        for (const auto& candidate : user) {
            if (candidate.name == type_name) {
                type = {builtin::user, std::make_shared<const path_convertor>(candidate)};
                found = true;
            }
        }
        if (!found) {
            static constexpr std::pair<std::string_view, builtin> builtins[] = {
                {"str", builtin::str},       {"path", builtin::path}, {"int", builtin::integer},
                {"float", builtin::floating}, {"uuid", builtin::uuid}};
            for (const auto& [builtin_name, kind_of] : builtins) {
                if (builtin_name == type_name) {
                    type = {kind_of, nullptr};
                    found = true;
                }
            }
        }
        if (!found) fail("unknown path convertor \"" + std::string(type_name) + "\"");
        c->parts.push_back({false, {}, c->names.size()});
        c->names.emplace_back(name);
        c->types.push_back(std::move(type));
        pos = close + 1;
    }
    compiled_ = std::move(c);
}

bool path_pattern::match(std::string_view text, captures& out) const {
    const auto& c = *compiled_;
    if (c.names.empty()) {
        if (c.parts.empty()) return text.empty();
        return c.literal_at(c.parts.front(), text) && text.size() == c.parts.front().text.size();
    }
    return c.match_from(0, text, out);
}

std::optional<std::size_t> path_pattern::match_prefix(std::string_view text,
                                                      captures& out) const {
    const auto& c = *compiled_;
    if (c.names.empty()) {
        const std::string_view prefix = c.parts.empty() ? std::string_view{} : c.parts[0].text;
        if (!text.starts_with(prefix)) return std::nullopt;
        if (text.size() == prefix.size() || text[prefix.size()] == '/') return prefix.size();
        return std::nullopt;
    }
    // The longest prefix ending at the end of the text or before a '/'.
    for (std::size_t end = text.size();;) {
        if (c.match_from(0, text.substr(0, end), out)) return end;
        if (end == 0) return std::nullopt;
        end = text.rfind('/', end - 1);
        if (end == std::string_view::npos) return std::nullopt;
    }
}

void path_pattern::convert(const captures& found, path_params& into) const {
    const auto& c = *compiled_;
    for (std::size_t i = 0; i < c.names.size(); ++i) {
        const auto text = found[i];
        const auto& type = c.types[i];
        switch (type.type) {
            case builtin::integer: into.set(c.names[i], *parse_int(text)); break;
            case builtin::floating: into.set(c.names[i], *parse_float(text)); break;
            case builtin::user:
                if (type.user->convert) {
                    into.set(c.names[i], type.user->convert(text));
                    break;
                }
                [[fallthrough]];
            default: into.set(c.names[i], std::string(text)); break;
        }
    }
}

std::optional<std::string> path_pattern::format(const path_params& params,
                                                std::string* why) const {
    const auto& c = *compiled_;
    std::string out;
    for (const auto& p : c.parts) {
        if (p.literal) {
            if (c.what == kind::host) {
                out += p.text;
            } else {
                quote_append(out, p.text, path_safe, false);
            }
            continue;
        }
        const auto& name = c.names[p.param];
        const auto* value = params.find(name);
        if (value == nullptr) {
            if (why) *why = "param \"" + name + "\" is missing";
            return std::nullopt;
        }
        auto text = to_text(c.types[p.param], *value);
        if (!text) {
            if (why) {
                *why = "param \"" + name + "\" = " + display(*value) + " is not a valid " +
                       std::string(c.types[p.param].name());
            }
            return std::nullopt;
        }
        if (c.what == kind::host) {
            out += *text;
        } else {
            quote_append(out, *text, path_safe, false);
        }
    }
    return out;
}

const std::string& path_pattern::text() const noexcept { return compiled_->text; }
std::span<const std::string> path_pattern::param_names() const noexcept {
    return compiled_->names;
}
bool path_pattern::has_param(std::string_view name) const noexcept {
    for (const auto& existing : compiled_->names) {
        if (existing == name) return true;
    }
    return false;
}
bool path_pattern::is_static() const noexcept { return compiled_->names.empty(); }

}  // namespace tessera
