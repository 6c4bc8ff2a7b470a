#include "tessera/http_endpoint.hpp"

#include <array>
#include <string>

#include "tessera/http_error.hpp"
#include "tessera/status.hpp"

namespace tessera::detail {

namespace {
constexpr std::array<std::string_view, 7> method_names{"GET",   "HEAD",   "POST",   "PUT",
                                                       "PATCH", "DELETE", "OPTIONS"};
constexpr unsigned method_sets = 1u << method_names.size();

// Every possible Allow value, built once: 128 short strings, so answering a 405 never formats.
const std::array<std::string, method_sets>& allow_values() {
    static const auto table = [] {
        std::array<std::string, method_sets> values;
        for (unsigned set = 0; set < method_sets; ++set) {
            for (unsigned m = 0; m < method_names.size(); ++m) {
                if ((set & (1u << m)) == 0) continue;
                if (!values[set].empty()) values[set] += ", ";
                values[set] += method_names[m];
            }
        }
        return values;
    }();
    return table;
}
}  // namespace

std::string_view endpoint_allow_header(unsigned methods) noexcept {
    return allow_values()[methods % method_sets];
}

bool parse_endpoint_method(std::string_view text, endpoint_method& out) noexcept {
    // Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET, and is answered 405.
    for (unsigned m = 0; m < method_names.size(); ++m) {
        if (text == method_names[m]) {
            out = static_cast<endpoint_method>(m);
            return true;
        }
    }
    return false;
}

task<void> endpoint_method_not_allowed(scope& s, receive r, send sd, std::string_view allow) {
    tessera::headers allow_field{{"allow", allow}};
    if (s.extensions.contains<http_errors_handled>()) {
        throw http_error(status::method_not_allowed, {}, std::move(allow_field));
    }
    // Starlette's HTTPEndpoint without an exception layer: plain text, the reason phrase.
    plain_text_response answer("Method Not Allowed", status::method_not_allowed,
                                      std::move(allow_field));
    co_await std::move(answer)(s, r, sd);
}

}  // namespace tessera::detail
