#pragma once
/// `http1::request_parser`: an incremental, zero-copy HTTP/1.1 request parser (RFC 9112, strict).
/// Sans-IO: bytes in, one event out per call; it never allocates per request once its two small
/// vectors have grown to the largest header count seen.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "tessera/headers.hpp"

namespace tessera::http1 {

/// Limits the parser enforces, with the status each one answers.
struct parser_limits {
    std::size_t max_request_line = 8 * 1024;  ///< bytes before CRLF; above: 414
    std::size_t max_header_bytes = 64 * 1024;  ///< header (or trailer) section with CRLFs: 431
    std::size_t max_headers = 100;             ///< field lines per section; above: 431
    std::uint64_t max_body = std::uint64_t{1} << 30;  ///< decoded body bytes; above: 413
    std::size_t max_chunk_extension = 1024;    ///< bytes after a chunk size; above: 400
    std::size_t max_empty_lines = 8;  ///< CRLFs tolerated before a request line (RFC 9112 §2.2)
};

/// One field line as received: `name` keeps its case, `value` is trimmed of SP/HTAB. Both view
/// into the caller's input.
struct header_view {
    std::string_view name;
    std::string_view value;
};

/// Which of the four request-target forms (RFC 9112 §3.2) the request used.
enum class target_form : std::uint8_t { origin, absolute, authority, asterisk };

/// How the request body is delimited.
enum class body_kind : std::uint8_t { none, content_length, chunked };

/// A complete, validated request head. Every view points into the input given to the
/// `parse` call that returned `event_kind::head` (see `request_parser` for how long).
struct request_head {
    std::string_view method;     ///< a token, case kept (methods are case-sensitive)
    std::string_view target;     ///< the request-target exactly as received
    /// origin- and absolute-form: the path (a static "/" when an absolute URI has none);
    /// asterisk-form: "*"; authority-form: empty.
    std::string_view path;
    std::string_view query;      ///< after the first '?', without it; empty when absent
    std::string_view scheme;     ///< absolute-form only ("http" or "https", case kept)
    std::string_view authority;  ///< absolute- and authority-form only
    target_form form = target_form::origin;
    int version_minor = 1;  ///< 0 or 1; HTTP/1.2–1.9 are processed as 1.1 (RFC 9110 §6.2)
    std::span<const header_view> headers;  ///< in order, duplicates kept
    body_kind body = body_kind::none;
    std::uint64_t content_length = 0;  ///< when `body == content_length`
    /// The connection may serve another request after this one: HTTP/1.1 without
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    bool keep_alive = true;
    bool expect_continue = false;  ///< HTTP/1.1 with `Expect: 100-continue`
    /// HTTP/1.1 with an `upgrade` token in Connection and an Upgrade field: after this
    /// message the parser pauses (`event_kind::upgrade`).
    bool upgrade = false;
    std::string_view upgrade_protocols;  ///< the first Upgrade field's value (e.g. "websocket")
    std::string_view host;               ///< the Host field's value; empty when absent

    /// "1.0" or "1.1", for `scope::http_version`.
    [[nodiscard]] std::string_view http_version() const noexcept {
        return version_minor == 0 ? "1.0" : "1.1";
    }
};

/// What a `parse` call produced.
enum class event_kind : std::uint8_t {
    need_more,         ///< keep the unconsumed bytes, append more, call again
    head,              ///< `head()` is ready
    body,              ///< `parse_result::body` is the next piece of the (decoded) body
    trailers,          ///< `trailers()` holds a non-empty chunked trailer section
    message_complete,  ///< the request ended; the next call starts the next request
    upgrade,           ///< paused after an upgrade request; the rest of the bytes are not HTTP
    error              ///< `error()` says what to answer; terminal until `reset()`
};

/// The result of one `parse` call.
struct parse_result {
    event_kind kind = event_kind::need_more;
    std::size_t consumed = 0;  ///< bytes of the input the caller may now discard
    std::string_view body;     ///< `event_kind::body` only: a view into the input
};

/// Why the request was rejected and how to answer.
struct parse_error {
    int status = 400;          ///< 400, 413, 414, 431, 501 or 505
    std::string_view reason;   ///< a short static English explanation, for logs
    /// The connection must be closed after answering. Always true: once framing is in doubt
    /// nothing after the error can be trusted.
    bool close = true;
};

/// Parses a stream of requests on one connection.
///
/// Use: keep the connection's unconsumed bytes contiguous, call `parse(bytes)`, drop
/// `consumed` bytes from the front, act on the event, and call again while the event is not
/// `need_more` (or stop early for backpressure; nothing is lost). On `need_more`, append what
/// the socket reads next to the kept bytes and call again.
///
/// Zero-copy contract:
/// - A head or trailer section is consumed only when complete: while it is incomplete `parse`
///   returns `need_more` with `consumed` covering none of it, and the next call must be given
///   the same bytes again, followed by new ones (they may have moved in memory). Work already
///   done on them is not repeated, so slow clients cost linear time.
/// - Body pieces are consumed as they arrive (chunk framing included) and handed out as views.
/// - The views in `head()` and `parse_result::body` point into the input of the call that
///   produced them: they stay valid while the caller keeps those bytes unchanged, even though
///   they count as consumed. Copy what you need (into a `scope`) before discarding them.
/// - `head().headers` is storage owned by the parser, valid until the call after
///   `message_complete` (or `reset()`); `trailers()` until the next call.
/// - `message_complete`, `upgrade` and `error` may consume nothing; `upgrade` and `error`
///   repeat until `resume()` / `reset()`. After an error the connection must be closed.
/// Steady state allocates nothing: the field vectors keep their capacity (32 reserved).
class request_parser {
public:
    explicit request_parser(parser_limits limits = {});

