#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/ws/protocol.hpp"

using tessera::http1::write_batch;
using tessera::ws::frame_event;
using tessera::ws::frame_parser;
using tessera::ws::opcode;
using tessera::ws::protocol;
using tessera::ws::protocol_event;
using tessera::ws::protocol_options;
using tessera::ws::role;
using tessera::ws::send_status;

namespace {

struct record {
    protocol_event kind;
    std::string data;  // message, control payload or close reason
    bool binary = false;
    int code = 0;
    bool operator==(const record&) const = default;
};

struct run {
    std::vector<record> events;
    std::string output;  // everything queued into the write batch
    std::size_t consumed = 0;
};

// Feeds `bytes` in pieces of `step` (0: all at once), as a transport would.
run feed(protocol& p, const std::string& bytes, std::size_t step = 0) {
    run result;
    write_batch out;
    if (step == 0) step = bytes.empty() ? 1 : bytes.size();
    std::string pending;
    std::size_t fed = 0;
    while (fed < bytes.size()) {
        pending.append(bytes, fed, step);
        fed += std::min(step, bytes.size() - fed);
        while (true) {
            const auto r = p.parse(std::span<char>(pending.data(), pending.size()), out);
            REQUIRE(r.consumed <= pending.size());
            result.consumed += r.consumed;
            pending.erase(0, r.consumed);
            switch (r.kind) {
                case protocol_event::need_more: break;
                case protocol_event::message:
                    result.events.push_back({r.kind, p.take_message(), p.is_binary(), 0});
                    break;
                case protocol_event::ping:
                case protocol_event::pong:
                    result.events.push_back({r.kind, std::string(p.control_payload()), false, 0});
                    break;
                case protocol_event::close:
                case protocol_event::fail:
                    result.events.push_back(
                        {r.kind, std::string(p.close_reason()), false, p.close_code()});
                    break;
            }
            if (r.kind == protocol_event::fail) {
                result.output = out.to_string();
                return result;
            }
            if (r.kind == protocol_event::need_more) break;
        }
    }
    result.output = out.to_string();
    return result;
}

// A frame as a client sends it (masked).
std::string frame(opcode op, std::string_view payload, bool fin = true, bool rsv1 = false) {
    std::string out;
    tessera::ws::append_masked_frame(out, op, fin, rsv1, payload,
                                     tessera::ws::mask_key{0x0f, 0xf0, 0x55, 0xaa});
    return out;
}

std::string close_payload(int code, std::string_view reason = {}) {
    std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
    return p.append(reason);
}

struct out_frame {
    opcode op;
    bool fin, rsv1, masked;
    std::string payload;
};

// Decodes what an endpoint wrote, as its peer would.
std::vector<out_frame> frames_of(std::string bytes, role reader) {
    frame_parser parser(reader, tessera::ws::rsv1_bit);
    std::vector<out_frame> frames;
    std::span<char> input(bytes.data(), bytes.size());
    while (true) {
        const auto r = parser.parse(input);
        input = input.subspan(r.consumed);
        if (r.kind == frame_event::need_more) break;
        REQUIRE(r.kind != frame_event::error);
        if (r.kind == frame_event::header) {
            const auto& h = parser.header();
            frames.push_back({h.op, h.fin, h.rsv1, h.masked, {}});
        } else {
            frames.back().payload.append(r.payload);
        }
    }
    return frames;
}

int fail_code(const std::string& bytes, protocol_options options = {}) {
    const role peer = options.role == role::server ? role::client : role::server;
    protocol p(std::move(options));
    const run r = feed(p, bytes);
    if (r.events.empty() || r.events.back().kind != protocol_event::fail) return 0;
    // The failing close frame went out with the same code.
    const auto frames = frames_of(r.output, peer);
    REQUIRE_FALSE(frames.empty());
    CHECK(frames.back().op == opcode::close);
    CHECK(frames.back().payload.substr(0, 2) == close_payload(r.events.back().code));
    return r.events.back().code;
}

protocol_options with_deflate(role side = role::server) {
    protocol_options o;
    o.role = side;
    o.deflate = tessera::ws::deflate_params{};
    o.compression.min_size = 0;
    return o;
}

}  // namespace

TEST_CASE("a text and a binary message are reported whole") {
    protocol p;
    const run r = feed(p, frame(opcode::text, "hello") +
                              frame(opcode::binary, std::string("\x00\x01", 2)));
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[0] == record{protocol_event::message, "hello", false, 0});
    CHECK(r.events[1] == record{protocol_event::message, std::string("\x00\x01", 2), true, 0});
    CHECK(r.output.empty());
    CHECK_FALSE(p.in_message());
}

