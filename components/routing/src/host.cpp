#include "tessera/host.hpp"

#include <stdexcept>

#include "support.hpp"

namespace tessera {

namespace {

// The host name of a Host header value: without the port, brackets kept for IPv6 literals.
std::string_view host_name(std::string_view value) noexcept {
    if (value.starts_with('[')) {
        const auto close = value.find(']');
        return close == std::string_view::npos ? value : value.substr(0, close + 1);
    }
    return value.substr(0, value.find(':'));
}

}  // namespace

host::host(std::string pattern, std::vector<any_route> routes, any_app app, host_options options)
    : base_route(std::move(options.name),
                 path_pattern(pattern, path_pattern::kind::host, options.convertors)),
      routes_(std::move(routes)) {
    if (!app) throw std::invalid_argument("host \"" + pattern + "\": no app");
    app_ = wrap_all(options.middleware, std::move(app));
}

host::host(std::string pattern, std::vector<any_route> routes, host_options options)
    : host(std::move(pattern), routes, any_app(router(routes)), std::move(options)) {}

match_kind host::match(const scope& s, std::string_view /*route_path*/,
                       route_match& found) const {
    if (s.type != scope_type::http && s.type != scope_type::websocket) return match_kind::none;
    const auto name = host_name(s.headers.get_or("host"));
    return pattern().match(name, found.captures) ? match_kind::full : match_kind::none;
}

task<void> host::handle(scope& s, receive r, send sd) const { return app_(s, r, sd); }

std::optional<url_path> host::reverse(std::string_view name, const path_params& params,
                                      detail::reverse_notes& notes) const {
    const std::string& mine = this->name();
    const std::string label = "Host \"" + mine + "\" (" + path() + ")";
    std::string why;
    path_params host_params;
    path_params child_params;
    for (const auto& [key, value] : params) {
        (pattern().has_param(key) ? host_params : child_params).set(key, value);
    }
    if (!mine.empty() && name == mine) {
        // The app itself, at the `path` param.
        const auto* rest = child_params.find("path");
        if (rest == nullptr || child_params.size() != 1) {
            std::string expected = detail::pattern_params(pattern());
            expected += expected.empty() ? "path" : ", path";
            notes.add(label + " takes params \"" + expected + "\".");
            return std::nullopt;
        }
        auto rest_text = detail::path_param_text(*rest, label, notes);
        if (!rest_text) return std::nullopt;
        auto formatted = pattern().format(host_params, &why);
        if (!formatted) {
            notes.add(label + ": " + why + ".");
            return std::nullopt;
        }
        std::string path = detail::quote_path(*rest_text);
        if (!path.starts_with('/')) path = "/" + path;
        return url_path{std::move(path), {}, std::move(*formatted)};
    }
    const bool under_name = !mine.empty() && name.size() > mine.size() &&
                            name.starts_with(mine) && name[mine.size()] == ':';
    if (!mine.empty() && !under_name) return std::nullopt;
    if (routes_.empty()) {
        if (under_name) {
            notes.add(label + " holds no routes: name the host itself, with a \"path\" param.");
        }
        return std::nullopt;
    }
    const auto child_name = mine.empty() ? name : name.substr(mine.size() + 1);
    for (const auto& child : routes_) {
        auto found = child->reverse(child_name, child_params, notes);
        if (!found) continue;
        auto formatted = pattern().format(host_params, &why);
        if (!formatted) {
            notes.add(label + ": " + why + ".");
            return std::nullopt;
        }
        found->host = std::move(*formatted);
        return found;
    }
    return std::nullopt;
}

}  // namespace tessera
