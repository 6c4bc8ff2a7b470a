#pragma once
// Helpers shared by the route kinds: compiling a routed path, reverse routing.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/base_route.hpp"

namespace tessera::detail {

// The template of a route or WebSocket route: it must start with '/' (std::invalid_argument
// naming `kind` and the path otherwise).
path_pattern compile_route_path(std::string_view kind, const std::string& path,
                                const std::vector<path_convertor>& convertors);

// The path of `route` with exactly `params` (each of its parameters, nothing else), or nullopt
// with a note saying what the route expected, or which value its convertor refused.
std::optional<std::string> format_exact(const base_route& route, const path_params& params,
                                        reverse_notes& notes);

// `text` percent-encoded where a path cannot hold it raw ('/', ':', '@' and the sub-delimiters
// are kept): a decoded path quoted back.
std::string quote_path(std::string_view text);

// The text of a `path` param given to a mount or host by name, or nullopt when it is not a
// string (with a note naming `owner`).
std::optional<std::string> path_param_text(const path_value& value, const std::string& owner,
                                           reverse_notes& notes);

// The names of `pattern`'s parameters as a note shows them: "id, slug".
std::string pattern_params(const path_pattern& pattern);

}  // namespace tessera::detail
