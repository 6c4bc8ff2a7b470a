#include "tessera/mount.hpp"

#include <stdexcept>

#include "support.hpp"

namespace tessera {

namespace {

path_pattern compile_prefix(std::string path, const std::vector<path_convertor>& convertors) {
    if (!path.empty() && !path.starts_with('/')) {
        throw std::invalid_argument("mount \"" + path + "\": routed paths must start with '/'");
    }
    const std::string given = path;
    // "/users/" and "/users" are the same mount; "/" and "" mount at the root.
    while (path.ends_with('/')) path.pop_back();
    path_pattern pattern(path, path_pattern::kind::path, convertors);
    if (pattern.has_param("path")) {
        throw std::invalid_argument("mount \"" + given +
                                    "\": the param name \"path\" is reserved for the rest of "
                                    "the path");
    }
    return pattern;
}

}  // namespace

mount::mount(std::string path, std::vector<any_route> routes, any_app app,
             mount_options options)
    : base_route(std::move(options.name), compile_prefix(path, options.convertors)),
      routes_(std::move(routes)) {
    if (!app) throw std::invalid_argument("mount \"" + path + "\": no app");
    app_ = wrap_all(options.middleware, std::move(app));
}

mount::mount(std::string path, std::vector<any_route> routes, mount_options options)
    : mount(std::move(path), routes, any_app(router(routes)), std::move(options)) {}

match_kind mount::match(const scope& s, std::string_view route_path, route_match& found) const {
    if (s.type != scope_type::http && s.type != scope_type::websocket) return match_kind::none;
    const auto end = pattern().match_prefix(route_path, found.captures);
    if (!end) return match_kind::none;
    found.consumed = *end;
    return match_kind::full;
}

void mount::enter(scope& s, std::string_view route_path, const route_match& found) const {
    base_route::enter(s, route_path, found);
    // `route_path` views `s.path`, which stays as it is: only the root grows.
    s.root_path.append(route_path.substr(0, found.consumed));
}

task<void> mount::handle(scope& s, receive r, send sd) const { return app_(s, r, sd); }

std::optional<url_path> mount::reverse(std::string_view name, const path_params& params,
                                       detail::reverse_notes& notes) const {
    const std::string& mine = this->name();
    const std::string label = "Mount \"" + mine + "\" (" + path() + ")";
    std::string why;
    if (!mine.empty() && name == mine) {
        // The mounted app itself, at the `path` param.
        const auto* rest = params.find("path");
        path_params prefix_params;
        bool extra = false;
        for (const auto& [key, value] : params) {
            if (key == "path") continue;
            if (pattern().has_param(key)) {
                prefix_params.set(key, value);
            } else {
                extra = true;
            }
        }
        if (rest == nullptr || extra) {
            std::string expected = detail::pattern_params(pattern());
            expected += expected.empty() ? "path" : ", path";
            notes.add(label + " takes params \"" + expected + "\".");
            return std::nullopt;
        }
        auto rest_text = detail::path_param_text(*rest, label, notes);
        if (!rest_text) return std::nullopt;
        auto prefix = pattern().format(prefix_params, &why);
        if (!prefix) {
            notes.add(label + ": " + why + ".");
            return std::nullopt;
        }
        std::string_view tail = *rest_text;
        while (tail.starts_with('/')) tail.remove_prefix(1);
        return url_path{*prefix + "/" + detail::quote_path(tail), {}, {}};
    }
    const bool under_name = !mine.empty() && name.size() > mine.size() &&
                            name.starts_with(mine) && name[mine.size()] == ':';
    if (!mine.empty() && !under_name) return std::nullopt;
    if (routes_.empty()) {
        if (under_name) {
            notes.add(label + " holds no routes: name the mount itself, with a \"path\" param.");
        }
        return std::nullopt;
    }
    const auto child_name = mine.empty() ? name : name.substr(mine.size() + 1);
    path_params prefix_params;
    path_params child_params;
    for (const auto& [key, value] : params) {
        (pattern().has_param(key) ? prefix_params : child_params).set(key, value);
    }
    for (const auto& child : routes_) {
        auto found = child->reverse(child_name, child_params, notes);
        if (!found) continue;
        auto prefix = pattern().format(prefix_params, &why);
        if (!prefix) {
            notes.add(label + ": " + why + ".");
            return std::nullopt;
        }
        while (prefix->ends_with('/')) prefix->pop_back();
        found->path.insert(0, *prefix);
        return found;
    }
    return std::nullopt;
}

}  // namespace tessera
