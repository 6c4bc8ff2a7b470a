#include "tessera/ws/frame.hpp"

#include <algorithm>
#include <cstring>

namespace tessera::ws {
namespace {

constexpr bool known_opcode(std::uint8_t op) noexcept {
    return op <= 0x2 || (op >= 0x8 && op <= 0xa);
}

}  // namespace

std::size_t frame_parser::header_size() const noexcept {
    const std::uint8_t len7 = buffer_[1] & 0x7f;
    const std::size_t extended = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    return 2 + extended + ((buffer_[1] & 0x80) != 0 ? 4 : 0);
}

frame_result frame_parser::fail(std::string_view reason, std::size_t consumed) noexcept {
    phase_ = phase::failed;
    error_ = frame_error{1002, reason};
    return {frame_event::error, consumed, {}, false};
}

frame_result frame_parser::parse(std::span<char> input) noexcept {
    if (phase_ == phase::failed) return {frame_event::error, 0, {}, false};

    if (phase_ == phase::payload) {
        if (input.empty()) return {};
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size()));
        if (header_.masked) apply_mask(input.data(), n, header_.mask, offset_);
        offset_ += n;
        remaining_ -= n;
        const bool end = remaining_ == 0;
        if (end) phase_ = phase::header;
        return {frame_event::payload, n, std::string_view(input.data(), n), end};
    }

    // The header is copied byte-wise into buffer_ so a header split across reads costs the
    // caller nothing; the first two bytes are checked as soon as they are in, so a bad frame
    // fails before its length or key arrive.
    std::size_t used = 0;
    if (have_ < 2) {
        const std::size_t take = std::min<std::size_t>(2 - have_, input.size());
        if (take != 0) std::memcpy(buffer_.data() + have_, input.data(), take);
        have_ = static_cast<std::uint8_t>(have_ + take);
        used += take;
        if (have_ < 2) return {frame_event::need_more, used, {}, false};

        const std::uint8_t b0 = buffer_[0];
        const std::uint8_t b1 = buffer_[1];
        const std::uint8_t op = b0 & 0x0f;
        if ((b0 & 0x70 & ~allowed_rsv_) != 0) return fail("reserved bits set", used);
        if (!known_opcode(op)) return fail("reserved opcode", used);
        if ((op & 0x8) != 0) {
            if ((b0 & 0x80) == 0) return fail("fragmented control frame", used);
            if ((b1 & 0x7f) > max_control_payload) {
                return fail("control frame payload over 125 bytes", used);
            }
        }
        const bool masked = (b1 & 0x80) != 0;
        if (role_ == role::server && !masked) return fail("unmasked frame from a client", used);
        if (role_ == role::client && masked) return fail("masked frame from a server", used);
    }

    const std::size_t need = header_size();
    const std::size_t take = std::min(need - have_, input.size() - used);
    if (take != 0) std::memcpy(buffer_.data() + have_, input.data() + used, take);
    have_ = static_cast<std::uint8_t>(have_ + take);
    used += take;
    if (have_ < need) return {frame_event::need_more, used, {}, false};

    const std::uint8_t b0 = buffer_[0];
    const std::uint8_t b1 = buffer_[1];
    std::size_t at = 2;
    std::uint64_t length = b1 & 0x7f;
    if (length == 126) {
        length = (std::uint64_t{buffer_[2]} << 8) | buffer_[3];
        at = 4;
    } else if (length == 127) {
        length = 0;
        for (std::size_t i = 2; i < 10; ++i) length = (length << 8) | buffer_[i];
        at = 10;
        if ((length >> 63) != 0) return fail("payload length with the top bit set", used);
    }
    header_.op = static_cast<opcode>(b0 & 0x0f);
    header_.fin = (b0 & 0x80) != 0;
    header_.rsv1 = (b0 & 0x40) != 0;
    header_.rsv2 = (b0 & 0x20) != 0;
    header_.rsv3 = (b0 & 0x10) != 0;
    header_.masked = (b1 & 0x80) != 0;
    header_.mask = {};
    if (header_.masked) std::memcpy(header_.mask.data(), buffer_.data() + at, 4);
    header_.length = length;
    remaining_ = length;
    offset_ = 0;
    have_ = 0;
    if (length != 0) phase_ = phase::payload;
    return {frame_event::header, used, {}, length == 0};
}

void apply_mask(char* data, std::size_t size, mask_key key, std::uint64_t offset) noexcept {
    // The key rotated so that its first byte lines up with data[0], repeated over a word.
    std::array<unsigned char, 8> k8;
    for (std::size_t i = 0; i < 8; ++i) k8[i] = key[(offset + i) & 3];
    std::uint64_t word_key;
    std::memcpy(&word_key, k8.data(), 8);

    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, data + i, 8);
        w ^= word_key;
        std::memcpy(data + i, &w, 8);
    }
    for (; i < size; ++i) data[i] = static_cast<char>(data[i] ^ static_cast<char>(k8[i & 7]));
}

frame_header_buffer make_frame_header(opcode op, bool fin, bool rsv1, std::uint64_t length,
                                      std::optional<mask_key> mask) noexcept {
    frame_header_buffer h;
    auto* p = reinterpret_cast<unsigned char*>(h.data.data());
    std::size_t n = 0;
    p[n++] = static_cast<unsigned char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) |
                                        static_cast<std::uint8_t>(op));
    const unsigned char mask_bit = mask ? 0x80 : 0;
    if (length < 126) {
        p[n++] = static_cast<unsigned char>(mask_bit | length);
    } else if (length <= 0xffff) {
        p[n++] = mask_bit | 126;
        p[n++] = static_cast<unsigned char>(length >> 8);
        p[n++] = static_cast<unsigned char>(length);
    } else {
        p[n++] = mask_bit | 127;
        for (int shift = 56; shift >= 0; shift -= 8) {
            p[n++] = static_cast<unsigned char>(length >> shift);
        }
    }
    if (mask) {
        std::memcpy(p + n, mask->data(), 4);
        n += 4;
    }
    h.size = static_cast<std::uint8_t>(n);
    return h;
}

void append_frame(std::string& out, opcode op, bool fin, bool rsv1, std::string_view payload) {
    const frame_header_buffer h = make_frame_header(op, fin, rsv1, payload.size());
    out.append(h.view());
    out.append(payload);
}

void append_masked_frame(std::string& out, opcode op, bool fin, bool rsv1,
                         std::string_view payload, mask_key key) {
    const frame_header_buffer h = make_frame_header(op, fin, rsv1, payload.size(), key);
    out.append(h.view());
    const std::size_t at = out.size();
    out.append(payload);
    apply_mask(out.data() + at, payload.size(), key);
}

}  // namespace tessera::ws