TEST_CASE("a fragmented message with a ping in between arrives whole after the ping") {
    protocol p;
    const std::string wire = frame(opcode::text, "Hel", false) + frame(opcode::ping, "beat") +
                             frame(opcode::continuation, "lo, ", false) +
                             frame(opcode::continuation, "", false) +
                             frame(opcode::continuation, "world");
    const run r = feed(p, wire);
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[0] == record{protocol_event::ping, "beat", false, 0});
    CHECK(r.events[1] == record{protocol_event::message, "Hello, world", false, 0});
    const auto frames = frames_of(r.output, role::client);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].op == opcode::pong);
    CHECK(frames[0].payload == "beat");
    CHECK_FALSE(frames[0].masked);
}

TEST_CASE("every chunking of the input gives the same events and output") {
    std::string wire = frame(opcode::text, "κόσμε ", false) + frame(opcode::ping, "p1") +
                       frame(opcode::continuation, "and more") +
                       frame(opcode::binary, std::string(70000, 'b')) + frame(opcode::pong, "") +
                       frame(opcode::text, "") + frame(opcode::close, close_payload(1000, "done"));
    protocol whole_p;
    const run whole = feed(whole_p, wire);
    REQUIRE(whole.events.size() == 6);
    CHECK(whole.events.back().kind == protocol_event::close);
    for (std::size_t step : {1, 2, 5, 9, 1000}) {
        CAPTURE(step);
        protocol p;
        const run pieces = feed(p, wire, step);
        CHECK(pieces.events == whole.events);
        CHECK(pieces.output == whole.output);
    }
}

TEST_CASE("a pong is reported and needs no answer") {
    protocol p;
    const run r = feed(p, frame(opcode::pong, "late"));
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0] == record{protocol_event::pong, "late", false, 0});
    CHECK(r.output.empty());
}

TEST_CASE("the peer's close is reported and echoed with its code, and the rest ignored") {
    protocol p;
    const run r = feed(p, frame(opcode::close, close_payload(1001, "going away")) +
                              frame(opcode::text, "after close"));
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0] == record{protocol_event::close, "going away", false, 1001});
    CHECK(r.consumed == frame(opcode::close, close_payload(1001, "going away")).size() +
                            frame(opcode::text, "after close").size());
    const auto frames = frames_of(r.output, role::client);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].op == opcode::close);
    CHECK(frames[0].payload == close_payload(1001));
    CHECK(p.close_received());
    CHECK(p.close_sent());
    CHECK(p.closed());
    write_batch out;
    CHECK(p.send_text("too late", out) == send_status::closed);
    CHECK(out.empty());
}

TEST_CASE("an empty close is reported as 1005 and echoed empty") {
    protocol p;
    const run r = feed(p, frame(opcode::close, ""));
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].code == 1005);
    const auto frames = frames_of(r.output, role::client);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].payload.empty());
}

TEST_CASE("after this end's close, messages still arrive and the peer's close ends it") {
    protocol p;
    write_batch out;
    CHECK(p.send_close(1000, "bye", out) == send_status::sent);
    const auto sent = frames_of(out.to_string(), role::client);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].payload == close_payload(1000, "bye"));
    CHECK(p.close_sent());
    CHECK_FALSE(p.closed());
    out.clear();
    CHECK(p.send_text("no", out) == send_status::closed);
    CHECK(p.send_ping("", out) == send_status::closed);
    CHECK(p.send_close(1000, "", out) == send_status::closed);
    CHECK(out.empty());

    const run r = feed(p, frame(opcode::text, "in flight") + frame(opcode::ping, "x") +
                              frame(opcode::close, close_payload(1000)));
    REQUIRE(r.events.size() == 3);
    CHECK(r.events[0].data == "in flight");
    CHECK(r.events[1].kind == protocol_event::ping);
    CHECK(r.events[2] == record{protocol_event::close, "", false, 1000});
    CHECK(r.output.empty());  // no pong after our close, no second close
    CHECK(p.closed());
}

