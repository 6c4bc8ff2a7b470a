#include "tessera/http1_parser.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace tessera::http1 {
namespace {

// One 256-byte class table instead of several: every lookup in the hot loops hits the same
// cache lines.
enum : std::uint8_t {
    c_token = 1,   // tchar (RFC 9110 §5.6.2)
    c_value = 2,   // field-vchar, SP, HTAB (obs-text included)
    c_target = 4,  // VCHAR except '#': what a request-target may hold
    c_host = 8,    // reg-name / IP-literal / port characters (RFC 3986), plus ':' '[' ']'
    c_hex = 16,
    c_digit = 32,
};

constexpr std::array<std::uint8_t, 256> make_classes() {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        std::uint8_t f = 0;
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        const bool digit = c >= '0' && c <= '9';
        if (alpha || digit || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                  std::string_view::npos) {
            f |= c_token;
        }
        if (c == '\t' || (c >= 0x20 && c != 0x7f)) f |= c_value;
        if (c > 0x20 && c < 0x7f && c != '#') f |= c_target;
        if (alpha || digit ||
            std::string_view("-._~!$&'()*+,;=%:[]").find(static_cast<char>(c)) !=
                std::string_view::npos) {
            f |= c_host;
        }
        if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) f |= c_hex;
        if (digit) f |= c_digit;
        t[static_cast<std::size_t>(c)] = f;
    }
    return t;
}
constexpr auto classes = make_classes();

constexpr std::array<char, 256> make_lower() {
    std::array<char, 256> t{};
    for (int c = 0; c < 256; ++c) {
        t[static_cast<std::size_t>(c)] =
            static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    return t;
}
constexpr auto lower_table = make_lower();

inline std::uint8_t cls(char c) noexcept { return classes[static_cast<unsigned char>(c)]; }
inline bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    return (c | 0x20) - 'a' + 10;  // only called on hex digits
}

// `text` equals `lower_literal` ignoring ASCII case (the literal is lower-case).
bool ieq(std::string_view text, std::string_view lower_literal) noexcept {
    if (text.size() != lower_literal.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (lower_table[static_cast<unsigned char>(text[i])] != lower_literal[i]) return false;
    }
    return true;
}

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

// Calls fn(element) for each trimmed comma-separated element (empty ones included, so the
// caller decides whether an empty list element is an error); stops when fn returns false.
template <class Fn>
bool each_element(std::string_view list, Fn fn) {
    while (true) {
        const std::size_t comma = list.find(',');
        if (!fn(trim_ows(list.substr(0, comma)))) return false;
        if (comma == std::string_view::npos) return true;
        list.remove_prefix(comma + 1);
    }
}

// The first byte in [p, e) that may not appear in a field value, or e. Values are the bulk of
// a head, so eight bytes are checked per step: a word with no byte below 0x20 and no 0x7f is
// clean (bytes >= 0x80 are obs-text and allowed); a word that trips the test (usually an HTAB)
// is looked at byte by byte.
const char* find_bad_value_byte(const char* p, const char* e) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t highs = 0x8080808080808080ULL;
    while (e - p >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;
        const std::uint64_t del = w ^ (ones * 0x7f);
        const std::uint64_t has_del = (del - ones) & ~del & highs;
        if ((below_space | has_del) != 0) {
            for (int i = 0; i < 8; ++i) {
                if (!(cls(p[i]) & c_value)) return p + i;
            }
        }
        p += 8;
    }
    for (; p < e; ++p) {
        if (!(cls(*p) & c_value)) return p;
    }
    return e;
}

bool all_of_class(std::string_view s, std::uint8_t cls_mask) noexcept {
    for (const char c : s) {
        if (!(cls(c) & cls_mask)) return false;
    }
    return true;
}

// 1*DIGIT with overflow detection.
bool parse_decimal(std::string_view s, std::uint64_t& out) noexcept {
    if (s.empty()) return false;
    std::uint64_t v = 0;
    for (const char c : s) {
        if (!(cls(c) & c_digit)) return false;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
        v = v * 10 + d;
    }
    out = v;
    return true;
}

