// libFuzzer target for the HTTP/1.1 request parser.
//
// Build and run (clang):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Ilib/include \
//     tests/fuzz/http1_parser_fuzz.cpp lib/src/http1_parser.cpp lib/src/headers.cpp -o fuzz
//   cp -r tests/fuzz/corpus/http1_parser /tmp/corpus && ./fuzz -max_total_time=60 /tmp/corpus
//
// Besides memory safety (the sanitizers), it checks the parser's contract: feeding the input
// all at once, byte by byte, or in other pieces gives the same transcript; `consumed` never
// exceeds the input; every view points into the caller's bytes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/http1_parser.hpp"

namespace {

using tessera::http1::event_kind;
using tessera::http1::parser_limits;
using tessera::http1::request_parser;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

bool inside(std::string_view v, std::string_view buffer) {
    return v.empty() || (v.data() >= buffer.data() &&
                         v.data() + v.size() <= buffer.data() + buffer.size());
}

void append_views(std::string& t, std::span<const tessera::http1::header_view> fields,
                  std::string_view buffer) {
    for (const auto& f : fields) {
        check(inside(f.name, buffer) && inside(f.value, buffer));
        check(!f.name.empty());
        t.append(f.name).append(":").append(f.value).append("\n");
    }
}

// A transcript of everything the parser reported, with body pieces merged.
std::string run(std::string_view input, std::size_t step, const parser_limits& limits) {
    request_parser parser(limits);
    std::string transcript;
    std::string pending;
    bool in_body = false;
    std::size_t fed = 0;
    std::vector<tessera::header_field> scratch;
    while (fed < input.size()) {
        const std::size_t n = std::min(step, input.size() - fed);
        pending.append(input.substr(fed, n));
        fed += n;
        while (true) {
            const auto r = parser.parse(pending);
            check(r.consumed <= pending.size());
            if (r.kind != event_kind::body && r.kind != event_kind::need_more && in_body) {
                transcript += "]\n";
                in_body = false;
            }
            switch (r.kind) {
                case event_kind::need_more: break;
                case event_kind::head: {
                    const auto& h = parser.head();
                    check(inside(h.method, pending) && inside(h.target, pending));
                    check(h.path == "/" || inside(h.path, pending));
                    check(inside(h.query, pending) && inside(h.authority, pending));
                    check(h.version_minor == 0 || h.version_minor == 1);
                    check(h.body != tessera::http1::body_kind::content_length ||
                          h.content_length > 0);
                    transcript.append("head ").append(h.method).append(" ").append(h.target);
                    transcript.append(" ").append(h.path).append(" ").append(h.query);
                    transcript += h.keep_alive ? " ka" : " close";
                    transcript += h.upgrade ? " up" : "";
                    transcript += std::to_string(static_cast<int>(h.body)) + "\n";
                    append_views(transcript, h.headers, pending);
                    tessera::http1::to_header_fields(h.headers, scratch);
                    check(scratch.size() == h.headers.size());
                    break;
                }
                case event_kind::body:
                    check(!r.body.empty() && inside(r.body, pending));
                    if (!in_body) transcript += "body[";
                    in_body = true;
                    transcript.append(r.body);
                    break;
                case event_kind::trailers:
                    check(!parser.trailers().empty());
                    transcript += "trailers\n";
                    append_views(transcript, parser.trailers(), pending);
                    break;
                case event_kind::message_complete: transcript += "complete\n"; break;
                case event_kind::upgrade:
                    transcript += "upgrade\n";
                    return transcript;
                case event_kind::error:
                    check(parser.error().status >= 400 && parser.error().status <= 505);
                    transcript += "error " + std::to_string(parser.error().status) + "\n";
                    return transcript;
            }
            pending.erase(0, r.consumed);
            if (r.kind == event_kind::need_more) break;
        }
    }
    if (in_body) transcript += "]\n";
    return transcript;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (input.empty()) return 0;

    const parser_limits defaults;
    const std::string whole = run(input, input.size(), defaults);
    check(run(input, 1, defaults) == whole);

    // Tight limits reach the 413/414/431 paths with small inputs.
    parser_limits tight;
    tight.max_request_line = 48;
    tight.max_header_bytes = 96;
    tight.max_headers = 4;
    tight.max_body = 32;
    tight.max_chunk_extension = 8;
    tight.max_empty_lines = 2;
    const std::string small = run(input, input.size(), tight);
    check(run(input, size % 13 + 2, tight) == small);
    return 0;
}