TEST_CASE("frame-level violations fail the connection with 1002") {
    std::string unmasked;
    tessera::ws::append_frame(unmasked, opcode::text, true, false, "hi");
    CHECK(fail_code(unmasked) == 1002);
    CHECK(fail_code(frame(opcode::text, "x", true, true)) == 1002);  // RSV1, no extension
    std::string rsv2 = frame(opcode::text, "x");
    rsv2[0] = static_cast<char>(rsv2[0] | 0x20);
    CHECK(fail_code(rsv2) == 1002);
    std::string op3 = frame(opcode::text, "x");
    op3[0] = static_cast<char>(0x83);
    CHECK(fail_code(op3) == 1002);
    std::string op_b = frame(opcode::text, "x");
    op_b[0] = static_cast<char>(0x8b);
    CHECK(fail_code(op_b) == 1002);
    CHECK(fail_code(frame(opcode::ping, std::string(126, 'x'))) == 1002);
    CHECK(fail_code(frame(opcode::ping, "x", false)) == 1002);
    CHECK(fail_code(frame(opcode::close, "", false)) == 1002);
}

TEST_CASE("fragmentation errors fail the connection with 1002") {
    CHECK(fail_code(frame(opcode::continuation, "orphan")) == 1002);
    CHECK(fail_code(frame(opcode::text, "a", false) + frame(opcode::text, "b")) == 1002);
    CHECK(fail_code(frame(opcode::binary, "a", false) + frame(opcode::ping, "") +
                    frame(opcode::binary, "b")) == 1002);
    CHECK(fail_code(frame(opcode::text, "done") + frame(opcode::continuation, "more")) == 1002);
}

TEST_CASE("a 1-byte close payload fails with 1002") {
    protocol p;
    const run r = feed(p, frame(opcode::close, "\x03"));
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].kind == protocol_event::fail);
    CHECK(r.events[0].code == 1002);
}

TEST_CASE("close codes outside the sendable ranges fail with 1002") {
    for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
        CAPTURE(code);
        CHECK(fail_code(frame(opcode::close, close_payload(code))) == 1002);
    }
    for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                     3000, 3999, 4000, 4999}) {
        CAPTURE(code);
        protocol p;
        const run r = feed(p, frame(opcode::close, close_payload(code)));
        REQUIRE(r.events.size() == 1);
        CHECK(r.events[0] == record{protocol_event::close, "", false, code});
    }
}

TEST_CASE("a close reason that is not UTF-8 fails with 1007") {
    CHECK(fail_code(frame(opcode::close, close_payload(1000, "\xce"))) == 1007);
    CHECK(fail_code(frame(opcode::close, close_payload(1000, "ok \xed\xa0\x80"))) == 1007);
}

TEST_CASE("invalid UTF-8 in a text message fails with 1007 as soon as the prefix is bad") {
    CHECK(fail_code(frame(opcode::text, "abc\xff")) == 1007);
    CHECK(fail_code(frame(opcode::text, "truncated \xe2\x82")) == 1007);
    // Binary messages are not checked.
    protocol bin;
    CHECK(feed(bin, frame(opcode::binary, "\xff\xfe")).events.at(0).binary);

    // The first fragment alone is enough: no need to wait for the message's end.
    protocol p;
    const run r = feed(p, frame(opcode::text, "ok \xc0\xaf", false));
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].kind == protocol_event::fail);
    CHECK(r.events[0].code == 1007);

    // Inside one big frame fed in pieces, it fails before the frame is complete.
    protocol q;
    std::string big = std::string(1000, 'a') + "\xed\xa0\x80" + std::string(5000, 'b');
    const std::string wire = frame(opcode::text, big);
    const run s = feed(q, wire, 512);
    REQUIRE(s.events.size() == 1);
    CHECK(s.events[0].code == 1007);
    CHECK(s.consumed < wire.size() / 2);
}

TEST_CASE("a code point split across fragments is accepted") {
    protocol p;
    // U+1F600 split 1 + 2 + 1 over three fragments, with a ping inside.
    const run r = feed(p, frame(opcode::text, "smile \xf0", false) +
                              frame(opcode::continuation, "\x9f\x98", false) +
                              frame(opcode::ping, "") + frame(opcode::continuation, "\x80"));
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[1].data == "smile \xf0\x9f\x98\x80");
}

TEST_CASE("a message over the size limit fails with 1009 on the header, before its payload") {
    protocol_options o;
    o.max_message_size = 100;
    protocol p(o);
    const std::string wire = frame(opcode::binary, std::string(101, 'x'));
    const run r = feed(p, wire.substr(0, 8));  // the 6-byte header and 2 payload bytes
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].code == 1009);
    CHECK(r.consumed == 6);

    // The running size across fragments counts.
    protocol_options o2;
    o2.max_message_size = 100;
    CHECK(fail_code(frame(opcode::text, std::string(60, 'a'), false) +
                        frame(opcode::continuation, std::string(41, 'a')),
                    o2) == 1009);
    protocol exact(o2);
    CHECK(feed(exact, frame(opcode::text, std::string(60, 'a'), false) +
                          frame(opcode::continuation, std::string(40, 'a')))
              .events.at(0)
              .data.size() == 100);
}

