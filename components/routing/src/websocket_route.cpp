#include "tessera/websocket_route.hpp"

#include <stdexcept>

#include "support.hpp"

namespace tessera {

websocket_route::websocket_route(construct, std::string path, any_app app,
                                 websocket_route_options options)
    : base_route(std::move(options.name),
                 detail::compile_route_path("websocket_route", path, options.convertors)) {
    if (!app) throw std::invalid_argument("websocket_route \"" + path + "\": no app");
    app_ = wrap_all(options.middleware, std::move(app));
}

match_kind websocket_route::match(const scope& s, std::string_view route_path,
                                  route_match& found) const {
    if (s.type != scope_type::websocket || !pattern().match(route_path, found.captures)) {
        return match_kind::none;
    }
    return match_kind::full;
}

task<void> websocket_route::handle(scope& s, receive r, send sd) const {
    return app_(s, r, sd);
}

std::optional<url_path> websocket_route::reverse(std::string_view name,
                                                 const path_params& params,
                                                 detail::reverse_notes& notes) const {
    if (this->name().empty() || name != this->name()) return std::nullopt;
    auto path = detail::format_exact(*this, params, notes);
    if (!path) return std::nullopt;
    return url_path{std::move(*path), "websocket", {}};
}

}  // namespace tessera
