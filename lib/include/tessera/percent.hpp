#pragma once
/// Percent-encoding (RFC 3986) with the exact semantics of Python's `urllib.parse` `unquote`,
/// `quote` and `quote_plus`, working on bytes: non-ASCII bytes are encoded byte by byte and
/// decoded bytes are returned as they are (no UTF-8 validation or replacement).

#include <string>
#include <string_view>

namespace tessera {

/// Decodes `%XX` escapes (either hex case). An invalid escape such as `%zz`, `%4` or a trailing
/// `%` is kept literally, as Python's `unquote` does. With `plus_as_space`, `+` becomes a space
/// first (form / query-string decoding), so `%2B` still decodes to `+`.
[[nodiscard]] std::string percent_decode(std::string_view text, bool plus_as_space = false);

/// Appends the decoded form of `text` to `out` (same rules as `percent_decode`); lets callers
/// decode into a buffer they already own.
void percent_decode_append(std::string& out, std::string_view text, bool plus_as_space = false);

/// Encodes like Python's `urllib.parse.quote`: ASCII letters, digits, `_.-~` and the ASCII bytes
/// in `safe` are kept; every other byte becomes `%XX` with upper-case hex.
[[nodiscard]] std::string quote(std::string_view text, std::string_view safe = "/");

/// Like `quote`, but a space becomes `+` (and `+` itself is escaped unless listed in `safe`):
/// Python's `quote_plus`, the encoding `urlencode` uses for keys and values.
[[nodiscard]] std::string quote_plus(std::string_view text, std::string_view safe = {});

/// Appends the `quote` (or, with `plus`, `quote_plus`) encoding of `text` to `out`.
void quote_append(std::string& out, std::string_view text, std::string_view safe, bool plus);

}  // namespace tessera