constexpr std::size_t max_offset = std::size_t{1} << 30;  // keeps offsets in 32 bits

}  // namespace

request_parser::request_parser(parser_limits limits) : limits_(limits) {
    // Offsets into a pending section are 32-bit; no sane limit comes near.
    limits_.max_request_line = std::min(limits_.max_request_line, max_offset);
    limits_.max_header_bytes = std::min(limits_.max_header_bytes, max_offset);
    fields_.reserve(32);
    header_views_.reserve(32);
}

bool request_parser::idle() const noexcept {
    return phase_ == phase::head && (fresh_ || searched_ == 0);
}

void request_parser::resume() noexcept {
    if (phase_ == phase::upgrade) {
        phase_ = phase::head;
        fresh_ = true;
    }
}

void request_parser::reset() noexcept {
    phase_ = phase::head;
    fresh_ = true;
    error_ = {};
    trailer_views_.clear();
}

bool request_parser::fail(int status, std::string_view reason) noexcept {
    error_ = parse_error{status, reason, true};
    phase_ = phase::failed;
    return false;
}

void request_parser::start_section() noexcept {
    line_start_ = 0;
    searched_ = 0;
    section_start_ = 0;
    fields_.clear();
}

void request_parser::start_request() noexcept {
    start_section();
    empty_lines_ = 0;
    request_line_done_ = false;
    content_length_ = 0;
    host_count_ = 0;
    host_ = upgrade_value_ = {};
    has_content_length_ = has_upgrade_ = false;
    te_present_ = te_last_chunked_ = te_unknown_ = false;
    te_chunked_count_ = 0;
    conn_close_ = conn_keep_alive_ = conn_upgrade_ = false;
    expect_continue_ = false;
    remaining_ = body_total_ = chunk_size_ = 0;
    chunk_digits_ = chunk_ext_len_ = 0;
    header_views_.clear();
    trailer_views_.clear();
    head_ = request_head{};
}

// Validates every complete line of the pending section once, remembering where it stopped,
// so a head that trickles in byte by byte costs linear time. Limits are checked before a
// line's content, and an incomplete line is only checked against limits: that way any split
// of the input reaches the same verdict at the same line.
request_parser::lines_status request_parser::scan_lines(std::string_view s, bool trailer) {
    const char* base = s.data();
    const std::size_t n = s.size();
    if (n < line_start_) {
        // The caller did not keep the bytes it was told to keep; start over rather than read
        // outside the input.
        if (trailer) {
            start_section();
        } else {
            start_request();
        }
    }
    while (true) {
        const std::size_t ls = line_start_;
        const bool in_request_line = !trailer && !request_line_done_;
        if (!in_request_line && searched_ <= ls) {
            switch (fast_field_line(s, trailer)) {
                case fast_line::done: continue;
                case fast_line::section_end: return lines_status::complete;
                case fast_line::failed: return lines_status::failed;
                case fast_line::fall_back: break;
            }
        }
        const std::size_t from = std::max(searched_, ls);
        const void* nl = from < n ? std::memchr(base + from, '\n', n - from) : nullptr;
        if (nl == nullptr) {
            searched_ = n;
            if (in_request_line) {
                // +1: the last byte may be the CR of a line of exactly the maximum length.
                if (n - ls > limits_.max_request_line + 1) {
                    fail(414, "request line too long");
                    return lines_status::failed;
                }
            } else if (n - section_start_ > limits_.max_header_bytes) {
                fail(431, trailer ? "trailer section too large" : "header section too large");
                return lines_status::failed;
            }
            return lines_status::incomplete;
        }
        const auto lf = static_cast<std::size_t>(static_cast<const char*>(nl) - base);
        const bool cr = lf > ls && base[lf - 1] == '\r';
        const std::size_t end = cr ? lf - 1 : lf;
        line_start_ = searched_ = lf + 1;
        if (in_request_line) {
            if (end - ls > limits_.max_request_line) {
                fail(414, "request line too long");
                return lines_status::failed;
            }
            if (!cr) {
                fail(400, "bare LF in request head");
                return lines_status::failed;
            }
            if (end == ls) {
                if (++empty_lines_ > limits_.max_empty_lines) {
                    fail(400, "too many empty lines before the request line");
                    return lines_status::failed;
                }
                continue;
            }
            if (!parse_request_line(s, ls, end)) return lines_status::failed;
            request_line_done_ = true;
            section_start_ = lf + 1;
            continue;
        }
        if (lf + 1 - section_start_ > limits_.max_header_bytes) {
            fail(431, trailer ? "trailer section too large" : "header section too large");
            return lines_status::failed;
        }
        if (!cr) {
            fail(400, trailer ? "bare LF in trailer section" : "bare LF in request head");
            return lines_status::failed;
        }
        if (end == ls) return lines_status::complete;  // the empty line ends the section
        if (fields_.size() >= limits_.max_headers) {
            fail(431, trailer ? "too many trailer fields" : "too many header fields");
            return lines_status::failed;
        }
        if (!parse_field_line(s, ls, end, trailer)) return lines_status::failed;
    }
}

