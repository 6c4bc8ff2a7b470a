#include "tessera/ws/protocol.hpp"

#include <algorithm>
#include <random>
#include <stdexcept>

#include <openssl/rand.h>

namespace tessera::ws {
namespace {

// RFC 6455 §7.4: codes an endpoint may put in a close frame. 1012–1014 are registered with
// IANA since the RFC and are accepted; 1004–1006 and 1015 are reserved for reporting only.
bool valid_close_code(int code) noexcept {
    if (code < 1000 || code > 4999) return false;
    if (code >= 1004 && code <= 1006) return false;
    if (code >= 1015 && code <= 2999) return false;
    return true;
}

// A reservation bigger than this waits for the bytes to arrive: a header claiming 16 MiB
// should not cost 16 MiB before the sender has paid for it with data.
constexpr std::uint64_t reserve_up_front = 64 * 1024;

}  // namespace

protocol::protocol(protocol_options options)
    : options_(std::move(options)),
      frames_(options_.role, options_.deflate ? rsv1_bit : std::uint8_t{0}) {
    if (options_.max_message_size == 0) {
        throw std::invalid_argument("protocol_options: max_message_size must be positive");
    }
    if (options_.deflate) deflate_.emplace(options_.role, *options_.deflate, options_.compression);
}

protocol_result protocol::fail(int code, std::string_view reason, std::size_t consumed,
                               http1::write_batch& out) {
    failed_ = true;
    in_message_ = false;
    close_code_ = code;
    close_reason_ = reason;
    if (!close_sent_) {
        std::array<char, max_control_payload> payload{};
        payload[0] = static_cast<char>(code >> 8);
        payload[1] = static_cast<char>(code & 0xff);
        const std::size_t n = std::min(reason.size(), max_control_payload - 2);
        std::copy_n(reason.data(), n, payload.data() + 2);
        queue_frame(opcode::close, false, std::string_view(payload.data(), n + 2), out);
        close_sent_ = true;
    }
    return {protocol_event::fail, consumed};
}

bool protocol::on_header(const frame_header& h) {
    auto error = [this](int code, std::string_view reason) {
        pending_code_ = code;
        pending_reason_ = reason;
        return false;
    };
    if (is_control(h.op)) {
        if (h.rsv1) return error(1002, "RSV1 on a control frame");
        if (h.op == opcode::close && h.length == 1) return error(1002, "1-byte close payload");
        control_op_ = h.op;
        control_.clear();
        in_control_ = true;
        return true;
    }
    if (h.op == opcode::continuation) {
        if (!in_message_) return error(1002, "continuation frame without a message");
        if (h.rsv1) return error(1002, "RSV1 on a continuation frame");
    } else {
        if (in_message_) return error(1002, "new message inside a fragmented message");
        in_message_ = true;
        binary_ = h.op == opcode::binary;
        compressed_ = h.rsv1;
        message_.clear();
        validated_ = 0;
        utf8_.reset();
    }
    if (!compressed_) {
        // Rejected on the header: the limit is never exceeded, not even by one buffered byte.
        if (h.length > options_.max_message_size - message_.size()) {
            return error(1009, "message too big");
        }
        if (h.op != opcode::continuation && h.length <= reserve_up_front) {
            message_.reserve(static_cast<std::size_t>(h.length));
        }
    }
    return true;
}

bool protocol::on_data(std::string_view piece, bool message_end) {
    auto inflated = deflate_codec::inflate_status::ok;
    if (compressed_) {
        inflated = deflate_->decompress(piece, message_end, message_, options_.max_message_size);
    } else {
        message_.append(piece);
    }
    if (!binary_) {
        // Only the bytes new since the last piece, so a message costs one pass however it is
        // split; a code point cut between pieces is carried in the validator's state. Checked
        // before the inflate status: the text inflated before a corrupt byte is what a reader
        // fed in smaller pieces would have judged first, and the verdict must not depend on
        // how the bytes were split.
        const bool ok = utf8_.feed(std::string_view(message_).substr(validated_));
        validated_ = message_.size();
        if (!ok || (message_end && inflated == deflate_codec::inflate_status::ok &&
                    !utf8_.complete())) {
            pending_code_ = 1007;
            pending_reason_ = "invalid UTF-8 in a text message";
            return false;
        }
    }
    if (inflated == deflate_codec::inflate_status::too_large) {
        pending_code_ = 1009;
        pending_reason_ = "message too big";
        return false;
    }
    if (inflated == deflate_codec::inflate_status::corrupt) {
        pending_code_ = 1002;
        pending_reason_ = "invalid compressed data";
        return false;
    }
    if (message_end) in_message_ = false;
    return true;
}

protocol_event protocol::on_control_end(http1::write_batch& out) {
    in_control_ = false;
    const std::string_view payload(control_);
    switch (control_op_) {
        case opcode::ping:
            // Nothing may follow our close frame, so a ping after it goes unanswered.
            if (!close_sent_) queue_frame(opcode::pong, false, payload, out);
            return protocol_event::ping;
        case opcode::pong: return protocol_event::pong;
        default: break;
    }
    int code = 1005;
    std::string_view reason;
    if (!payload.empty()) {
        code = (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
        reason = payload.substr(2);
        if (!valid_close_code(code)) {
            pending_code_ = 1002;
            pending_reason_ = "invalid close code";
            return protocol_event::fail;
        }
        if (!is_valid_utf8(reason)) {
            pending_code_ = 1007;
            pending_reason_ = "invalid UTF-8 in a close reason";
            return protocol_event::fail;
        }
    }
    close_received_ = true;
    in_message_ = false;
    close_code_ = code;
    close_reason_ = reason;
    if (!close_sent_) {
        // Echo the code (RFC 6455 §5.5.1); an empty close is answered with an empty one.
        const std::string_view echo = code == 1005 ? std::string_view() : payload.substr(0, 2);
        queue_frame(opcode::close, false, echo, out);
        close_sent_ = true;
    }
    return protocol_event::close;
}

protocol_result protocol::parse(std::span<char> input, http1::write_batch& out) {
    if (failed_) return {protocol_event::fail, 0};
    if (close_received_) return {protocol_event::need_more, input.size()};
    // The last control payload (valid until now) went past the string's inline size: give it
    // back, so that an idle connection holds no buffer for a rare long ping.
    if (!in_control_ && control_.capacity() > std::string().capacity()) std::string().swap(control_);
    std::size_t pos = 0;
    while (true) {
        const frame_result r = frames_.parse(input.subspan(pos));
        pos += r.consumed;
        switch (r.kind) {
            case frame_event::need_more: return {protocol_event::need_more, pos};
            case frame_event::error:
                return fail(frames_.error().close_code, frames_.error().reason, pos, out);
            case frame_event::header: {
                const frame_header& h = frames_.header();
                if (!on_header(h)) return fail(pending_code_, pending_reason_, pos, out);
                if (!r.frame_end) break;
                if (is_control(h.op)) {
                    const protocol_event e = on_control_end(out);
                    if (e == protocol_event::fail) {
                        return fail(pending_code_, pending_reason_, pos, out);
                    }
                    return {e, pos};
                }
                if (!h.fin) break;  // an empty fragment adds nothing
                if (!on_data({}, true)) return fail(pending_code_, pending_reason_, pos, out);
                return {protocol_event::message, pos};
            }
            case frame_event::payload: {
                const frame_header& h = frames_.header();
                if (is_control(h.op)) {
                    control_.append(r.payload.begin(), r.payload.end());
                    if (!r.frame_end) break;
                    const protocol_event e = on_control_end(out);
                    if (e == protocol_event::fail) {
                        return fail(pending_code_, pending_reason_, pos, out);
                    }
                    return {e, pos};
                }
                const bool message_end = r.frame_end && h.fin;
                if (!on_data(r.payload, message_end)) {
                    return fail(pending_code_, pending_reason_, pos, out);
                }
                if (message_end) return {protocol_event::message, pos};
                break;
            }
        }
    }
}

mask_key protocol::next_mask() {
    if (!mask_pool_) mask_pool_ = std::make_unique<std::array<std::uint8_t, mask_pool_size>>();
    auto& pool = *mask_pool_;
    if (mask_used_ + 4 > pool.size()) {
        if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1) {
            std::random_device os;
            for (auto& b : pool) b = static_cast<std::uint8_t>(os());
        }
        mask_used_ = 0;
    }
    mask_key key;
    std::copy_n(pool.data() + mask_used_, 4, key.data());
    mask_used_ += 4;
    return key;
}

void protocol::queue_frame(opcode op, bool rsv1, std::string_view payload,
                           http1::write_batch& out) {
    if (options_.role == role::client) {
        const mask_key key = next_mask();
        out.append_copy(make_frame_header(op, true, rsv1, payload.size(), key).view());
        // Masking needs a copy; `payload` may already be the scratch buffer (compressed).
        if (payload.data() != scratch_.data()) scratch_.assign(payload);
        apply_mask(scratch_.data(), scratch_.size(), key);
        out.append_copy(scratch_);
        return;
    }
    out.append_copy(make_frame_header(op, true, rsv1, payload.size()).view());
    out.append_copy(payload);
}

send_status protocol::send_message(std::string_view data, bool binary,
                                   http1::write_batch& out) {
    if (close_sent_) return send_status::closed;
    const opcode op = binary ? opcode::binary : opcode::text;
    if (deflate_ && deflate_->can_compress() && data.size() >= options_.compression.min_size) {
        deflate_->compress(data, scratch_);
        queue_frame(op, true, scratch_, out);
    } else if (options_.role == role::client) {
        queue_frame(op, false, data, out);
    } else {
        // The server's payload goes out as it is: borrowed, so header + payload is one writev.
        out.append_copy(make_frame_header(op, true, false, data.size()).view());
        out.append_ref(data);
    }
    return send_status::sent;
}

send_status protocol::send_text(std::string_view text, http1::write_batch& out) {
    return send_message(text, false, out);
}

send_status protocol::send_binary(std::string_view bytes, http1::write_batch& out) {
    return send_message(bytes, true, out);
}

send_status protocol::send_ping(std::string_view payload, http1::write_batch& out) {
    if (close_sent_) return send_status::closed;
    if (payload.size() > max_control_payload) return send_status::invalid;
    queue_frame(opcode::ping, false, payload, out);
    return send_status::sent;
}

send_status protocol::send_pong(std::string_view payload, http1::write_batch& out) {
    if (close_sent_) return send_status::closed;
    if (payload.size() > max_control_payload) return send_status::invalid;
    queue_frame(opcode::pong, false, payload, out);
    return send_status::sent;
}

send_status protocol::send_close(int code, std::string_view reason, http1::write_batch& out) {
    if (close_sent_) return send_status::closed;
    if (code != 1005 && !valid_close_code(code)) return send_status::invalid;
    std::array<char, max_control_payload> payload{};
    std::size_t n = 0;
    if (code != 1005) {
        payload[0] = static_cast<char>(code >> 8);
        payload[1] = static_cast<char>(code & 0xff);
        std::size_t cut = std::min(reason.size(), max_control_payload - 2);
        // Never end inside a code point: back up over continuation bytes.
        while (cut < reason.size() && cut > 0 &&
               (static_cast<unsigned char>(reason[cut]) & 0xc0) == 0x80) {
            --cut;
        }
        std::copy_n(reason.data(), cut, payload.data() + 2);
        n = cut + 2;
    }
    queue_frame(opcode::close, false, std::string_view(payload.data(), n), out);
    close_sent_ = true;
    return send_status::sent;
}

}  // namespace tessera::ws