TEST_CASE("a failure is sticky and queues exactly one close frame") {
    protocol p;
    write_batch out;
    std::string bad = frame(opcode::continuation, "x");
    auto r = p.parse(std::span<char>(bad.data(), bad.size()), out);
    CHECK(r.kind == protocol_event::fail);
    CHECK(p.failed());
    CHECK(p.closed());
    CHECK(p.close_reason() == "continuation frame without a message");
    const std::string first = out.to_string();
    std::string good = frame(opcode::text, "fine");
    r = p.parse(std::span<char>(good.data(), good.size()), out);
    CHECK(r.kind == protocol_event::fail);
    CHECK(r.consumed == 0);
    CHECK(out.to_string() == first);
    CHECK(p.send_text("x", out) == send_status::closed);
}

TEST_CASE("a server's messages are unmasked single frames with the payload borrowed") {
    protocol p;
    write_batch out;
    const std::string big(4096, 'z');
    CHECK(p.send_text(big, out) == send_status::sent);
    const auto segments = out.segments();
    REQUIRE(segments.size() == 2);
    CHECK(segments[0].size() == 4);
    CHECK(segments[1].data() == big.data());  // no copy of a large payload
    CHECK(p.send_binary("\x01\x02", out) == send_status::sent);
    const auto frames = frames_of(out.to_string(), role::client);
    REQUIRE(frames.size() == 2);
    CHECK(frames[0].op == opcode::text);
    CHECK(frames[0].fin);
    CHECK_FALSE(frames[0].masked);
    CHECK(frames[0].payload == big);
    CHECK(frames[1].op == opcode::binary);
}

TEST_CASE("a client masks every frame with a fresh key and a server reads them") {
    protocol_options o;
    o.role = role::client;
    protocol client(o);
    write_batch out;
    CHECK(client.send_text("same", out) == send_status::sent);
    CHECK(client.send_text("same", out) == send_status::sent);
    CHECK(client.send_ping("hb", out) == send_status::sent);
    CHECK(client.send_close(1000, "", out) == send_status::sent);
    const std::string wire = out.to_string();
    CHECK(wire.find("same") == std::string::npos);
    const auto frames = frames_of(wire, role::server);
    REQUIRE(frames.size() == 4);
    CHECK(frames[0].masked);
    CHECK(wire.substr(2, 4) != wire.substr(12, 4));  // the two keys differ

    protocol server;
    const run r = feed(server, wire);
    REQUIRE(r.events.size() == 4);
    CHECK(r.events[0].data == "same");
    CHECK(r.events[1].data == "same");
    CHECK(r.events[2].kind == protocol_event::ping);
    CHECK(r.events[3].kind == protocol_event::close);

    // And the server's answers (pong, close echo) read back on the client.
    const run back = feed(client, r.output);
    REQUIRE(back.events.size() == 2);
    CHECK(back.events[0] == record{protocol_event::pong, "hb", false, 0});
    CHECK(back.events[1].code == 1000);
    CHECK(client.closed());
}

TEST_CASE("a client rejects a masked frame from the server with 1002") {
    std::string masked_by_server = frame(opcode::text, "hi");
    CHECK(fail_code(masked_by_server, protocol_options{.role = role::client}) == 1002);
}

TEST_CASE("control frame sends are bounded and close codes checked") {
    protocol p;
    write_batch out;
    CHECK(p.send_ping(std::string(126, 'p'), out) == send_status::invalid);
    CHECK(p.send_pong(std::string(126, 'p'), out) == send_status::invalid);
    CHECK(p.send_pong(std::string(125, 'p'), out) == send_status::sent);
    CHECK(p.send_close(1006, "", out) == send_status::invalid);
    CHECK(p.send_close(999, "", out) == send_status::invalid);
    CHECK_FALSE(p.close_sent());
    // A long reason is cut to 123 bytes without splitting a code point ("é" is 2 bytes).
    std::string reason = "x";
    for (int i = 0; i < 100; ++i) reason += "\xc3\xa9";
    CHECK(p.send_close(4000, reason, out) == send_status::sent);
    const auto frames = frames_of(out.to_string(), role::client);
    REQUIRE(frames.size() == 2);
    CHECK(frames[1].payload.size() == 2 + 123);
    CHECK(tessera::ws::is_valid_utf8(frames[1].payload.substr(2)));

    protocol q;
    write_batch empty_close;
    CHECK(q.send_close(1005, "ignored", empty_close) == send_status::sent);
    CHECK(frames_of(empty_close.to_string(), role::client).at(0).payload.empty());
}