// The common case in one pass: a field line that is complete, well-formed and within the
// limits is validated while its end is found, instead of memchr followed by validation. Any
// surprise (an incomplete line, a bad byte, a limit) falls back to the careful path, which
// then gives the verdict: so the result never depends on which path ran.
request_parser::fast_line request_parser::fast_field_line(std::string_view s, bool trailer) {
    const char* p = s.data();
    const std::size_t n = s.size();
    const std::size_t ls = line_start_;
    if (n - ls >= 2 && p[ls] == '\r' && p[ls + 1] == '\n') {
        if (ls + 2 - section_start_ > limits_.max_header_bytes) return fast_line::fall_back;
        line_start_ = searched_ = ls + 2;
        return fast_line::section_end;
    }
    std::size_t i = ls;
    while (i < n && (cls(p[i]) & c_token)) ++i;
    if (i == ls || i >= n || p[i] != ':') return fast_line::fall_back;
    const std::size_t name_end = i++;
    while (i < n && is_ows(p[i])) ++i;
    const std::size_t vb = i;
    const auto cr = static_cast<std::size_t>(find_bad_value_byte(p + i, p + n) - p);
    if (cr + 1 >= n || p[cr] != '\r' || p[cr + 1] != '\n' ||
        cr + 2 - section_start_ > limits_.max_header_bytes ||
        fields_.size() >= limits_.max_headers) {
        return fast_line::fall_back;
    }
    std::size_t ve = cr;
    while (ve > vb && is_ows(p[ve - 1])) --ve;
    line_start_ = searched_ = cr + 2;
    fields_.push_back({{static_cast<std::uint32_t>(ls), static_cast<std::uint32_t>(name_end - ls)},
                       {static_cast<std::uint32_t>(vb), static_cast<std::uint32_t>(ve - vb)}});
    if (trailer) return fast_line::done;
    return note_field(s.substr(ls, name_end - ls), s.substr(vb, ve - vb), vb, ve - vb)
               ? fast_line::done
               : fast_line::failed;
}

bool request_parser::parse_request_line(std::string_view s, std::size_t b, std::size_t e) {
    const char* p = s.data();
    std::size_t i = b;
    while (i < e && (cls(p[i]) & c_token)) ++i;
    if (i == b || i == e || p[i] != ' ') return fail(400, "invalid method");
    method_ = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(i - b)};

    const std::size_t t = ++i;
    while (i < e && (cls(p[i]) & c_target)) ++i;
    if (i == t || i == e || p[i] != ' ') return fail(400, "invalid request-target");
    target_ = {static_cast<std::uint32_t>(t), static_cast<std::uint32_t>(i - t)};

    // HTTP-version = "HTTP/" DIGIT "." DIGIT, and nothing after it.
    const char* v = p + i + 1;
    if (e - (i + 1) != 8 || std::memcmp(v, "HTTP/", 5) != 0 || !(cls(v[5]) & c_digit) ||
        v[6] != '.' || !(cls(v[7]) & c_digit)) {
        return fail(400, "invalid HTTP version");
    }
    if (v[5] != '1') return fail(505, "HTTP version not supported");
    // A higher minor version of a major version we implement is processed as the highest one
    // we know (RFC 9110 §6.2).
    version_minor_ = v[7] == '0' ? 0 : 1;

    return classify_target(s.substr(b, method_.len), s.substr(t, target_.len), t);
}

