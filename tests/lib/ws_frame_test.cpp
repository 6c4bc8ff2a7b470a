#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tessera/ws/frame.hpp"

using tessera::ws::frame_event;
using tessera::ws::frame_parser;
using tessera::ws::mask_key;
using tessera::ws::opcode;
using tessera::ws::role;

namespace {

struct parsed_frame {
    opcode op;
    bool fin, rsv1, masked;
    std::uint64_t length;
    std::string payload;
    bool operator==(const parsed_frame&) const = default;
};

struct transcript {
    std::vector<parsed_frame> frames;
    std::string error;  // empty: none
    std::size_t payload_events = 0;
};

// Feeds `bytes` in pieces of `step`, as a transport would, keeping unconsumed bytes.
transcript parse_all(std::string bytes, role side, std::size_t step = 0,
                     std::uint8_t allowed_rsv = 0) {
    frame_parser parser(side, allowed_rsv);
    transcript t;
    if (step == 0) step = bytes.size() == 0 ? 1 : bytes.size();
    std::string pending;
    std::size_t fed = 0;
    bool open = false;
    while (fed < bytes.size()) {
        pending.append(bytes, fed, step);
        fed += std::min(step, bytes.size() - fed);
        while (true) {
            const auto r = parser.parse(std::span<char>(pending.data(), pending.size()));
            REQUIRE(r.consumed <= pending.size());
            if (r.kind == frame_event::header) {
                REQUIRE_FALSE(open);
                const auto& h = parser.header();
                t.frames.push_back({h.op, h.fin, h.rsv1, h.masked, h.length, {}});
                open = !r.frame_end;
            } else if (r.kind == frame_event::payload) {
                REQUIRE(open);
                REQUIRE_FALSE(r.payload.empty());
                REQUIRE(r.payload.data() == pending.data());  // a view into the input
                t.frames.back().payload.append(r.payload);
                ++t.payload_events;
                open = !r.frame_end;
            } else if (r.kind == frame_event::error) {
                t.error = std::string(parser.error().reason);
                CHECK(parser.error().close_code == 1002);
                return t;
            }
            pending.erase(0, r.consumed);
            if (r.kind == frame_event::need_more) break;
        }
    }
    return t;
}

std::string bytes(std::initializer_list<int> list) {
    std::string s;
    for (int b : list) s += static_cast<char>(b);
    return s;
}

std::string masked(opcode op, std::string_view payload, bool fin = true, bool rsv1 = false) {
    std::string out;
    tessera::ws::append_masked_frame(out, op, fin, rsv1, payload, mask_key{0x37, 0xfa, 0x21, 0x3d});
    return out;
}

std::string unmasked(opcode op, std::string_view payload, bool fin = true) {
    std::string out;
    tessera::ws::append_frame(out, op, fin, false, payload);
    return out;
}

}  // namespace

TEST_CASE("the RFC 6455 masked Hello frame is unmasked in place by a server") {
    std::string wire = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
    frame_parser p(role::server);
    std::span<char> input(wire.data(), wire.size());
    auto r = p.parse(input);
    REQUIRE(r.kind == frame_event::header);
    CHECK(r.consumed == 6);
    CHECK(p.header().op == opcode::text);
    CHECK(p.header().fin);
    CHECK(p.header().masked);
    CHECK(p.header().length == 5);
    r = p.parse(input.subspan(6));
    REQUIRE(r.kind == frame_event::payload);
    CHECK(r.payload == "Hello");
    CHECK(r.frame_end);
    CHECK(wire.substr(6) == "Hello");  // unmasked where it lay
    CHECK(p.at_frame_boundary());
    CHECK(p.parse(input.subspan(11)).kind == frame_event::need_more);
}

TEST_CASE("the RFC 6455 unmasked Hello frame is read by a client") {
    const auto t = parse_all(bytes({0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}), role::client);
    REQUIRE(t.frames.size() == 1);
    CHECK(t.frames[0].payload == "Hello");
    CHECK_FALSE(t.frames[0].masked);
}

TEST_CASE("a server rejects an unmasked frame and a client a masked one") {
    CHECK(parse_all(unmasked(opcode::text, "hi"), role::server).error ==
          "unmasked frame from a client");
    CHECK(parse_all(masked(opcode::text, "hi"), role::client).error ==
          "masked frame from a server");
}

