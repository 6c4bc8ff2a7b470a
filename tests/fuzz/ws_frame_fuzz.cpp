// libFuzzer target for the WebSocket frame parser and the message state machine above it.
//
// Build and run: scripts/fuzz (see its `sources` map), or by hand with clang:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Ilib/include \
//     tests/fuzz/ws_frame_fuzz.cpp lib/src/ws_*.cpp lib/src/http1_serializer.cpp \
//     lib/src/headers.cpp lib/src/status.cpp -lz -lcrypto -o fuzz
//
// Input layout: byte 0 picks the configuration (deflate negotiated or not, a small or the
// default size limit), byte 1 seeds the chunking; the rest is what a client sent to a server.
//
// Besides memory safety (the sanitizers), it checks the state machine's contract: the events
// and the queued output are the same for the whole input and for every chunking derived from
// it; `consumed` never exceeds the input; a failure is sticky and consumes nothing more;
// after a close or failure nothing more is reported; and every byte the server queued parses
// as valid unmasked frames, ending with a close frame once the connection is closing.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "tessera/ws/protocol.hpp"

namespace {

using tessera::http1::write_batch;
using tessera::ws::frame_event;
using tessera::ws::protocol;
using tessera::ws::protocol_event;
using tessera::ws::protocol_options;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

protocol_options options_for(std::uint8_t config) {
    protocol_options o;
    o.max_message_size = (config & 1) != 0 ? 300 : 16 * 1024 * 1024;
    if ((config & 2) != 0) {
        tessera::ws::deflate_params p;
        p.client_no_context_takeover = (config & 4) != 0;
        p.client_max_window_bits = 8 + (config >> 3) % 8;
        o.deflate = p;
        o.compression.min_size = 0;
    }
    return o;
}

// Everything the server queued must read back as frames a client accepts.
void check_output(std::string out, bool closing) {
    tessera::ws::frame_parser reader(tessera::ws::role::client, tessera::ws::rsv1_bit);
    std::span<char> input(out.data(), out.size());
    tessera::ws::opcode last = tessera::ws::opcode::text;
    while (true) {
        const auto r = reader.parse(input);
        check(r.kind != frame_event::error);
        check(r.consumed <= input.size());
        input = input.subspan(r.consumed);
        if (r.kind == frame_event::header) last = reader.header().op;
        if (r.kind == frame_event::need_more) break;
    }
    check(reader.at_frame_boundary());
    if (closing) check(last == tessera::ws::opcode::close);
}

// A transcript of the events; `next_split` yields the chunk sizes.
template <class Splits>
std::string run(std::string_view input, const protocol_options& options, Splits next_split) {
    protocol p(options);
    write_batch out;
    std::string transcript, pending;
    std::size_t fed = 0;
    bool ended = false;  // a close or a failure was reported
    while (fed < input.size()) {
        const std::size_t n = std::min(next_split(), input.size() - fed);
        pending.append(input.substr(fed, n));
        fed += n;
        while (true) {
            const auto r = p.parse(std::span<char>(pending.data(), pending.size()), out);
            check(r.consumed <= pending.size());
            pending.erase(0, r.consumed);
            if (ended) {
                // Nothing after a close or failure: a failure repeats, consuming nothing.
                check(r.kind == (p.failed() ? protocol_event::fail : protocol_event::need_more));
                if (p.failed()) check(r.consumed == 0);
                break;
            }
            switch (r.kind) {
                case protocol_event::need_more: break;
                case protocol_event::message: {
                    const std::string m = p.take_message();
                    check(m.size() <= options.max_message_size);
                    if (!p.is_binary()) check(tessera::ws::is_valid_utf8(m));
                    transcript += p.is_binary() ? "bin " : "text ";
                    transcript += std::to_string(m.size()) + ":" +
                                  std::to_string(std::hash<std::string>{}(m)) + "\n";
                    break;
                }
                case protocol_event::ping:
                case protocol_event::pong:
                    check(p.control_payload().size() <= 125);
                    transcript += r.kind == protocol_event::ping ? "ping " : "pong ";
                    transcript.append(p.control_payload()) += "\n";
                    break;
                case protocol_event::close:
                    check(p.closed() && p.close_received());
                    check(tessera::ws::is_valid_utf8(p.close_reason()));
                    transcript += "close " + std::to_string(p.close_code()) + " ";
                    transcript.append(p.close_reason()) += "\n";
                    ended = true;
                    break;
                case protocol_event::fail:
                    check(p.failed() && p.closed());
                    check(p.close_code() == 1002 || p.close_code() == 1007 ||
                          p.close_code() == 1009);
                    transcript += "fail " + std::to_string(p.close_code()) + " ";
                    transcript.append(p.close_reason()) += "\n";
                    ended = true;
                    break;
            }
            // After a close or failure the loop goes round once more to check what follows.
            if (r.kind == protocol_event::need_more) break;
        }
    }
    const std::string bytes = out.to_string();
    check_output(bytes, p.close_sent());
    return transcript + "out " + bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const protocol_options options = options_for(data[0]);
    std::uint32_t seed = data[1] * 2654435761u + 1;
    const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
    if (input.empty()) return 0;

    const std::string whole = run(input, options, [&] { return input.size(); });
    const std::string bytewise = run(input, options, [] { return std::size_t{1}; });
    // Pseudo-random piece sizes from the seed byte: different cuts through headers, masks,
    // code points and compressed blocks.
    const std::string pieces = run(input, options, [&] {
        seed = seed * 1103515245u + 12345u;
        return std::size_t{1} + (seed >> 16) % 23;
    });
    // A client that references further back than the window it agreed to is caught by zlib
    // only when the distance also leaves the current output buffer, which depends on the
    // chunking. That peer broke the agreement, so either verdict is fine; with the full
    // window nothing is out of reach and the verdict must not depend on the chunking.
    if (!options.deflate || options.deflate->client_max_window_bits == 15) {
        check(bytewise == whole);
        check(pieces == whole);
    }
    return 0;
}