TEST_CASE("compressed messages travel both ways between a client and a server") {
    protocol server(with_deflate(role::server));
    protocol client(with_deflate(role::client));
    write_batch to_server, to_client;
    std::string text;
    for (int i = 0; i < 50; ++i) text += "repetitive text compresses well. ";
    for (int i = 0; i < 3; ++i) CHECK(client.send_text(text, to_server) == send_status::sent);
    const std::string wire = to_server.to_string();
    CHECK(wire.size() < text.size());
    const auto frames = frames_of(wire, role::server);
    REQUIRE(frames.size() == 3);
    CHECK(frames[0].rsv1);
    CHECK(frames[2].payload.size() < frames[0].payload.size());  // context takeover

    const run r = feed(server, wire, 17);
    REQUIRE(r.events.size() == 3);
    for (const auto& e : r.events) CHECK(e.data == text);

    CHECK(server.send_binary(text, to_client) == send_status::sent);
    const run back = feed(client, to_client.to_string());
    REQUIRE(back.events.size() == 1);
    CHECK(back.events[0].binary);
    CHECK(back.events[0].data == text);
}

TEST_CASE("a compressed message may be fragmented with RSV1 on the first frame only") {
    tessera::ws::deflate_codec sender(role::client, {}, {});
    std::string compressed;
    sender.compress("fragmented and compressed, fragmented and compressed", compressed);
    const std::size_t cut = compressed.size() / 2;
    protocol server(with_deflate());
    const run r = feed(server, frame(opcode::text, compressed.substr(0, cut), false, true) +
                                   frame(opcode::ping, "mid") +
                                   frame(opcode::continuation, compressed.substr(cut)));
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[1].data == "fragmented and compressed, fragmented and compressed");

    CHECK(fail_code(frame(opcode::text, compressed.substr(0, cut), false, true) +
                        frame(opcode::continuation, compressed.substr(cut), true, true),
                    with_deflate()) == 1002);
    CHECK(fail_code(frame(opcode::ping, "", true, true), with_deflate()) == 1002);
}

TEST_CASE("short messages go uncompressed under min_size") {
    protocol_options o = with_deflate();
    o.compression.min_size = 100;
    protocol server(o);
    write_batch out;
    CHECK(server.send_text("tiny", out) == send_status::sent);
    CHECK(server.send_text(std::string(100, 'a'), out) == send_status::sent);
    const auto frames = frames_of(out.to_string(), role::client);
    REQUIRE(frames.size() == 2);
    CHECK_FALSE(frames[0].rsv1);
    CHECK(frames[0].payload == "tiny");
    CHECK(frames[1].rsv1);
}

TEST_CASE("a compressed bomb fails with 1009 while inflating") {
    tessera::ws::deflate_codec sender(role::client, {}, {});
    std::string compressed;
    sender.compress(std::string(4 * 1024 * 1024, 'A'), compressed);
    protocol_options o = with_deflate();
    o.max_message_size = 64 * 1024;
    CHECK(fail_code(frame(opcode::binary, compressed, true, true), o) == 1009);
}

TEST_CASE("compressed data that does not inflate fails with 1002") {
    CHECK(fail_code(frame(opcode::binary, "\xff\xff\xff", true, true), with_deflate()) == 1002);
}

TEST_CASE("invalid UTF-8 inside a compressed text message fails with 1007") {
    tessera::ws::deflate_codec sender(role::client, {}, {});
    std::string compressed;
    sender.compress("valid start \xff invalid", compressed);
    CHECK(fail_code(frame(opcode::text, compressed, true, true), with_deflate()) == 1007);
}

TEST_CASE("text inflated before a corrupt byte is judged first, however the bytes are split") {
    // Regression (found by the fuzzer): all at once the corrupt DEFLATE data was reported
    // (1002), byte by byte the invalid UTF-8 inflated before it (1007).
    tessera::ws::deflate_codec sender(role::client, {}, {});
    std::string compressed;
    sender.compress("bad \xff text", compressed);
    const std::string wire = frame(opcode::text, compressed + "\xff\xff\xff", true, true);
    for (std::size_t step : {0, 1, 4}) {
        CAPTURE(step);
        protocol p(with_deflate());
        const run r = feed(p, wire, step);
        REQUIRE(r.events.size() == 1);
        CHECK(r.events[0].code == 1007);
    }
}

TEST_CASE("a zero max_message_size is rejected at construction") {
    CHECK_THROWS_AS(protocol(protocol_options{.max_message_size = 0}), std::invalid_argument);
}