TEST_CASE("16-bit and 64-bit payload lengths are decoded") {
    const std::string medium(256, 'm');
    const std::string large(65536, 'L');
    auto t = parse_all(masked(opcode::binary, medium) + masked(opcode::binary, large),
                       role::server);
    REQUIRE(t.error.empty());
    REQUIRE(t.frames.size() == 2);
    CHECK(t.frames[0].length == 256);
    CHECK(t.frames[0].payload == medium);
    CHECK(t.frames[1].length == 65536);
    CHECK(t.frames[1].payload == large);

    // The RFC's examples: 256 bytes use the 126 form, 64 KiB the 127 form.
    CHECK(tessera::ws::make_frame_header(opcode::binary, true, false, 256).view() ==
          bytes({0x82, 0x7e, 0x01, 0x00}));
    CHECK(tessera::ws::make_frame_header(opcode::binary, true, false, 65536).view() ==
          bytes({0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}));
}

TEST_CASE("a 64-bit length with the top bit set is a protocol error") {
    const auto t = parse_all(bytes({0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}),
                             role::server);
    CHECK(t.error == "payload length with the top bit set");
}

TEST_CASE("lengths in a longer form than needed are accepted") {
    // 5 bytes in the 16-bit form, then 3 bytes in the 64-bit form, unmasked for a client.
    const auto t = parse_all(bytes({0x81, 0x7e, 0x00, 0x05, 'a', 'b', 'c', 'd', 'e', 0x82, 0x7f,
                                    0, 0, 0, 0, 0, 0, 0, 3, 'x', 'y', 'z'}),
                             role::client);
    REQUIRE(t.error.empty());
    REQUIRE(t.frames.size() == 2);
    CHECK(t.frames[0].payload == "abcde");
    CHECK(t.frames[1].payload == "xyz");
}

TEST_CASE("reserved opcodes are protocol errors") {
    for (int op : {3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf}) {
        CAPTURE(op);
        const auto t = parse_all(bytes({0x80 | op, 0x80, 1, 2, 3, 4}), role::server);
        CHECK(t.error == "reserved opcode");
        CHECK(t.frames.empty());
    }
}

TEST_CASE("RSV bits are errors unless an extension allows them") {
    for (int bit : {0x40, 0x20, 0x10}) {
        CHECK(parse_all(bytes({0x81 | bit, 0x80, 1, 2, 3, 4}), role::server).error ==
              "reserved bits set");
    }
    const auto t = parse_all(masked(opcode::text, "z", true, true), role::server, 0,
                             tessera::ws::rsv1_bit);
    REQUIRE(t.error.empty());
    CHECK(t.frames[0].rsv1);
    CHECK(parse_all(bytes({0xa1, 0x80, 1, 2, 3, 4}), role::server, 0, tessera::ws::rsv1_bit)
              .error == "reserved bits set");
}

TEST_CASE("a fragmented or over-long control frame fails before its payload arrives") {
    CHECK(parse_all(bytes({0x09, 0x80}), role::server).error == "fragmented control frame");
    CHECK(parse_all(bytes({0x88, 0xfe}), role::server).error ==
          "control frame payload over 125 bytes");
    CHECK(parse_all(bytes({0x8a, 0xff}), role::server).error ==
          "control frame payload over 125 bytes");
    const auto ok = parse_all(masked(opcode::ping, std::string(125, 'p')), role::server);
    CHECK(ok.error.empty());
    CHECK(ok.frames.at(0).payload.size() == 125);
}

TEST_CASE("an empty frame's header carries the frame end") {
    std::string wire = masked(opcode::text, "", false) + masked(opcode::continuation, "");
    frame_parser p(role::server);
    auto r = p.parse(std::span<char>(wire.data(), wire.size()));
    REQUIRE(r.kind == frame_event::header);
    CHECK(r.frame_end);
    CHECK(r.consumed == 6);
    CHECK_FALSE(p.header().fin);
    r = p.parse(std::span<char>(wire.data() + 6, wire.size() - 6));
    REQUIRE(r.kind == frame_event::header);
    CHECK(r.frame_end);
    CHECK(p.header().op == opcode::continuation);
    CHECK(p.header().fin);
}

