#include "tessera/ws/deflate.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include <zlib.h>

#include "tessera/headers.hpp"

namespace tessera::ws {
namespace {

constexpr std::string_view extension_name = "permessage-deflate";
constexpr std::string_view flush_tail("\x00\x00\xff\xff", 4);
// zlib counts bytes in 32 bits: larger buffers go through in slices.
constexpr std::size_t max_zlib_step = std::size_t{1} << 30;

bool is_tchar(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

struct param {
    std::string_view name;
    std::string value;  // unquoted
    bool has_value = false;
};

// A scanner for the extension list grammar (RFC 6455 §9.1): extensions separated by commas,
// each a token with `;`-separated parameters, each a token optionally `=` a token or a
// quoted-string. A malformed element is skipped up to the next comma outside quotes, so one
// bad offer does not hide the ones after it.
class extension_scanner {
public:
    explicit extension_scanner(std::string_view text) : s_(text) {}

    // Reads the next element; false at the end. `ok` tells whether it was well-formed.
    bool next(std::string_view& name, std::vector<param>& params, bool& ok) {
        params.clear();
        while (true) {
            skip_ows();
            if (at_end()) return false;
            if (s_[i_] != ',') break;
            ++i_;  // empty list elements are allowed
        }
        ok = element(name, params);
        if (!ok) skip_element();
        if (!at_end()) ++i_;  // the comma
        return true;
    }

private:
    bool at_end() const noexcept { return i_ >= s_.size(); }
    void skip_ows() noexcept {
        while (!at_end() && is_ows(s_[i_])) ++i_;
    }
    std::string_view token() noexcept {
        const std::size_t start = i_;
        while (!at_end() && is_tchar(s_[i_])) ++i_;
        return s_.substr(start, i_ - start);
    }
    bool quoted(std::string& out) {
        ++i_;  // opening quote
        while (!at_end()) {
            const char c = s_[i_++];
            if (c == '"') return true;
            if (c == '\\') {
                if (at_end()) return false;
                out += s_[i_++];
            } else {
                out += c;
            }
        }
        return false;
    }
    bool element(std::string_view& name, std::vector<param>& params) {
        name = token();
        if (name.empty()) return false;
        while (true) {
            skip_ows();
            if (at_end() || s_[i_] == ',') return true;
            if (s_[i_] != ';') return false;
            ++i_;
            skip_ows();
            param p;
            p.name = token();
            if (p.name.empty()) return false;
            skip_ows();
            if (!at_end() && s_[i_] == '=') {
                ++i_;
                skip_ows();
                p.has_value = true;
                if (!at_end() && s_[i_] == '"') {
                    if (!quoted(p.value)) return false;
                } else {
                    p.value = token();
                    if (p.value.empty()) return false;
                }
            }
            params.push_back(std::move(p));
        }
    }
    void skip_element() noexcept {
        bool in_quotes = false;
        while (!at_end()) {
            const char c = s_[i_];
            if (in_quotes && c == '\\') {
                i_ += 2;
                continue;
            }
            if (c == '"') in_quotes = !in_quotes;
            if (c == ',' && !in_quotes) return;
            ++i_;
        }
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

// "8" … "15" exactly (RFC 7692's ABNF: no leading zeros, no sign); 0 otherwise.
int window_bits(std::string_view v) noexcept {
    if (v.size() == 1 && (v[0] == '8' || v[0] == '9')) return v[0] - '0';
    if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + (v[1] - '0');
    return 0;
}

// permessage-deflate parameters as given by one side; 0 for an absent window, -1 for
// `client_max_window_bits` without a value.
struct offer {
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    int server_max_window_bits = 0;
    int client_max_window_bits = 0;
};

// Reads the parameters; nullopt for unknown, duplicate or malformed ones.
std::optional<offer> read_params(const std::vector<param>& params) {
    offer o;
    bool seen[4] = {false, false, false, false};
    for (const param& p : params) {
        int which;
        if (iequals(p.name, "server_no_context_takeover")) which = 0;
        else if (iequals(p.name, "client_no_context_takeover")) which = 1;
        else if (iequals(p.name, "server_max_window_bits")) which = 2;
        else if (iequals(p.name, "client_max_window_bits")) which = 3;
        else return std::nullopt;
        if (seen[which]) return std::nullopt;
        seen[which] = true;
        switch (which) {
            case 0:
            case 1:
                if (p.has_value) return std::nullopt;
                (which == 0 ? o.server_no_context_takeover : o.client_no_context_takeover) = true;
                break;
            case 2:
                if (!p.has_value || (o.server_max_window_bits = window_bits(p.value)) == 0) {
                    return std::nullopt;
                }
                break;
            default:
                if (!p.has_value) {
                    o.client_max_window_bits = -1;
                } else if ((o.client_max_window_bits = window_bits(p.value)) == 0) {
                    return std::nullopt;
                }
                break;
        }
    }
    return o;
}

void check_range(int value, int low, int high, const char* what) {
    if (value < low || value > high) {
        throw std::invalid_argument(std::string("deflate_options: ") + what + " must be " +
                                    std::to_string(low) + "-" + std::to_string(high) +
                                    ", got " + std::to_string(value));
    }
}

}  // namespace

void deflate_options::validate() const {
    check_range(server_max_window_bits, 8, 15, "server_max_window_bits");
    check_range(client_max_window_bits, 8, 15, "client_max_window_bits");
    check_range(level, 0, 9, "level");
    check_range(mem_level, 1, 9, "mem_level");
}

std::optional<deflate_agreement> negotiate_deflate(
    std::span<const std::string_view> extension_fields, const deflate_options& options) {
    if (!options.enabled) return std::nullopt;
    std::vector<param> params;
    for (const std::string_view field : extension_fields) {
        extension_scanner scanner(field);
        std::string_view name;
        bool ok = false;
        while (scanner.next(name, params, ok)) {
            if (!ok || !iequals(name, extension_name)) continue;
            const auto o = read_params(params);
            if (!o) continue;
            deflate_params p;
            p.server_no_context_takeover =
                o->server_no_context_takeover || options.server_no_context_takeover;
            // Echoed when offered too: the client then promises a fresh context per message.
            p.client_no_context_takeover =
                o->client_no_context_takeover || options.client_no_context_takeover;
            p.server_max_window_bits = options.server_max_window_bits;
            if (o->server_max_window_bits != 0) {
                p.server_max_window_bits =
                    std::min(p.server_max_window_bits, o->server_max_window_bits);
            }
            // Without the parameter in the offer the client may not support a cap: 15.
            p.client_max_window_bits = 15;
            if (o->client_max_window_bits != 0) {
                p.client_max_window_bits = options.client_max_window_bits;
                if (o->client_max_window_bits > 0) {
                    p.client_max_window_bits =
                        std::min(p.client_max_window_bits, o->client_max_window_bits);
                }
            }
            std::string response = format_deflate(p);
            // An offered server window must be acknowledged even when it is 15 (format_deflate
            // names only smaller ones; a server capped below 15 has named its own already).
            if (o->server_max_window_bits != 0 && p.server_max_window_bits == 15) {
                response += "; server_max_window_bits=15";
            }
            return deflate_agreement{p, std::move(response)};
        }
    }
    return std::nullopt;
}

std::string format_deflate(const deflate_params& params) {
    std::string out(extension_name);
    if (params.server_no_context_takeover) out += "; server_no_context_takeover";
    if (params.client_no_context_takeover) out += "; client_no_context_takeover";
    if (params.server_max_window_bits < 15) {
        out += "; server_max_window_bits=" + std::to_string(params.server_max_window_bits);
    }
    if (params.client_max_window_bits < 15) {
        out += "; client_max_window_bits=" + std::to_string(params.client_max_window_bits);
    }
    return out;
}

std::string deflate_offer(const deflate_options& options) {
    std::string out(extension_name);
    if (options.server_no_context_takeover) out += "; server_no_context_takeover";
    if (options.client_no_context_takeover) out += "; client_no_context_takeover";
    if (options.server_max_window_bits < 15) {
        out += "; server_max_window_bits=" + std::to_string(options.server_max_window_bits);
    }
    out += "; client_max_window_bits";
    if (options.client_max_window_bits < 15) {
        out += "=" + std::to_string(options.client_max_window_bits);
    }
    return out;
}

std::optional<deflate_params> accept_deflate_response(std::string_view response,
                                                      const deflate_options& options) {
    extension_scanner scanner(response);
    std::string_view name;
    std::vector<param> params;
    bool ok = false;
    if (!scanner.next(name, params, ok) || !ok || !iequals(name, extension_name)) {
        return std::nullopt;
    }
    std::string_view extra_name;
    std::vector<param> extra;
    bool extra_ok = false;
    if (scanner.next(extra_name, extra, extra_ok)) return std::nullopt;  // one extension only
    const auto o = read_params(params);
    // The server must answer with a value, within what was asked for.
    if (!o || o->client_max_window_bits == -1) return std::nullopt;
    if (options.server_max_window_bits < 15 &&
        (o->server_max_window_bits == 0 ||
         o->server_max_window_bits > options.server_max_window_bits)) {
        return std::nullopt;
    }
    deflate_params p;
    p.server_no_context_takeover = o->server_no_context_takeover;
    p.client_no_context_takeover =
        o->client_no_context_takeover || options.client_no_context_takeover;
    p.server_max_window_bits = o->server_max_window_bits != 0 ? o->server_max_window_bits : 15;
    p.client_max_window_bits = options.client_max_window_bits;
    if (o->client_max_window_bits > 0) {
        p.client_max_window_bits = std::min(p.client_max_window_bits, o->client_max_window_bits);
    }
    return p;
}

// ---------------------------------------------------------------------------------------------

struct deflate_codec::streams {
    z_stream deflater{};
    z_stream inflater{};
    bool deflater_ready = false;
    bool inflater_ready = false;
    int send_bits = 15;
    int receive_bits = 15;
    bool send_reset = false;     // this end has no context takeover
    bool receive_reset = false;  // the peer has no context takeover
    bool stream_ended = false;   // the message held a final block: ignore the rest of it
    int level = 6;
    int mem_level = 8;

    ~streams() {
        if (deflater_ready) deflateEnd(&deflater);
        if (inflater_ready) inflateEnd(&inflater);
    }

    void ensure_deflater() {
        if (deflater_ready) return;
        if (deflateInit2(&deflater, level, Z_DEFLATED, -send_bits, mem_level,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            throw std::bad_alloc();
        }
        deflater_ready = true;
    }
    // A fresh inflate stream after the peer ended one. With context takeover the next message
    // may still refer to this one's bytes, so the window carries over as a preset dictionary.
    void restart_inflater() {
        if (receive_reset) {
            inflateReset(&inflater);
            return;
        }
        std::vector<Bytef> window(std::size_t{1} << 15);
        uInt size = 0;
        inflateGetDictionary(&inflater, window.data(), &size);
        inflateReset(&inflater);
        if (size != 0) inflateSetDictionary(&inflater, window.data(), size);
    }
    bool ensure_inflater() {
        if (inflater_ready) return true;
        // Some zlib versions silently compress with 9 bits when asked for 8, so a peer that
        // negotiated 8 may well send 9-bit distances: decode with at least 9.
        if (inflateInit2(&inflater, -std::max(receive_bits, 9)) != Z_OK) return false;
        inflater_ready = true;
        return true;
    }
};

deflate_codec::deflate_codec(role side, const deflate_params& params,
                             const deflate_options& options)
    : streams_(std::make_unique<streams>()) {
    options.validate();
    check_range(params.server_max_window_bits, 8, 15, "server_max_window_bits (negotiated)");
    check_range(params.client_max_window_bits, 8, 15, "client_max_window_bits (negotiated)");
    const bool server = side == role::server;
    streams_->send_bits = server ? params.server_max_window_bits : params.client_max_window_bits;
    streams_->receive_bits =
        server ? params.client_max_window_bits : params.server_max_window_bits;
    streams_->send_reset =
        server ? params.server_no_context_takeover : params.client_no_context_takeover;
    streams_->receive_reset =
        server ? params.client_no_context_takeover : params.server_no_context_takeover;
    streams_->level = options.level;
    streams_->mem_level = options.mem_level;
}

deflate_codec::~deflate_codec() = default;
deflate_codec::deflate_codec(deflate_codec&&) noexcept = default;
deflate_codec& deflate_codec::operator=(deflate_codec&&) noexcept = default;

bool deflate_codec::can_compress() const noexcept { return streams_->send_bits > 8; }

void deflate_codec::compress(std::string_view message, std::string& out) {
    streams& s = *streams_;
    s.ensure_deflater();
    z_stream& z = s.deflater;
    // deflateBound covers a finished stream; a sync flush adds at most an empty stored block
    // (5 bytes) and a few bits, so this is almost always one deflate call.
    out.resize(deflateBound(&z, static_cast<uLong>(message.size())) + 16);
    std::size_t produced = 0, fed = 0;
    while (true) {
        const std::size_t in_now = std::min(message.size() - fed, max_zlib_step);
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data() + fed));
        z.avail_in = static_cast<uInt>(in_now);
        const bool final_piece = fed + in_now == message.size();
        while (true) {
            if (produced == out.size()) out.resize(out.size() * 2);
            const std::size_t room = std::min(out.size() - produced, max_zlib_step);
            z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
            z.avail_out = static_cast<uInt>(room);
            // Cannot fail: the stream is valid and there is output room.
            deflate(&z, final_piece ? Z_SYNC_FLUSH : Z_NO_FLUSH);
            produced += room - z.avail_out;
            if (z.avail_out != 0) break;  // the input is taken (and flushed, if final)
        }
        fed += in_now;
        if (final_piece) break;
    }
    out.resize(produced);
    if (out.size() >= 4 && std::string_view(out).substr(out.size() - 4) == flush_tail) {
        out.resize(out.size() - 4);
    }
    if (s.send_reset) deflateReset(&z);
}

deflate_codec::inflate_status deflate_codec::decompress(std::string_view piece, bool last,
                                                        std::string& out, std::size_t limit) {
    streams& s = *streams_;
    if (!s.ensure_inflater()) return inflate_status::corrupt;
    z_stream& z = s.inflater;

    auto feed = [&](std::string_view in) -> inflate_status {
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        z.avail_in = static_cast<uInt>(in.size());
        while (true) {
            if (out.size() > limit) return inflate_status::too_large;
            // Room for one byte past the limit: producing it proves the message too large
            // without ever holding more. Output grows with the input it comes from, so a
            // highly compressed bomb grows the buffer in steps, not all at once.
            const std::size_t allowed = limit + 1 - out.size();
            const std::size_t step = std::min(
                {allowed, std::max<std::size_t>(4096, std::size_t{z.avail_in} * 4), max_zlib_step});
            const std::size_t before = out.size();
            out.resize(before + step);
            z.next_out = reinterpret_cast<Bytef*>(out.data() + before);
            z.avail_out = static_cast<uInt>(step);
            const int rc = inflate(&z, Z_SYNC_FLUSH);
            out.resize(before + (step - z.avail_out));
            if (rc == Z_STREAM_END) {
                // The peer ended the DEFLATE stream (BFINAL, RFC 7692 §7.2.3.3): the rest of
                // the message, our appended tail included, is not DEFLATE data any more.
                s.stream_ended = true;
                s.restart_inflater();
                return out.size() > limit ? inflate_status::too_large : inflate_status::ok;
            }
            if (rc != Z_OK && rc != Z_BUF_ERROR) return inflate_status::corrupt;
            if (out.size() > limit) return inflate_status::too_large;
            if (z.avail_in == 0 && z.avail_out != 0) return inflate_status::ok;
            if (rc == Z_BUF_ERROR && z.avail_out != 0) return inflate_status::ok;
        }
    };

    while (!piece.empty() && !s.stream_ended) {
        const inflate_status st = feed(piece.substr(0, max_zlib_step));
        if (st != inflate_status::ok) return st;
        piece.remove_prefix(std::min(piece.size(), max_zlib_step));
    }
    if (last) {
        if (!s.stream_ended) {
            const inflate_status st = feed(flush_tail);
            if (st != inflate_status::ok) return st;
            if (s.receive_reset) inflateReset(&z);
        }
        s.stream_ended = false;
    }
    return inflate_status::ok;
}

}  // namespace tessera::ws
