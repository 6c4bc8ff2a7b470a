#include "tessera/http1_serializer.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <cstring>

#include "tessera/status.hpp"

namespace tessera::http1 {

// The one way into write_batch's owned bytes from outside the class: the head writer measures
// first and then fills the exact space, instead of appending piece by piece.
class head_writer {
public:
    static char* grow(write_batch& b, std::size_t n) { return b.grow_owned(n); }
};

namespace {

constexpr std::array<bool, 256> make_token_table() {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c) {
        t[static_cast<std::size_t>(c)] =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                std::string_view::npos;
    }
    return t;
}
constexpr auto token_table = make_token_table();

// The fields the head writer treats specially. Names are compared by length first, so an
// ordinary field costs one switch rather than five case-insensitive compares (twice: both
// passes of write_response_head ask).
enum class field_role : std::uint8_t { other, transfer_encoding, content_length, date, server, connection };

// Whether `text` (as long as `lower`) equals `lower`, a lower-case name of letters and '-',
// ignoring ASCII case. Compared in overlapping windows of up to eight bytes: each letter with
// its case bit (0x20) forced on, every other byte exactly, so only an upper-case letter can
// stand for a lower-case one. Inlined with a literal, the patterns are constants.
template <std::size_t N>
[[gnu::always_inline]] inline bool same_name(const char* text, const char (&lower)[N]) noexcept {
    constexpr std::size_t size = N - 1;
    constexpr std::size_t window = size < 8 ? 4 : 8;
    static_assert(size >= window);
    const auto matches = [&](std::size_t at) {
        std::uint64_t word = 0, want = 0, fold = 0;
        std::memcpy(&word, text + at, window);
        std::memcpy(&want, lower + at, window);
        for (std::size_t i = 0; i < window; ++i) {
            const char c = lower[at + i];
            if (c >= 'a' && c <= 'z') fold |= std::uint64_t{0x20} << (8 * i);
        }
        return (word | fold) == want;
    };
    bool same = true;
    for (std::size_t at = 0; at + window < size; at += window) same = same && matches(at);
    return same && matches(size - window);
}

field_role role_of(std::string_view name) noexcept {
    const char* p = name.data();
    switch (name.size()) {
        case 4: return same_name(p, "date") ? field_role::date : field_role::other;
        case 6: return same_name(p, "server") ? field_role::server : field_role::other;
        case 10: return same_name(p, "connection") ? field_role::connection : field_role::other;
        case 14:
            return same_name(p, "content-length") ? field_role::content_length
                                                  : field_role::other;
        case 17:
            return same_name(p, "transfer-encoding") ? field_role::transfer_encoding
                                                     : field_role::other;
        default: return field_role::other;
    }
}

// Whether the app's fields (may be null) hold one named `name`. Only asked for the server's
// default fields, which are few and usually none.
bool app_names(const headers* fields, std::string_view name) noexcept {
    if (!fields) return false;
    for (const header_field& f : *fields) {
        if (iequals(f.name, name)) return true;
    }
    return false;
}

char* put(char* p, std::string_view s) noexcept {
    if (s.empty()) return p;  // an empty view may hold a null pointer memcpy must not see
    std::memcpy(p, s.data(), s.size());
    return p + s.size();
}

// Decimal digits of v into a 20-byte buffer, right-aligned; returns the view.
std::string_view decimal(std::uint64_t v, char (&buf)[20]) noexcept {
    char* end = buf + sizeof buf;
    char* p = end;
    do {
        *--p = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return {p, static_cast<std::size_t>(end - p)};
}

}  // namespace

// ---- write_batch -----------------------------------------------------------------------------

char* write_batch::extend_owned(std::size_t n) {
    const std::size_t at = owned_size_;
    if (owned_capacity_ - at < n) {
        const std::size_t capacity = std::max({at + n, owned_capacity_ * 2, std::size_t{256}});
        std::unique_ptr<char[]> bigger(new char[capacity]);  // not value-initialised: no zeroing
        if (at != 0) std::memcpy(bigger.get(), owned_.get(), at);
        owned_ = std::move(bigger);
        owned_capacity_ = capacity;
    }
    owned_size_ = at + n;
    return owned_.get() + at;
}

char* write_batch::grow_owned(std::size_t n) {
    const std::size_t at = owned_size_;
    char* bytes = extend_owned(n);
    if (first_ < segments_.size() && segments_.back().borrowed == nullptr &&
        segments_.back().offset + segments_.back().size == at) {
        segments_.back().size += n;
    } else {
        segments_.push_back({nullptr, at, n});
    }
    bytes_ += n;
    return bytes;
}

void write_batch::append_copy(std::string_view bytes) {
    if (bytes.empty()) return;
    std::memcpy(grow_owned(bytes.size()), bytes.data(), bytes.size());
}

void write_batch::append_ref(std::string_view bytes) {
    if (bytes.empty()) return;
    if (bytes.size() < copy_below_) {
        append_copy(bytes);
        return;
    }
    segments_.push_back({bytes.data(), 0, bytes.size()});
    bytes_ += bytes.size();
}

std::span<const std::string_view> write_batch::segments() {
    views_.clear();
    for (std::size_t i = first_; i < segments_.size(); ++i) {
        const segment& s = segments_[i];
        views_.emplace_back(s.borrowed ? s.borrowed : owned_.get() + s.offset, s.size);
    }
    return views_;
}

void write_batch::consume(std::size_t n) noexcept {
    while (n > 0 && first_ < segments_.size()) {
        segment& s = segments_[first_];
        const std::size_t take = n < s.size ? n : s.size;
        if (s.borrowed) {
            s.borrowed += take;
        } else {
            s.offset += take;
        }
        s.size -= take;
        bytes_ -= take;
        n -= take;
        if (s.size == 0) ++first_;
    }
    if (bytes_ == 0) clear();
}

void write_batch::own() {
    // Called after every send: only the segments added since the last call can be borrowed,
    // so a batch of pipelined responses is not rescanned from its start each time.
    for (std::size_t i = std::max(first_, owned_through_); i < segments_.size(); ++i) {
        segment& s = segments_[i];
        if (!s.borrowed) continue;
        // Appended at the end, the copy is no longer next to its neighbours: it stays a segment
        // of its own, recorded by position like every owned one.
        const std::size_t at = owned_size_;
        std::memcpy(extend_owned(s.size), s.borrowed, s.size);
        s = {nullptr, at, s.size};
    }
    owned_through_ = segments_.size();
}

void write_batch::truncate(std::size_t n) noexcept {
    while (bytes_ > n && first_ < segments_.size()) {
        segment& s = segments_.back();
        const std::size_t excess = bytes_ - n;
        const std::size_t take = excess < s.size ? excess : s.size;
        // Owned bytes at the end of the buffer are given back, so later appends coalesce.
        if (!s.borrowed && s.offset + s.size == owned_size_) owned_size_ -= take;
        s.size -= take;
        bytes_ -= take;
        if (s.size == 0) segments_.pop_back();
    }
    owned_through_ = std::min(owned_through_, segments_.size());
    if (bytes_ == 0) clear();
}

void write_batch::clear() noexcept {
    owned_size_ = 0;
    segments_.clear();
    views_.clear();
    first_ = 0;
    owned_through_ = 0;
    bytes_ = 0;
}

std::string write_batch::to_string() const {
    std::string out;
    out.reserve(bytes_);
    for (std::size_t i = first_; i < segments_.size(); ++i) {
        const segment& s = segments_[i];
        out.append(s.borrowed ? s.borrowed : owned_.get() + s.offset, s.size);
    }
    return out;
}

// ---- heads -----------------------------------------------------------------------------------

bool is_token(std::string_view text) noexcept {
    // Without an early exit the loop has no branch per byte: names are short and almost
    // always valid, so the whole name is read either way. Four lookups per step halve the
    // loop's own instructions.
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t n = text.size();
    bool all = n != 0;
    for (; n >= 4; p += 4, n -= 4) {
        all &= token_table[p[0]] & token_table[p[1]] & token_table[p[2]] & token_table[p[3]];
    }
    for (; n > 0; ++p, --n) all &= token_table[*p];
    return all;
}

bool is_field_value(std::string_view text) noexcept {
    // Eight bytes at a time while none is below 0x20 or equal to 0x7f (the usual case: every
    // value of every response head passes here); the first word that has one is checked byte
    // by byte, where a tab is allowed.
    const char* p = text.data();
    std::size_t n = text.size();
    constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    const auto clean = [](const char* at) noexcept {
        std::uint64_t word;
        std::memcpy(&word, at, 8);
        const std::uint64_t below_space = (word - ones * 0x20) & ~word & highs;
        const std::uint64_t del = word ^ (ones * 0x7f);
        const std::uint64_t is_del = (del - ones) & ~del & highs;
        return (below_space | is_del) == 0;
    };
    while (n >= 8 && clean(p)) {
        p += 8;
        n -= 8;
    }
    // A tail of under eight bytes after clean words: the last eight bytes of the value (which
    // overlap words already checked) settle it in one step when they are clean too.
    if (n > 0 && n < 8 && text.size() >= 8 && clean(text.data() + text.size() - 8)) return true;
    for (; n > 0; --n, ++p) {
        const auto c = static_cast<unsigned char>(*p);
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

std::string_view to_string(head_error e) noexcept {
    switch (e) {
        case head_error::none: return "no error";
        case head_error::invalid_status: return "invalid status code";
        case head_error::invalid_field_name: return "invalid header name";
        case head_error::invalid_field_value: return "control character in header value";
    }
    return "unknown error";
}

head_error write_response_head(const response_head& h, write_batch& out) {
    if (h.status < 100 || h.status > 999) return head_error::invalid_status;
    const bool close_delimited = h.framing == body_framing::close_delimited;
    const bool keep_alive = h.keep_alive && !close_delimited;
    // 1xx and 204 responses must not carry Content-Length (RFC 9110 §8.6); HEAD and 304
    // responses may repeat the length a GET would have had.
    const bool pass_content_length =
        h.framing == body_framing::none && h.status >= 200 && h.status != 204;

    // Pass 1: validate and measure, so nothing is written for a rejected head and the bytes
    // are written into space allocated once.
    constexpr std::size_t crlf = 2, sep = 2;  // "\r\n", ": "
    const std::string_view reason = reason_phrase(h.status);
    std::size_t total = 9 + 3 + 1 + reason.size() + crlf;  // "HTTP/1.1 " code ' ' reason CRLF
    bool app_date = false, app_server = false, app_close = false, app_keep_alive = false;
    // Which of the first 64 fields pass 2 leaves out, so it need not classify names again.
    std::uint64_t left_out = 0;
    const auto leaves_out = [&](field_role role) {
        return role == field_role::transfer_encoding ||
               (role == field_role::content_length && !pass_content_length);
    };
    if (h.fields) {
        std::size_t index = 0;
        for (const header_field& f : *h.fields) {
            const std::size_t i = index++;
            const std::string_view name = f.name;
            const field_role role = role_of(name);
            // A field left out never reaches the wire, so it needs no validating (the app's
            // content-length, which every fixed response carries, is one).
            if (leaves_out(role)) {
                if (i < 64) left_out |= std::uint64_t{1} << i;
                continue;
            }
            if (!is_token(name)) return head_error::invalid_field_name;
            if (!is_field_value(f.value)) return head_error::invalid_field_value;
            switch (role) {
                case field_role::transfer_encoding:
                case field_role::content_length: break;
                case field_role::date: app_date = true; break;
                case field_role::server: app_server = true; break;
                case field_role::connection:
                    app_close = app_close || list_has_token(f.value, "close");
                    app_keep_alive = app_keep_alive || list_has_token(f.value, "keep-alive");
                    break;
                case field_role::other: break;
            }
            total += name.size() + sep + f.value.size() + crlf;
        }
    }
    // The server's defaults, like `date` and `server`, were checked once where they were made
    // (the formatter, the server's options), not on every response.
    bool default_date = false, default_server = false;
    if (h.defaults) {
        for (const header_field& d : *h.defaults) {
            if (app_names(h.fields, d.name)) continue;
            const field_role role = role_of(d.name);
            default_date = default_date || role == field_role::date;
            default_server = default_server || role == field_role::server;
            total += d.name.size() + sep + d.value.size() + crlf;
        }
    }
    assert(is_field_value(h.date) && is_field_value(h.server));
    const bool write_date = !h.date.empty() && !app_date && !default_date;
    const bool write_server = !h.server.empty() && !app_server && !default_server;
    if (write_date) total += 6 + h.date.size() + crlf;
    if (write_server) total += 8 + h.server.size() + crlf;
    char digits[20];
    std::string_view length_text;
    if (h.framing == body_framing::content_length) {
        length_text = decimal(h.content_length, digits);
        total += 16 + length_text.size() + crlf;
    } else if (h.framing == body_framing::chunked) {
        total += 26 + crlf;
    }
    std::string_view connection;
    if (!keep_alive && !app_close) {
        connection = "connection: close\r\n";
    } else if (keep_alive && h.http10 && !app_keep_alive) {
        connection = "connection: keep-alive\r\n";
    }
    total += connection.size() + crlf;

    // Pass 2: write.
    char* p = head_writer::grow(out, total);
    p = put(p, "HTTP/1.1 ");
    *p++ = static_cast<char>('0' + h.status / 100);
    *p++ = static_cast<char>('0' + h.status / 10 % 10);
    *p++ = static_cast<char>('0' + h.status % 10);
    *p++ = ' ';
    p = put(p, reason);
    p = put(p, "\r\n");
    if (write_date) {
        p = put(p, "date: ");
        p = put(p, h.date);
        p = put(p, "\r\n");
    }
    if (write_server) {
        p = put(p, "server: ");
        p = put(p, h.server);
        p = put(p, "\r\n");
    }
    if (h.defaults) {
        for (const header_field& d : *h.defaults) {
            if (app_names(h.fields, d.name)) continue;
            p = put(p, d.name);
            p = put(p, ": ");
            p = put(p, d.value);
            p = put(p, "\r\n");
        }
    }
    if (h.fields) {
        std::size_t i = 0;
        for (const header_field& f : *h.fields) {
            const std::string_view name = f.name;
            const bool skip = i < 64 ? ((left_out >> i) & 1) != 0 : leaves_out(role_of(name));
            ++i;
            if (skip) continue;
            p = put(p, name);
            p = put(p, ": ");
            p = put(p, f.value);
            p = put(p, "\r\n");
        }
    }
    if (h.framing == body_framing::content_length) {
        p = put(p, "content-length: ");
        p = put(p, length_text);
        p = put(p, "\r\n");
    } else if (h.framing == body_framing::chunked) {
        p = put(p, "transfer-encoding: chunked\r\n");
    }
    p = put(p, connection);
    put(p, "\r\n");
    return head_error::none;
}

// ---- bodies ----------------------------------------------------------------------------------

chunk_header make_chunk_header(std::uint64_t size) noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    chunk_header h{};
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = hex[size & 0xf];
        size >>= 4;
    } while (size != 0);
    std::uint8_t k = 0;
    while (n > 0) h.data[k++] = tmp[--n];
    h.data[k++] = '\r';
    h.data[k++] = '\n';
    h.size = k;
    return h;
}

void write_chunk(std::string_view bytes, write_batch& out) {
    if (bytes.empty()) return;
    out.append_copy(make_chunk_header(bytes.size()).view());
    out.append_ref(bytes);
    out.append_copy("\r\n");
}

void write_body(body_framing framing, std::string_view bytes, bool last, write_batch& out) {
    switch (framing) {
        case body_framing::none: return;
        case body_framing::content_length:
        case body_framing::close_delimited: out.append_ref(bytes); return;
        case body_framing::chunked:
            write_chunk(bytes, out);
            if (last) out.append_copy(last_chunk);
            return;
    }
}

// ---- dates -----------------------------------------------------------------------------------

http_date_buffer format_http_date(std::int64_t t) noexcept {
    // 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: what four year digits can hold.
    constexpr std::int64_t min_t = -62167219200, max_t = 253402300799;
    t = t < min_t ? min_t : (t > max_t ? max_t : t);
    std::int64_t days = t / 86400;
    std::int64_t secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        --days;
    }
    // 1970-01-01 was a Thursday (index 4 from Sunday).
    const auto weekday = static_cast<int>(((days % 7) + 11) % 7);

