#include "tessera/http_connection.hpp"

#include <stdexcept>

#include "tessera/percent.hpp"

namespace tessera {

namespace {
// The path part of the URL: the bytes the client sent when the transport kept them, else the
// decoded path quoted back (in-memory callers may set only `path`).
std::string request_path_text(const scope& s) {
    if (!s.raw_path.empty()) return s.raw_path;
    return quote(s.path);
}
}  // namespace

const url& http_connection::url() const {
    if (!url_) {
        url_ = std::make_unique<const tessera::url>(
            tessera::url::from_parts(scope_->scheme, scope_->headers.get("host"), scope_->server,
                                     request_path_text(*scope_), scope_->query_string));
    }
    return *url_;
}

tessera::url http_connection::base_url() const {
    std::string root = quote(scope_->root_path);
    if (root.empty() || root.back() != '/') root.push_back('/');
    return tessera::url::from_parts(scope_->scheme, scope_->headers.get("host"), scope_->server,
                                    root, {});
}

tessera::url http_connection::url_for(std::string_view name,
                                      const tessera::path_params& params) const {
    const auto* hook = scope_->extensions.find<url_path_for_hook>();
    if (hook == nullptr) {
        throw std::logic_error("url_for(\"" + std::string(name) +
                               "\"): no router handled this request, so there are no routes "
                               "to build URLs from");
    }
    const url_path found = (*hook)(name, params);
    // The base is the root at which the router was reached, not this scope's root_path, which
    // mounts have grown since (the router's paths already include the mount prefixes).
    std::string root = quote(hook->app_root_path());
    if (root.empty() || root.back() != '/') root.push_back('/');
    const auto base = tessera::url::from_parts(scope_->scheme, scope_->headers.get("host"),
                                               scope_->server, root, {});
    return found.make_absolute_url(base);
}

const query_params& http_connection::query_params() const {
    if (!query_) query_.emplace(scope_->query_string);
    return *query_;
}

const cookie_list& http_connection::cookies() const {
    if (!cookies_) {
        cookies_.emplace();
        for (const auto& value : scope_->headers.get_all("cookie")) {
            auto parsed = parse_cookie_header(value);
            // Later headers win for a repeated name, like later pairs within one header.
            for (auto& [name, cookie_value] : parsed) {
                bool replaced = false;
                for (auto& existing : *cookies_) {
                    if (existing.first == name) {
                        existing.second = std::move(cookie_value);
                        replaced = true;
                        break;
                    }
                }
                if (!replaced) cookies_->emplace_back(std::move(name), std::move(cookie_value));
            }
        }
    }
    return *cookies_;
}

std::optional<std::string_view> http_connection::cookie(std::string_view name) const {
    return find_cookie(cookies(), name);
}

state& http_connection::app_state() const {
    if (!scope_->app_state) {
        throw std::logic_error("app_state: this app has no lifespan state");
    }
    return *scope_->app_state;
}

}  // namespace tessera
