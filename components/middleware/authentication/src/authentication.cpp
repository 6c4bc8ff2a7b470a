#include "tessera/authentication.hpp"

#include <algorithm>
#include <stdexcept>

namespace tessera {

bool auth_credentials::has(std::string_view scope) const noexcept {
    return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

bool auth_credentials::has_all(const std::vector<std::string>& required) const noexcept {
    // A handful of scopes on each side: scanning beats building a set per request.
    return std::all_of(required.begin(), required.end(),
                       [this](const std::string& scope) { return has(scope); });
}

namespace {
[[noreturn]] void not_installed(std::string_view what) {
    throw std::logic_error(std::string(what) +
                           ": no authentication_middleware handled this connection");
}
}  // namespace

const auth_credentials& auth(const http_connection& conn) {
    const auto* found = conn.scope().extensions.find<auth_credentials>();
    if (found == nullptr) not_installed("auth()");
    return *found;
}

const base_user& user(const http_connection& conn) {
    const auto* found = conn.scope().extensions.find<authenticated_user>();
    if (found == nullptr || !found->user) not_installed("user()");
    return *found->user;
}

bool has_required_scopes(const http_connection& conn, const std::vector<std::string>& required) {
    return auth(conn).has_all(required);
}

}  // namespace tessera