    // Days to civil date (Howard Hinnant's algorithm, proleptic Gregorian calendar).
    const std::int64_t z = days + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned day = doy - (153 * mp + 2) / 5 + 1;
    const unsigned month = mp < 10 ? mp + 3 : mp - 9;
    const auto year = static_cast<unsigned>(static_cast<std::int64_t>(yoe) + era * 400 +
                                            (month <= 2 ? 1 : 0));

    static constexpr char names[] = "SunMonTueWedThuFriSat";
    static constexpr char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    http_date_buffer b{};
    char* p = b.data;
    const auto two = [&p](unsigned v) {
        *p++ = static_cast<char>('0' + v / 10);
        *p++ = static_cast<char>('0' + v % 10);
    };
    std::memcpy(p, names + 3 * weekday, 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    two(day);
    *p++ = ' ';
    std::memcpy(p, months + 3 * (month - 1), 3);
    p += 3;
    *p++ = ' ';
    two(year / 100);
    two(year % 100);
    *p++ = ' ';
    two(static_cast<unsigned>(secs / 3600));
    *p++ = ':';
    two(static_cast<unsigned>(secs / 60 % 60));
    *p++ = ':';
    two(static_cast<unsigned>(secs % 60));
    std::memcpy(p, " GMT", 4);
    return b;
}

}  // namespace tessera::http1
