#include "tessera/base_route.hpp"

#include "not_found.hpp"
#include "tessera/http_error.hpp"
#include "tessera/response.hpp"

namespace tessera {

std::string_view route_path_of(const scope& s) noexcept {
    const std::string_view path = s.path;
    const std::string_view root = s.root_path;
    if (root.empty() || !path.starts_with(root)) return path;
    if (path.size() == root.size()) return {};
    // "/apiary" is not under "/api": the root must end at a segment boundary.
    if (path[root.size()] == '/') return path.substr(root.size());
    return path;
}

namespace detail {

std::string param_names(const path_params& params) {
    std::string out;
    for (const auto& [key, value] : params) {
        if (!out.empty()) out += ", ";
        out += key;
    }
    return out;
}

void throw_no_match(std::string_view name, const path_params& params,
                    const reverse_notes& notes) {
    std::string details;
    for (const auto& line : notes.lines) {
        if (!details.empty()) details += " ";
        details += line;
    }
    if (details.empty()) details = "No route or mount has that name.";
    throw no_match_found(std::string(name), param_names(params), details);
}

task<void> answer_not_found(scope& s, receive r, send sd) {
    if (s.type == scope_type::websocket) {
        // Closing before accept is how an ASGI app refuses a WebSocket; transports answer 403.
        event close{websocket::close{1000}};
        co_await sd(std::move(close));
        co_return;
    }
    if (s.type != scope_type::http) co_return;
    if (s.extensions.contains<http_errors_handled>()) throw http_error(404);
    plain_text_response answer("Not Found", 404);
    co_await std::move(answer)(s, r, sd);
}

}  // namespace detail

void base_route::enter(scope& s, std::string_view /*route_path*/, const route_match& found) const {
    pattern_.convert(found.captures, s.path_params);
    s.extensions.set(matched_route{this});
}

task<void> base_route::operator()(scope& s, receive r, send sd) const {
    if (s.type == scope_type::lifespan) co_return;
    const std::string_view path = route_path_of(s);
    route_match found;
    if (match(s, path, found) == match_kind::none) {
        co_await detail::answer_not_found(s, r, sd);
        co_return;
    }
    enter(s, path, found);
    co_await handle(s, r, sd);
}

url_path base_route::url_path_for(std::string_view name, const path_params& params) const {
    detail::reverse_notes notes;
    if (auto found = reverse(name, params, notes)) return std::move(*found);
    detail::throw_no_match(name, params, notes);
}

}  // namespace tessera
