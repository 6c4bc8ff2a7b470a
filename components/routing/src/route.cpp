#include "tessera/route.hpp"

#include <algorithm>
#include <stdexcept>

#include "support.hpp"
#include "tessera/http_error.hpp"

namespace tessera {

namespace {

// RFC 9110 token characters: what a method name may be made of.
bool is_token(std::string_view text) noexcept {
    if (text.empty()) return false;
    for (const char c : text) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

}  // namespace

route::route(std::string path, any_app endpoint, bool is_handler, route_options options)
    : base_route(std::move(options.name),
                 detail::compile_route_path("route", path, options.convertors)) {
    if (options.methods.given()) {
        if (options.methods.names().empty()) {
            throw std::invalid_argument("route \"" + path +
                                        "\": an empty method list serves nothing (leave "
                                        "`methods` out for the default)");
        }
        for (const auto& given : options.methods.names()) {
            std::string method = given;
            for (auto& c : method) {
                if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
            }
            if (!is_token(method)) {
                throw std::invalid_argument("route \"" + path + "\": \"" + given +
                                            "\" is not an HTTP method");
            }
            if (std::find(methods_.begin(), methods_.end(), method) == methods_.end()) {
                methods_.push_back(std::move(method));
            }
        }
    } else if (is_handler) {
        methods_ = {"GET"};
    }
    // GET implies HEAD (listed right after it), as in Starlette.
    const auto get = std::find(methods_.begin(), methods_.end(), "GET");
    if (get != methods_.end() &&
        std::find(methods_.begin(), methods_.end(), "HEAD") == methods_.end()) {
        methods_.insert(get + 1, "HEAD");
    }
    for (const auto& method : methods_) {
        if (!allow_.empty()) allow_ += ", ";
        allow_ += method;
    }
    app_ = wrap_all(options.middleware, std::move(endpoint));
}

bool route::serves(std::string_view method) const noexcept {
    if (methods_.empty()) return true;
    for (const auto& served : methods_) {
        if (served == method) return true;
    }
    return false;
}

match_kind route::match(const scope& s, std::string_view route_path, route_match& found) const {
    if (s.type != scope_type::http || !pattern().match(route_path, found.captures)) {
        return match_kind::none;
    }
    return serves(s.method) ? match_kind::full : match_kind::partial;
}

task<void> route::handle(scope& s, receive r, send sd) const {
    if (!serves(s.method)) {
        tessera::headers allow{{"allow", allow_}};
        if (s.extensions.contains<http_errors_handled>()) {
            throw http_error(405, std::string(), std::move(allow));
        }
        plain_text_response answer("Method Not Allowed", 405, std::move(allow));
        co_await std::move(answer)(s, r, sd);
        co_return;
    }
    co_await app_(s, r, sd);
}

std::optional<url_path> route::reverse(std::string_view name, const path_params& params,
                                       detail::reverse_notes& notes) const {
    if (this->name().empty() || name != this->name()) return std::nullopt;
    auto path = detail::format_exact(*this, params, notes);
    if (!path) return std::nullopt;
    return url_path{std::move(*path), "http", {}};
}

}  // namespace tessera
