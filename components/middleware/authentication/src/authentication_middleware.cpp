#include "tessera/authentication_middleware.hpp"

#include <optional>
#include <stdexcept>
#include <utility>

namespace tessera {

namespace {
// `http_connection` is a base meant for views; the backend gets a plain one (no body access,
// the same view for both scope types, as Starlette's HTTPConnection).
class connection_view final : public http_connection {
public:
    explicit connection_view(tessera::scope& s) noexcept : http_connection(s) {}
};

// Immutable, so one anonymous user serves every unauthenticated connection without allocating.
const std::shared_ptr<const base_user>& anonymous_user() {
    static const std::shared_ptr<const base_user> anonymous =
        std::make_shared<const unauthenticated_user>();
    return anonymous;
}
}  // namespace

response default_auth_error_response(http_connection& /*conn*/, const auth_error& error) {
    return plain_text_response(error.what(), 400);
}

authentication_middleware::authentication_middleware(construct, any_app inner,
                                                     authentication_options options)
    : inner_(std::move(inner)) {
    if (!inner_) throw std::invalid_argument("authentication_middleware: no inner app");
    if (!options.backend) throw std::invalid_argument("authentication_middleware: no backend");
    if (!options.on_error) options.on_error = &default_auth_error_response;
    options_ = std::make_shared<const authentication_options>(std::move(options));
}

task<void> authentication_middleware::operator()(scope& s, receive r, send sd) const {
    if (s.type != scope_type::http && s.type != scope_type::websocket) {
        co_await inner_(s, r, sd);
        co_return;
    }
    connection_view conn(s);
    std::optional<auth_result> result;
    std::optional<auth_error> failure;
    try {
        result = co_await options_->backend->authenticate(conn);
    } catch (const auth_error& error) {
        failure = error;
    }
    if (failure) {
        if (s.type == scope_type::websocket) {
            // Starlette closes with 1000 before accepting: the handshake is refused (403).
            event close{websocket::close{1000}};
            co_await sd(std::move(close));
        } else {
            response answer = options_->on_error(conn, *failure);
            co_await std::move(answer)(s, r, sd);
        }
        co_return;
    }
    if (result) {
        if (!result->user) {
            throw std::logic_error("authentication_backend returned an auth_result without a user");
        }
        s.extensions.set(std::move(result->credentials));
        s.extensions.set(authenticated_user{std::move(result->user)});
    } else {
        s.extensions.set(auth_credentials{});
        s.extensions.set(authenticated_user{anonymous_user()});
    }
    co_await inner_(s, r, sd);
}

}  // namespace tessera
