#pragma once
/// Cookies: parsing the `Cookie` request header and building `Set-Cookie` values, with the
/// behaviour of Starlette's `cookie_parser` and `Response.set_cookie` / `delete_cookie`.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tessera {

/// Name/value pairs from a `Cookie` header, names unique, in order of first appearance.
using cookie_list = std::vector<std::pair<std::string, std::string>>;

/// Parses a `Cookie` header the way Starlette's `cookie_parser` does (browser-lenient, not
/// RFC 6265-strict): split on `;`, split each chunk on its first `=` (a chunk without `=` is a
/// value with an empty name), trim ASCII whitespace from both, skip chunks where both are empty,
/// and unquote the value with Python's `http.cookies._unquote` (`"a\"b"` → `a"b`, `\012` octal
/// escapes). A repeated name keeps its first position and takes the last value (dict
/// semantics).
[[nodiscard]] cookie_list parse_cookie_header(std::string_view header);

/// The value of cookie `name` in `cookies`, if present.
[[nodiscard]] std::optional<std::string_view> find_cookie(const cookie_list& cookies,
                                                          std::string_view name) noexcept;

/// When a cookie expires: nothing, a preformatted HTTP date (used verbatim), a time point, or a
/// number of seconds from now (Starlette's `expires=int`).
using cookie_expiry = std::variant<std::monostate, std::string,
                                   std::chrono::system_clock::time_point, std::chrono::seconds>;

/// Attributes for `set_cookie_header_value`; defaults are Starlette's `set_cookie` defaults.
struct cookie_options {
    std::optional<long long> max_age{};
    cookie_expiry expires{};
    /// Empty means no `Path` attribute.
    std::string path = "/";
    std::optional<std::string> domain{};
    bool secure = false;
    bool httponly = false;
    /// `strict`, `lax` or `none` (any case, written as given), or nullopt for no attribute.
    std::optional<std::string> samesite = "lax";
    bool partitioned = false;
};

/// A `Set-Cookie` field value as Starlette (Python's SimpleCookie) writes it:
/// `name=value; Domain=…; expires=…; HttpOnly; Max-Age=…; Partitioned; Path=…; SameSite=…;
/// Secure` (attributes in that order). A value that is not all token characters is quoted, with
/// `"` and `\` backslash-escaped and other special bytes written as `\ooo` octal.
/// Throws std::invalid_argument for an empty or non-token name, a name equal to an attribute
/// name (`path`, `expires`, …, any case), a samesite not in strict/lax/none, or a control
/// character or `;` in path, domain, samesite or a string expiry (which would let a caller's
/// input inject attributes or break the header), or an expiry in seconds landing outside the
/// years 1 to 9999 (as Python's datetime refuses it).
[[nodiscard]] std::string set_cookie_header_value(std::string_view name, std::string_view value,
                                                  const cookie_options& options = {});

/// A `Set-Cookie` value that deletes cookie `name`: empty value, `Max-Age=0` and an expiry at the
/// epoch (Starlette's `delete_cookie`; it uses the current time, the epoch is equally past and
/// deterministic). `path`, `domain` and the flags must match the ones the cookie was set with.
[[nodiscard]] std::string delete_cookie_header_value(
    std::string_view name, std::string_view path = "/",
    std::optional<std::string_view> domain = std::nullopt, bool secure = false,
    bool httponly = false, std::optional<std::string_view> samesite = "lax");

}  // namespace tessera
