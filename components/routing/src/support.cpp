#include "support.hpp"

#include <stdexcept>

#include "tessera/percent.hpp"

namespace tessera::detail {

path_pattern compile_route_path(std::string_view kind, const std::string& path,
                                const std::vector<path_convertor>& convertors) {
    if (!path.starts_with('/')) {
        throw std::invalid_argument(std::string(kind) + " \"" + path +
                                    "\": routed paths must start with '/'");
    }
    return path_pattern(path, path_pattern::kind::path, convertors);
}

std::string quote_path(std::string_view text) {
    std::string out;
    quote_append(out, text, "/:@!$&'()*+,;=", false);
    return out;
}

std::optional<std::string> path_param_text(const path_value& value, const std::string& owner,
                                           reverse_notes& notes) {
    if (const auto* text = std::get_if<std::string>(&value)) return *text;
    notes.add(owner + ": param \"path\" must be a string.");
    return std::nullopt;
}

std::string pattern_params(const path_pattern& pattern) {
    std::string out;
    for (const auto& name : pattern.param_names()) {
        if (!out.empty()) out += ", ";
        out += name;
    }
    return out;
}

std::optional<std::string> format_exact(const base_route& route, const path_params& params,
                                        reverse_notes& notes) {
    const auto& pattern = route.pattern();
    bool exact = true;
    for (const auto& [key, value] : params) exact = exact && pattern.has_param(key);
    for (const auto& name : pattern.param_names()) exact = exact && params.contains(name);
    const std::string label = "Route \"" + route.name() + "\" (" + route.path() + ")";
    if (!exact) {
        notes.add(label + " takes params \"" + pattern_params(pattern) + "\".");
        return std::nullopt;
    }
    std::string why;
    auto path = pattern.format(params, &why);
    if (!path) notes.add(label + ": " + why + ".");
    return path;
}

}  // namespace tessera::detail
