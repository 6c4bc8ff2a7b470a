#pragma once
/// `path_pattern`: a compiled `/users/{id:int}` template, and `path_convertor` for user types.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/path_params.hpp"

namespace tessera {

/// A parameter type of your own for path templates (`{slug:slug}`), passed to the route, mount
/// or host that uses it through its options' `convertors` (there is no global registry). Only
/// `name` and `matches` are required. The functions are called concurrently by every request
/// the route sees: keep them pure.
///
///     const path_convertor slug{
///         .name = "slug",
///         .matches = [](std::string_view text) {
///             return text.find_first_not_of("abcdefghijklmnopqrstuvwxyz-") == text.npos;
///         }};
///     route("/posts/{post:slug}", show_post, {.convertors = {slug}});
struct path_convertor {
    /// The name used after the colon; an identifier. May shadow a built-in (str, path, int,
    /// float, uuid) for the patterns it is given to.
    std::string name;
    /// Whether `text` is a whole value (never empty; without '/' unless `spans_slashes`).
    /// Matching tries the longest candidate first, as a greedy regular expression would.
    std::function<bool(std::string_view)> matches;
    /// Values may contain '/' (and be empty), like the built-in `path`.
    bool spans_slashes = false;
    /// The value put in `path_params` (default: the text as a std::string). Only called on text
    /// `matches` accepted.
    std::function<path_value(std::string_view)> convert;
    /// A value back to path text for reverse routing, or nullopt to refuse it (default: a
    /// string as it is, numbers formatted, then checked with `matches`).
    std::function<std::optional<std::string>(const path_value&)> to_string;
};

/// A path template (`/users/{id:int}/posts/{slug}`) or host template (`{sub}.example.org`),
/// compiled once and matched without allocating. Parameters are `{name}` or `{name:convertor}`
/// with the built-in convertors of Starlette: `str` (default; one segment, not empty), `path`
/// (anything, '/' included), `int` (digits, fitting in int64), `float` (`digits[.digits]`) and
/// `uuid` (lower-case 8-4-4-4-12 hex), plus the user's. Host templates compare their literal
/// text case-insensitively. Immutable and cheap to copy (the compiled parts are shared).
class path_pattern {
public:
    /// The most parameters one template may have (captures are kept in a fixed array).
    static constexpr std::size_t max_params = 16;
    enum class kind { path, host };

    /// Where a match found each parameter's text: views into the matched text, by parameter
    /// index. Only the first `param_names().size()` entries are meaningful.
    using captures = std::array<std::string_view, max_params>;

    /// Compiles `text`. Throws std::invalid_argument naming the problem: a path not starting
    /// with '/', an empty or port-carrying host, an unknown convertor, a duplicate or malformed
    /// parameter name, too many parameters.
    path_pattern(std::string_view text, kind what, std::span<const path_convertor> user = {});

    /// Whether the whole of `text` matches; fills `out` with the parameters' text.
    [[nodiscard]] bool match(std::string_view text, captures& out) const;
    /// Whether `text` begins with a match followed by nothing or by '/' (a mount prefix): the
    /// length of the matched prefix (the longest that fits), or nullopt.
    [[nodiscard]] std::optional<std::size_t> match_prefix(std::string_view text,
                                                          captures& out) const;
    /// Sets each parameter's converted value in `into` (replacing values of the same name).
    void convert(const captures& found, path_params& into) const;
    /// The text of the template with each parameter replaced by the value in `params` (every
    /// parameter must be given; extra entries are ignored). A path template's text is
    /// percent-encoded where a path cannot hold a character raw ('/', ':', '@' and the
    /// sub-delimiters are kept), so the result routes back to the same values. On failure
    /// returns nullopt and, if `why` is set, says which value was missing or refused.
    [[nodiscard]] std::optional<std::string> format(const path_params& params,
                                                    std::string* why = nullptr) const;

    /// The template as written.
    [[nodiscard]] const std::string& text() const noexcept;
    /// Parameter names in order of appearance.
    [[nodiscard]] std::span<const std::string> param_names() const noexcept;
    [[nodiscard]] bool has_param(std::string_view name) const noexcept;
    /// True when the template has no parameters (matched by one string comparison).
    [[nodiscard]] bool is_static() const noexcept;

    struct compiled;

private:
    std::shared_ptr<const compiled> compiled_;
};

}  // namespace tessera
