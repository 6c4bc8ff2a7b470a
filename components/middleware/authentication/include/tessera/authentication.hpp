#pragma once
/// Authentication types (Starlette's `starlette.authentication`): credentials, users, the
/// backend interface the authentication middleware calls, its error, and the accessors that
/// read what the middleware left in the scope.

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/http_connection.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// What an authenticated connection may do: a set of scope names such as `"authenticated"` or
/// `"admin"` (Starlette's `AuthCredentials`). Duplicates are harmless.
struct auth_credentials {
    std::vector<std::string> scopes;

    auth_credentials() = default;
    explicit auth_credentials(std::vector<std::string> granted) : scopes(std::move(granted)) {}

    /// Whether `scope` was granted.
    [[nodiscard]] bool has(std::string_view scope) const noexcept;
    /// Whether every one of `required` was granted (an empty list: true).
    [[nodiscard]] bool has_all(const std::vector<std::string>& required) const noexcept;
};

/// Who is on the other end (Starlette's `BaseUser`). Applications derive their own user types
/// and read them back with `user_as<T>`. Users are shared immutable objects
/// (`std::shared_ptr<const base_user>`), so they must be safe to read from any thread.
class base_user {
public:
    virtual ~base_user() = default;
    [[nodiscard]] virtual bool is_authenticated() const noexcept = 0;
    /// A name to show, e.g. in a greeting; empty for the anonymous user.
    [[nodiscard]] virtual std::string display_name() const = 0;
    /// A stable identifier (a user id); by default the display name.
    [[nodiscard]] virtual std::string identity() const { return display_name(); }
};

/// An authenticated user known by a name (Starlette's `SimpleUser`).
class simple_user : public base_user {
public:
    explicit simple_user(std::string username) : username_(std::move(username)) {}
    [[nodiscard]] bool is_authenticated() const noexcept override { return true; }
    [[nodiscard]] std::string display_name() const override { return username_; }
    [[nodiscard]] const std::string& username() const noexcept { return username_; }

private:
    std::string username_;
};

/// The anonymous user, for connections the backend did not authenticate (Starlette's
/// `UnauthenticatedUser`).
class unauthenticated_user : public base_user {
public:
    [[nodiscard]] bool is_authenticated() const noexcept override { return false; }
    [[nodiscard]] std::string display_name() const override { return {}; }
};

/// What a backend returns for an authenticated connection: its credentials and its user (which
/// must not be null).
struct auth_result {
    auth_credentials credentials;
    std::shared_ptr<const base_user> user;

    auth_result() = default;
    auth_result(auth_credentials granted, std::shared_ptr<const base_user> who)
        : credentials(std::move(granted)), user(std::move(who)) {}
};

/// Thrown by a backend for credentials that are present but wrong (a malformed or forged
/// token): the middleware answers with its `on_error` response (HTTP) or closes the WebSocket
/// (Starlette's `AuthenticationError`). Missing credentials are not an error: return nullopt.
class auth_error : public std::runtime_error {
public:
    explicit auth_error(const std::string& message) : std::runtime_error(message) {}
    explicit auth_error(const char* message) : std::runtime_error(message) {}
};

/// How credentials are checked (Starlette's `AuthenticationBackend`): called once per HTTP
/// request or WebSocket connection with a view of its scope (headers, cookies, query, client).
/// Returns the result for an authenticated connection, nullopt for an anonymous one, or throws
/// `auth_error`. Shared by every request and possibly called concurrently from several loops:
/// keep it immutable (or synchronised). It must not read the request body.
///
///     struct token_backend final : authentication_backend {
///         task<std::optional<auth_result>> authenticate(http_connection& conn) const override {
///             const auto token = conn.headers().get("authorization");
///             if (!token) co_return std::nullopt;
///             if (*token != "Bearer secret") throw auth_error("invalid token");
///             co_return auth_result(auth_credentials({"authenticated"}),
///                                   std::make_shared<simple_user>("alice"));
///         }
///     };
class authentication_backend {
public:
    virtual ~authentication_backend() = default;
    [[nodiscard]] virtual task<std::optional<auth_result>> authenticate(
        http_connection& conn) const = 0;
};

/// The typed slot the middleware fills with the user (the credentials are stored as an
/// `auth_credentials` slot). Read them with `auth()` and `user()`.
struct authenticated_user {
    std::shared_ptr<const base_user> user;
};

/// The connection's credentials (Starlette's `request.auth`); std::logic_error when no
/// authentication middleware handled this scope. Valid for the life of the scope.
[[nodiscard]] const auth_credentials& auth(const http_connection& conn);
/// The connection's user (Starlette's `request.user`): the backend's, or an
/// `unauthenticated_user`. std::logic_error when no authentication middleware handled this
/// scope. Valid for the life of the scope.
[[nodiscard]] const base_user& user(const http_connection& conn);
/// The user as an application type `T` (derived from `base_user`), or null when it is another
/// type; std::logic_error as for `user`.
template <class T>
[[nodiscard]] const T* user_as(const http_connection& conn) {
    return dynamic_cast<const T*>(&user(conn));
}
/// Whether the connection was granted every scope in `required` (Starlette's
/// `has_required_scope`); std::logic_error as for `auth`.
[[nodiscard]] bool has_required_scopes(const http_connection& conn,
                                       const std::vector<std::string>& required);

}  // namespace tessera