bool request_parser::classify_target(std::string_view method, std::string_view target,
                                     std::size_t at) {
    const auto off = [&](std::string_view part) {
        return span_offsets{static_cast<std::uint32_t>(
                                at + static_cast<std::size_t>(part.data() - target.data())),
                            static_cast<std::uint32_t>(part.size())};
    };
    path_ = query_ = scheme_ = authority_ = {};
    root_path_ = false;
    const auto split_query = [&](std::string_view rest) {
        const std::size_t q = rest.find('?');
        path_ = off(rest.substr(0, q));
        if (q != std::string_view::npos) query_ = off(rest.substr(q + 1));
    };

    if (method == "CONNECT") {
        // authority-form = uri-host ":" port, and only for CONNECT (RFC 9112 §3.2.3).
        const std::size_t colon = target.rfind(':');
        if (target.front() == '/' || colon == std::string_view::npos || colon == 0 ||
            colon + 1 == target.size() || !all_of_class(target.substr(colon + 1), c_digit) ||
            !all_of_class(target.substr(0, colon), c_host)) {
            return fail(400, "CONNECT needs an authority-form target");
        }
        form_ = target_form::authority;
        authority_ = off(target);
        return true;
    }
    if (target.front() == '/') {
        form_ = target_form::origin;
        split_query(target);
        return true;
    }
    if (target == "*") {
        if (method != "OPTIONS") return fail(400, "asterisk-form is only for OPTIONS");
        form_ = target_form::asterisk;
        path_ = off(target);
        return true;
    }
    // absolute-form: only http(s) URIs mean anything to an HTTP server.
    const std::size_t colon = target.find(':');
    if (colon == std::string_view::npos) return fail(400, "invalid request-target");
    const std::string_view scheme = target.substr(0, colon);
    if (!ieq(scheme, "http") && !ieq(scheme, "https")) {
        return fail(400, "absolute-form target must be an http or https URI");
    }
    if (target.substr(colon + 1, 2) != "//") return fail(400, "invalid absolute-form target");
    const std::string_view rest = target.substr(colon + 3);
    const std::size_t auth_end = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, auth_end);
    // userinfo in an http URI is deprecated and a phishing vector (RFC 9110 §4.2.4).
    if (authority.empty() || !all_of_class(authority, c_host)) {
        return fail(400, "invalid authority in absolute-form target");
    }
    form_ = target_form::absolute;
    scheme_ = off(scheme);
    authority_ = off(authority);
    if (auth_end == std::string_view::npos) {
        root_path_ = true;
    } else if (rest[auth_end] == '?') {
        root_path_ = true;
        query_ = off(rest.substr(auth_end + 1));
    } else {
        split_query(rest.substr(auth_end));
    }
    return true;
}

bool request_parser::parse_field_line(std::string_view s, std::size_t b, std::size_t e,
                                      bool trailer) {
    const char* p = s.data();
    // A line starting with whitespace is obs-fold (or whitespace after the start line): both
    // are smuggling vectors, and RFC 9112 §5.2 lets a server reject them.
    if (is_ows(p[b])) return fail(400, "obsolete line folding");
    std::size_t i = b;
    while (i < e && (cls(p[i]) & c_token)) ++i;
    if (i == b || i == e || p[i] != ':') {
        return fail(400, "invalid field name (whitespace before ':' is not allowed)");
    }
    std::size_t vb = i + 1;
    std::size_t ve = e;
    while (vb < ve && is_ows(p[vb])) ++vb;
    while (ve > vb && is_ows(p[ve - 1])) --ve;
    if (find_bad_value_byte(p + vb, p + ve) != p + ve) {
        return fail(400, "control character in field value");
    }
    fields_.push_back({{static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(i - b)},
                       {static_cast<std::uint32_t>(vb), static_cast<std::uint32_t>(ve - vb)}});
    if (trailer) return true;  // trailers never carry framing or routing facts
    return note_field(s.substr(b, i - b), s.substr(vb, ve - vb), vb, ve - vb);
}