    /// Parses from the start of the connection's unconsumed bytes; returns one event.
    [[nodiscard]] parse_result parse(std::string_view input);

    /// The last request head (after `event_kind::head`).
    [[nodiscard]] const request_head& head() const noexcept { return head_; }
    /// The trailer fields (after `event_kind::trailers`).
    [[nodiscard]] std::span<const header_view> trailers() const noexcept { return trailer_views_; }
    /// What went wrong (after `event_kind::error`).
    [[nodiscard]] const parse_error& error() const noexcept { return error_; }
    [[nodiscard]] const parser_limits& limits() const noexcept { return limits_; }
    /// True between requests with no bytes of the next one seen yet (for idle timeouts).
    [[nodiscard]] bool idle() const noexcept;

    /// After `event_kind::upgrade`, when the server declined the upgrade: parse HTTP again.
    void resume() noexcept;
    /// Forgets everything (a new connection); keeps the vectors' capacity.
    void reset() noexcept;

private:
    enum class phase : std::uint8_t {
        head, body_length, chunk_size, chunk_bws, chunk_ext, chunk_size_lf, chunk_data,
        chunk_data_cr, chunk_data_lf, trailers, complete, upgrade, failed
    };
    enum class lines_status : std::uint8_t { incomplete, complete, failed };
    enum class fast_line : std::uint8_t { done, section_end, failed, fall_back };
    /// A piece of the pending section by position, since its bytes may move between calls.
    struct span_offsets {
        std::uint32_t pos = 0, len = 0;
    };
    struct field_offsets {
        span_offsets name, value;
    };

    lines_status scan_lines(std::string_view section, bool trailer_section);
    fast_line fast_field_line(std::string_view section, bool trailer_section);
    bool parse_request_line(std::string_view section, std::size_t begin, std::size_t end);
    bool classify_target(std::string_view method, std::string_view target, std::size_t at);
    bool parse_field_line(std::string_view section, std::size_t begin, std::size_t end,
                          bool trailer_section);
    bool note_field(std::string_view name, std::string_view value, std::size_t value_pos,
                    std::size_t value_len);
    bool finish_head(std::string_view section);
    bool fail(int status, std::string_view reason) noexcept;
    void start_section() noexcept;
    void start_request() noexcept;

    parser_limits limits_;
    phase phase_ = phase::head;
    bool fresh_ = true;  // the head state still describes the previous request

    // Line scanning in the pending head or trailer section (offsets from its first byte).
    std::size_t line_start_ = 0;     // first byte of the first line not yet validated
    std::size_t searched_ = 0;       // no LF in [line_start_, searched_)
    std::size_t section_start_ = 0;  // first byte of the field lines
    std::size_t empty_lines_ = 0;
    bool request_line_done_ = false;

    // The request line, by position.
    span_offsets method_, target_, path_, query_, scheme_, authority_;
    bool root_path_ = false;  // absolute-form without a path: the path is "/"
    target_form form_ = target_form::origin;
    int version_minor_ = 1;

    // Facts gathered from the fields while the head is incomplete.
    std::uint64_t content_length_ = 0;
    std::size_t host_count_ = 0;
    span_offsets host_, upgrade_value_;
    bool has_content_length_ = false, has_upgrade_ = false;
    bool te_present_ = false, te_last_chunked_ = false, te_unknown_ = false;
    std::uint8_t te_chunked_count_ = 0;
    bool conn_close_ = false, conn_keep_alive_ = false, conn_upgrade_ = false;
    bool expect_continue_ = false;

    std::vector<field_offsets> fields_;
    std::vector<header_view> header_views_, trailer_views_;
    request_head head_;
    parse_error error_;

    // Body.
    std::uint64_t remaining_ = 0;   // content-length or current chunk bytes left
    std::uint64_t body_total_ = 0;  // decoded chunked bytes so far
    std::uint64_t chunk_size_ = 0;
    std::size_t chunk_digits_ = 0, chunk_ext_len_ = 0;
};

/// Replaces `out`'s contents with `fields`, names lower-cased, for a `scope`'s headers.
/// Strings already in `out` are reused, so a recycled vector allocates only for growth.
void to_header_fields(std::span<const header_view> fields, std::vector<header_field>& out);

/// Lower-cases an ASCII field name into `out` (replacing its contents).
void lower_into(std::string_view name, std::string& out);

/// Whether `value` is made only of what a Host field may hold: RFC 3986 reg-name, IP-literal
/// and port characters (letters, digits, `-._~!$&'()*+,;=%:[]`). The parser answers 400 to any
/// other Host; code that sets Host from elsewhere (proxy headers) checks with this.
[[nodiscard]] bool is_host_value(std::string_view value) noexcept;

}  // namespace tessera::http1
