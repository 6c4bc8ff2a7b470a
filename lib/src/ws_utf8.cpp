#include "tessera/ws/utf8.hpp"

#include <array>
#include <cstring>

namespace tessera::ws {
namespace {

// A byte-class DFA. The classes split the lead and continuation bytes exactly where RFC 3629's
// table (§4) puts extra limits on the second byte: after E0 (no overlongs), ED (no surrogates),
// F0 (no overlongs) and F4 (nothing above U+10FFFF).
enum : std::uint8_t {
    k_ascii,   // 00..7F
    k_c80,     // 80..8F
    k_c90,     // 90..9F
    k_ca0,     // A0..BF
    k_bad,     // C0, C1, F5..FF: never valid
    k_lead2,   // C2..DF
    k_e0,      // E0
    k_lead3,   // E1..EC, EE, EF
    k_ed,      // ED
    k_f0,      // F0
    k_lead4,   // F1..F3
    k_f4,      // F4
    k_classes
};

// States: 0 accept, 1 reject, then what the next byte must be.
enum : std::uint8_t {
    s_accept = 0,
    s_reject = utf8_validator::reject_state,
    s_tail1,     // one more 80..BF
    s_tail2,     // two more 80..BF
    s_tail3,     // three more 80..BF
    s_e0,        // A0..BF, then one more
    s_ed,        // 80..9F, then one more
    s_f0,        // 90..BF, then two more
    s_f4,        // 80..8F, then two more
    s_states
};

constexpr std::array<std::uint8_t, 256> make_classes() {
    std::array<std::uint8_t, 256> t{};
    for (int b = 0; b < 256; ++b) {
        std::uint8_t c = k_bad;
        if (b < 0x80) c = k_ascii;
        else if (b < 0x90) c = k_c80;
        else if (b < 0xa0) c = k_c90;
        else if (b < 0xc0) c = k_ca0;
        else if (b < 0xc2) c = k_bad;
        else if (b < 0xe0) c = k_lead2;
        else if (b == 0xe0) c = k_e0;
        else if (b == 0xed) c = k_ed;
        else if (b < 0xf0) c = k_lead3;
        else if (b == 0xf0) c = k_f0;
        else if (b < 0xf4) c = k_lead4;
        else if (b == 0xf4) c = k_f4;
        t[static_cast<std::size_t>(b)] = c;
    }
    return t;
}

constexpr std::array<std::array<std::uint8_t, k_classes>, s_states> make_transitions() {
    std::array<std::array<std::uint8_t, k_classes>, s_states> t{};
    for (auto& row : t) row.fill(s_reject);
    auto& a = t[s_accept];
    a[k_ascii] = s_accept;
    a[k_lead2] = s_tail1;
    a[k_e0] = s_e0;
    a[k_lead3] = s_tail2;
    a[k_ed] = s_ed;
    a[k_f0] = s_f0;
    a[k_lead4] = s_tail3;
    a[k_f4] = s_f4;
    for (std::uint8_t c : {k_c80, k_c90, k_ca0}) {
        t[s_tail1][c] = s_accept;
        t[s_tail2][c] = s_tail1;
        t[s_tail3][c] = s_tail2;
    }
    t[s_e0][k_ca0] = s_tail1;
    t[s_ed][k_c80] = s_tail1;
    t[s_ed][k_c90] = s_tail1;
    t[s_f0][k_c90] = s_tail2;
    t[s_f0][k_ca0] = s_tail2;
    t[s_f4][k_c80] = s_tail2;
    return t;
}

constexpr auto classes = make_classes();
constexpr auto transitions = make_transitions();

constexpr std::uint64_t high_bits = 0x8080808080808080ULL;

}  // namespace

bool utf8_validator::feed(std::string_view bytes) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const auto* const end = p + bytes.size();
    std::uint8_t state = state_;
    if (state == s_reject) return false;
    while (p < end) {
        // Text is mostly ASCII: at a boundary, skip whole words with no high bit set.
        if (state == s_accept) {
            while (end - p >= 8) {
                std::uint64_t word;
                std::memcpy(&word, p, 8);
                if (word & high_bits) break;
                p += 8;
            }
            while (p < end && *p < 0x80) ++p;
            if (p == end) break;
        }
        state = transitions[state][classes[*p]];
        if (state == s_reject) break;
        ++p;
    }
    state_ = state;
    return state != s_reject;
}

bool is_valid_utf8(std::string_view text) noexcept {
    utf8_validator v;
    return v.feed(text) && v.complete();
}

}  // namespace tessera::ws