// Records what the server must know about the fields that control framing, routing and the
// connection. Dispatching on the name's length first keeps this off the hot path for all the
// other fields.
bool request_parser::note_field(std::string_view name, std::string_view value,
                                std::size_t value_pos, std::size_t value_len) {
    // Built here from plain integers: copying a just-stored 2×32-bit struct through memory
    // stalled store forwarding measurably on this path.
    const span_offsets value_at{static_cast<std::uint32_t>(value_pos),
                                static_cast<std::uint32_t>(value_len)};
    switch (name.size()) {
        case 4:
            if (ieq(name, "host")) {
                if (host_count_++ == 0) host_ = value_at;
                if (!all_of_class(value, c_host)) return fail(400, "invalid Host");
            }
            return true;
        case 6:
            if (ieq(name, "expect")) {
                each_element(value, [&](std::string_view item) {
                    if (ieq(item, "100-continue")) expect_continue_ = true;
                    return true;
                });
            }
            return true;
        case 7:
            if (ieq(name, "upgrade") && !has_upgrade_) {
                has_upgrade_ = true;
                upgrade_value_ = value_at;
            }
            return true;
        case 10:
            if (ieq(name, "connection")) {
                each_element(value, [&](std::string_view item) {
                    if (ieq(item, "close")) conn_close_ = true;
                    else if (ieq(item, "keep-alive")) conn_keep_alive_ = true;
                    else if (ieq(item, "upgrade")) conn_upgrade_ = true;
                    return true;
                });
            }
            return true;
        case 14:
            if (ieq(name, "content-length")) {
                // A list of identical values ("5, 5", or the same value on several lines) is
                // accepted as RFC 9110 §8.6 allows; differing values, signs, spaces inside,
                // hex, empty elements and overflow are not.
                bool ok = true;
                each_element(value, [&](std::string_view item) {
                    std::uint64_t v = 0;
                    if (!parse_decimal(item, v) || (has_content_length_ && v != content_length_)) {
                        ok = false;
                        return false;
                    }
                    has_content_length_ = true;
                    content_length_ = v;
                    return true;
                });
                if (!ok) return fail(400, "invalid or conflicting Content-Length");
            }
            return true;
        case 17:
            if (ieq(name, "transfer-encoding")) {
                te_present_ = true;
                bool ok = true;
                each_element(value, [&](std::string_view item) {
                    std::size_t k = 0;
                    while (k < item.size() && (cls(item[k]) & c_token)) ++k;
                    if (k == 0) {
                        ok = false;
                        return false;
                    }
                    // Anything after the coding name must be parameters; chunked has none,
                    // so "chunked;x=y" counts as a coding we do not know.
                    const std::string_view rest = trim_ows(item.substr(k));
                    if (!rest.empty() && rest.front() != ';') {
                        ok = false;
                        return false;
                    }
                    if (rest.empty() && ieq(item.substr(0, k), "chunked")) {
                        if (te_chunked_count_ < 2) ++te_chunked_count_;
                        te_last_chunked_ = true;
                    } else {
                        te_last_chunked_ = false;
                        te_unknown_ = true;
                    }
                    return true;
                });
                if (!ok) return fail(400, "invalid Transfer-Encoding");
            }
            return true;
        default:
            return true;
    }
}

