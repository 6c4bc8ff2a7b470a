#pragma once
/// URLs split into components (Starlette's `URL`, built on Python's `urlsplit`).

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "tessera/address.hpp"
#include "tessera/query_params.hpp"

namespace tessera {

/// An immutable URL: the text plus the offsets of its components, split the way Python's
/// `urllib.parse.urlsplit` splits (`scheme://netloc/path?query#fragment`; relative forms such
/// as `/path?q` have an empty scheme and netloc). Components are kept exactly as written —
/// nothing is percent-decoded — except that the scheme is lower-cased. The object owns its text;
/// accessors return views into it.
///
/// Unlike Python, which reports a bad port only when `.port` is read, parsing validates eagerly
/// and throws std::invalid_argument for a non-numeric or out-of-range port, an unbalanced `[`/`]`
/// or a bracketed host that is not an IPv6 (or IPvFuture) literal.
class url {
public:
    /// Fields for `replace`; each one set replaces that part. `hostname`, `port`, `username`,
    /// `password` and `remove_port` rebuild the netloc from its pieces (an IPv6 hostname gets
    /// brackets); the other pieces are kept from the current netloc (or from `netloc` when it
    /// is set too).
    struct components {
        std::optional<std::string> scheme{};
        std::optional<std::string> netloc{};
        std::optional<std::string> path{};
        std::optional<std::string> query{};
        std::optional<std::string> fragment{};
        std::optional<std::string> username{};
        std::optional<std::string> password{};
        std::optional<std::string> hostname{};
        std::optional<std::uint16_t> port{};
        /// Drops the port (Python's `replace(port=None)`); wins over `port`.
        bool remove_port = false;
    };

    /// The empty (relative) URL.
    url() = default;
    /// Parses `text`; throws std::invalid_argument (see the class comment). Leading C0 controls
    /// and spaces, and every tab, CR and LF, are removed first, as `urlsplit` does; `str()`
    /// returns the text after that removal.
    explicit url(std::string text);
    explicit url(std::string_view text) : url(std::string(text)) {}
    explicit url(const char* text) : url(std::string(text)) {}

    /// The URL of a request, built as Starlette does from the scope: `scheme://host` +
    /// `path` + `?query` (when the query is non-empty). `host` is the Host header value, or the
    /// server address already formatted; when it is empty the result is relative (`path?query`).
    /// `path` is root_path + path, still percent-encoded. Throws like the constructor (a Host
    /// header with a bad port, say).
    [[nodiscard]] static url from_parts(std::string_view scheme, std::string_view host,
                                        std::string_view path, std::string_view query_string);
    /// As above, choosing the authority the way Starlette does: the Host header when present,
    /// else the server address (its port omitted when it is the scheme's default), else none.
    [[nodiscard]] static url from_parts(std::string_view scheme,
                                        std::optional<std::string_view> host_header,
                                        const std::optional<address>& server,
                                        std::string_view path, std::string_view query_string);

    /// Lower-cased scheme, empty for a relative URL.
    [[nodiscard]] std::string_view scheme() const noexcept { return scheme_; }
    /// `user:password@host:port` as written, empty when absent.
    [[nodiscard]] std::string_view netloc() const noexcept { return view(netloc_); }
    [[nodiscard]] std::string_view path() const noexcept { return view(path_); }
    /// Query without the `?`, still percent-encoded.
    [[nodiscard]] std::string_view query() const noexcept { return view(query_); }
    [[nodiscard]] std::string_view fragment() const noexcept { return view(fragment_); }
    /// User name from the netloc; nullopt when there is no `@`.
    [[nodiscard]] std::optional<std::string_view> username() const noexcept;
    /// Password from the netloc; nullopt when there is no `:` in the user info.
    [[nodiscard]] std::optional<std::string_view> password() const noexcept;
    /// Host without brackets, lower-cased (an IPv6 zone id keeps its case); empty when absent.
    [[nodiscard]] std::string hostname() const;
    /// Explicit port, if any.
    [[nodiscard]] std::optional<std::uint16_t> port() const noexcept { return port_; }
    /// Whether the scheme is `https` or `wss`.
    [[nodiscard]] bool is_secure() const noexcept { return scheme_ == "https" || scheme_ == "wss"; }
    /// The URL text.
    [[nodiscard]] const std::string& str() const noexcept { return text_; }

    /// A copy with the given components replaced (Starlette's `URL.replace`). Empty components
    /// are dropped when the text is rebuilt, as `urlunsplit` does (`?` with an empty query).
    /// Throws std::invalid_argument when the result does not parse (see the class comment): a
    /// `netloc` that does not, or a plain `hostname` under user info holding `[` or `]` (which
    /// only a bracketed host balances; Python's urlsplit refuses that URL too).
    [[nodiscard]] url replace(const components& changes) const;
    /// A copy whose query has `params` set: existing pairs with those keys are removed and the
    /// new pairs appended (Starlette's `include_query_params`).
    [[nodiscard]] url include_query_params(
        std::initializer_list<std::pair<std::string_view, std::string_view>> params) const;
    /// A copy whose query is exactly `params`, urlencoded.
    [[nodiscard]] url replace_query_params(
        std::initializer_list<std::pair<std::string_view, std::string_view>> params) const;
    [[nodiscard]] url replace_query_params(const query_params& params) const;
    /// A copy without any pair whose key is in `keys`.
    [[nodiscard]] url remove_query_params(std::initializer_list<std::string_view> keys) const;

    /// Equal when the texts are equal (as Starlette compares `str(url)`).
    friend bool operator==(const url& a, const url& b) noexcept { return a.text_ == b.text_; }
    friend bool operator==(const url& a, std::string_view b) noexcept { return a.text_ == b; }

private:
    struct span {
        std::size_t pos = 0;
        std::size_t len = 0;
    };
    [[nodiscard]] std::string_view view(span s) const noexcept {
        return std::string_view(text_).substr(s.pos, s.len);
    }
    void parse();

    std::string text_;
    std::string scheme_;
    span netloc_, path_, query_, fragment_;
    span username_, password_, host_;
    bool has_username_ = false;
    bool has_password_ = false;
    std::optional<std::uint16_t> port_;
};

}  // namespace tessera