TEST_CASE("feeding one byte at a time gives the same frames as all at once") {
    std::string stream;
    stream += masked(opcode::text, "Hello, ", false);
    stream += masked(opcode::ping, "are you there");
    stream += masked(opcode::continuation, "world", true);
    stream += masked(opcode::binary, std::string(300, '\x01'));
    stream += masked(opcode::binary, "");
    stream += masked(opcode::close, bytes({0x03, 0xe8}) + "bye");
    const auto whole = parse_all(stream, role::server);
    REQUIRE(whole.error.empty());
    REQUIRE(whole.frames.size() == 6);
    for (std::size_t step : {1, 2, 3, 5, 13, 64}) {
        CAPTURE(step);
        const auto pieces = parse_all(stream, role::server, step);
        CHECK(pieces.error.empty());
        CHECK(pieces.frames == whole.frames);
    }
    // Byte at a time, the payload is handed out as it arrives.
    CHECK(parse_all(stream, role::server, 1).payload_events == stream.size() - 6 * 6 - 2);
}

TEST_CASE("masking in pieces at any offset equals masking at once") {
    const mask_key key{0xde, 0xad, 0xbe, 0xef};
    std::string whole(37, '\0');
    for (std::size_t i = 0; i < whole.size(); ++i) whole[i] = static_cast<char>(i * 7);
    std::string once = whole;
    tessera::ws::apply_mask(once.data(), once.size(), key);
    for (std::size_t i = 0; i < whole.size(); ++i) {
        CHECK(static_cast<unsigned char>(once[i]) ==
              (static_cast<unsigned char>(whole[i]) ^ key[i % 4]));
    }
    for (std::size_t cut = 0; cut <= whole.size(); ++cut) {
        std::string pieces = whole;
        tessera::ws::apply_mask(pieces.data(), cut, key, 0);
        tessera::ws::apply_mask(pieces.data() + cut, pieces.size() - cut, key, cut);
        CHECK(pieces == once);
    }
}

TEST_CASE("frame headers use the minimal length form and carry a mask when given") {
    using tessera::ws::make_frame_header;
    CHECK(make_frame_header(opcode::text, true, false, 0).view() == bytes({0x81, 0x00}));
    CHECK(make_frame_header(opcode::text, true, false, 125).view() == bytes({0x81, 125}));
    CHECK(make_frame_header(opcode::text, true, false, 126).view() ==
          bytes({0x81, 126, 0, 126}));
    CHECK(make_frame_header(opcode::text, true, false, 65535).view() ==
          bytes({0x81, 126, 0xff, 0xff}));
    CHECK(make_frame_header(opcode::continuation, false, false, 1).view() == bytes({0x00, 1}));
    CHECK(make_frame_header(opcode::binary, true, true, 3).view() == bytes({0xc2, 3}));
    CHECK(make_frame_header(opcode::close, true, false, 2, mask_key{1, 2, 3, 4}).view() ==
          bytes({0x88, 0x82, 1, 2, 3, 4}));
    const auto big = make_frame_header(opcode::binary, true, false, 1ULL << 40,
                                       mask_key{9, 9, 9, 9});
    CHECK(big.size == 14);
}

TEST_CASE("a masked frame leaves the caller's bytes alone and round-trips through a server") {
    const std::string payload = "the quick brown fox";
    std::string out;
    tessera::ws::append_masked_frame(out, opcode::text, true, false, payload,
                                     mask_key{0x11, 0x22, 0x33, 0x44});
    CHECK(payload == "the quick brown fox");
    CHECK(out.size() == 2 + 4 + payload.size());
    CHECK(out.find("quick") == std::string::npos);
    const auto t = parse_all(out, role::server);
    REQUIRE(t.frames.size() == 1);
    CHECK(t.frames[0].payload == payload);
}

TEST_CASE("an error is terminal") {
    std::string wire = bytes({0x83, 0x80, 1, 2, 3, 4});
    frame_parser p(role::server);
    CHECK(p.parse(std::span<char>(wire.data(), wire.size())).kind == frame_event::error);
    std::string good = masked(opcode::text, "fine");
    const auto r = p.parse(std::span<char>(good.data(), good.size()));
    CHECK(r.kind == frame_event::error);
    CHECK(r.consumed == 0);
}