bool request_parser::finish_head(std::string_view s) {
    const char* b = s.data();
    const auto view = [b](span_offsets o) { return std::string_view(b + o.pos, o.len); };

    if (host_count_ > 1) return fail(400, "more than one Host");
    if (host_count_ == 0 && version_minor_ == 1) return fail(400, "missing Host");
    if (te_present_) {
        // Each of these is a request-smuggling vector; all close the connection.
        if (version_minor_ == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
        if (has_content_length_) return fail(400, "both Content-Length and Transfer-Encoding");
        // RFC 9112 §6.3: chunked not last means the length cannot be determined: 400.
        if (!te_last_chunked_) return fail(400, "chunked is not the final transfer coding");
        if (te_chunked_count_ > 1) return fail(400, "chunked applied more than once");
        // RFC 9112 §6.1: a transfer coding we do not understand: 501.
        if (te_unknown_) return fail(501, "unsupported transfer coding");
    }
    if (has_content_length_ && content_length_ > limits_.max_body) {
        return fail(413, "Content-Length exceeds the body limit");
    }

    header_views_.resize(fields_.size());
    for (std::size_t i = 0; i < fields_.size(); ++i) {
        header_views_[i] = {view(fields_[i].name), view(fields_[i].value)};
    }

    request_head& h = head_;
    h.method = view(method_);
    h.target = view(target_);
    h.path = root_path_ ? std::string_view("/") : view(path_);
    h.query = view(query_);
    h.scheme = view(scheme_);
    h.authority = view(authority_);
    h.form = form_;
    h.version_minor = version_minor_;
    h.headers = header_views_;
    if (te_present_) {
        h.body = body_kind::chunked;
    } else if (has_content_length_ && content_length_ > 0) {
        h.body = body_kind::content_length;
    } else {
        h.body = body_kind::none;
    }
    h.content_length = has_content_length_ ? content_length_ : 0;
    h.keep_alive = !conn_close_ && (version_minor_ == 1 || conn_keep_alive_);
    // Both are meaningless from an HTTP/1.0 client (RFC 9110 §10.1.1, §7.8).
    h.expect_continue = version_minor_ == 1 && expect_continue_;
    h.upgrade = version_minor_ == 1 && conn_upgrade_ && has_upgrade_ && upgrade_value_.len > 0;
    h.upgrade_protocols = has_upgrade_ ? view(upgrade_value_) : std::string_view{};
    h.host = view(host_);
    return true;
}

parse_result request_parser::parse(std::string_view in) {
    const char* p = in.data();
    const std::size_t n = in.size();
    std::size_t pos = 0;
    while (true) {
        switch (phase_) {
            case phase::head: {
                if (fresh_) {
                    start_request();
                    fresh_ = false;
                }
                const lines_status st = scan_lines(in, false);
                if (st == lines_status::incomplete) return {event_kind::need_more, 0, {}};
                if (st == lines_status::failed || !finish_head(in)) {
                    return {event_kind::error, 0, {}};
                }
                switch (head_.body) {
                    case body_kind::none: phase_ = phase::complete; break;
                    case body_kind::content_length:
                        phase_ = phase::body_length;
                        remaining_ = head_.content_length;
                        break;
                    case body_kind::chunked: phase_ = phase::chunk_size; break;
                }
                return {event_kind::head, line_start_, {}};
            }

            case phase::body_length:
            case phase::chunk_data: {
                if (pos == n) return {event_kind::need_more, pos, {}};
                const auto take =
                    static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n - pos));
                remaining_ -= take;
                if (remaining_ == 0) {
                    phase_ = phase_ == phase::body_length ? phase::complete : phase::chunk_data_cr;
                }
                return {event_kind::body, pos + take, in.substr(pos, take)};
            }

            case phase::chunk_size:
            case phase::chunk_bws:
            case phase::chunk_ext:
            case phase::chunk_size_lf:
            case phase::chunk_data_cr:
            case phase::chunk_data_lf: {
                // Chunk framing is a few bytes per chunk: a byte-at-a-time state machine that
                // consumes as it goes needs no buffering and no rescanning.
                if (pos == n) return {event_kind::need_more, pos, {}};
                const char c = p[pos++];
                bool ok = true;
                switch (phase_) {
                    case phase::chunk_size:
                        if (cls(c) & c_hex) {
                            if (chunk_size_ > (std::numeric_limits<std::uint64_t>::max() >> 4)) {
                                ok = fail(400, "chunk size overflows");
                                break;
                            }
                            chunk_size_ = (chunk_size_ << 4) | static_cast<unsigned>(hex_value(c));
                            ++chunk_digits_;
                        } else if (chunk_digits_ == 0) {
                            ok = fail(400, "invalid chunk size");
                        } else if (c == '\r') {
                            phase_ = phase::chunk_size_lf;
                        } else if (c == ';') {
                            phase_ = phase::chunk_ext;
                            chunk_ext_len_ = 1;  // the extension's length counts from ';'
                        } else if (is_ows(c)) {
                            phase_ = phase::chunk_bws;
                            chunk_ext_len_ = 1;
                        } else {
                            ok = fail(400, "invalid chunk size");
                        }
                        break;
                    case phase::chunk_bws:
                        // BWS is only allowed before a ';' (RFC 9112 §7.1.1).
                        if (!is_ows(c) && c != ';') {
                            ok = fail(400, "invalid chunk extension");
                        } else if (++chunk_ext_len_ > limits_.max_chunk_extension) {
                            ok = fail(400, "chunk extension too long");
                        } else if (c == ';') {
                            phase_ = phase::chunk_ext;
                        }
                        break;
                    case phase::chunk_ext:
                        // Extensions are skipped; no control bytes, so a bare CR or LF cannot
                        // hide a chunk boundary inside one.
                        if (c == '\r') {
                            phase_ = phase::chunk_size_lf;
                        } else if (!(cls(c) & c_value)) {
                            ok = fail(400, "control character in chunk extension");
                        } else if (++chunk_ext_len_ > limits_.max_chunk_extension) {
                            ok = fail(400, "chunk extension too long");
                        }
                        break;
                    case phase::chunk_size_lf:
                        if (c != '\n') {
                            ok = fail(400, "bare CR in chunk size line");
                        } else if (chunk_size_ == 0) {
                            phase_ = phase::trailers;
                            start_section();
                        } else if (chunk_size_ > limits_.max_body - body_total_) {
                            ok = fail(413, "chunked body exceeds the body limit");
                        } else {
                            body_total_ += chunk_size_;
                            remaining_ = chunk_size_;
                            phase_ = phase::chunk_data;
                        }
                        chunk_size_ = 0;
                        chunk_digits_ = chunk_ext_len_ = 0;
                        break;
                    case phase::chunk_data_cr:
                        if (c == '\r') {
                            phase_ = phase::chunk_data_lf;
                        } else {
                            ok = fail(400, "chunk data not followed by CRLF");
                        }
                        break;
                    case phase::chunk_data_lf:
                        if (c == '\n') {
                            phase_ = phase::chunk_size;
                        } else {
                            ok = fail(400, "chunk data not followed by CRLF");
                        }
                        break;
                    default: break;
                }
                if (!ok) return {event_kind::error, pos - 1, {}};
                continue;
            }

            case phase::trailers: {
                const std::string_view section = in.substr(pos);
                const lines_status st = scan_lines(section, true);
                if (st == lines_status::incomplete) return {event_kind::need_more, pos, {}};
                if (st == lines_status::failed) return {event_kind::error, pos, {}};
                const std::size_t end = pos + line_start_;
                phase_ = phase::complete;
                if (fields_.empty()) {
                    pos = end;
                    continue;
                }
                trailer_views_.clear();
                const char* b = section.data();
                for (const auto& f : fields_) {
                    trailer_views_.push_back({std::string_view(b + f.name.pos, f.name.len),
                                              std::string_view(b + f.value.pos, f.value.len)});
                }
                return {event_kind::trailers, end, {}};
            }

            case phase::complete:
                phase_ = head_.upgrade ? phase::upgrade : phase::head;
                fresh_ = true;
                return {event_kind::message_complete, pos, {}};

            case phase::upgrade: return {event_kind::upgrade, pos, {}};

            case phase::failed: return {event_kind::error, pos, {}};
        }
    }
}

void lower_into(std::string_view name, std::string& out) {
    out.resize(name.size());
    for (std::size_t i = 0; i < name.size(); ++i) {
        out[i] = lower_table[static_cast<unsigned char>(name[i])];
    }
}

bool is_host_value(std::string_view value) noexcept { return all_of_class(value, c_host); }

void to_header_fields(std::span<const header_view> fields, std::vector<header_field>& out) {
    // Assigning into existing strings reuses their buffers; names up to 15 bytes (nearly all
    // common ones) fit the small-string buffer anyway.
    out.resize(fields.size());
    for (std::size_t i = 0; i < fields.size(); ++i) {
        lower_into(fields[i].name, out[i].name);
        out[i].value.assign(fields[i].value);
    }
}

}  // namespace tessera::http1
