#include "tessera/requires_scopes.hpp"

#include <stdexcept>
#include <string>
#include <utility>

#include "tessera/authentication.hpp"
#include "tessera/http_error.hpp"
#include "tessera/percent.hpp"
#include "tessera/request.hpp"
#include "tessera/response.hpp"
#include "tessera/status.hpp"

namespace tessera {

namespace {
class connection_view final : public http_connection {
public:
    explicit connection_view(tessera::scope& s) noexcept : http_connection(s) {}
};
}  // namespace

requires_scopes::requires_scopes(construct, any_app inner, requires_options options)
    : inner_(std::move(inner)) {
    if (!inner_) throw std::invalid_argument("requires_scopes: nothing to guard");
    if (options.status_code < 400 || options.status_code > 599) {
        throw std::invalid_argument("requires_scopes: status_code " +
                                    std::to_string(options.status_code) +
                                    " is not an error status (400..599)");
    }
    options_ = std::make_shared<const requires_options>(std::move(options));
}

task<void> requires_scopes::operator()(scope& s, receive r, send sd) const {
    if (s.type != scope_type::http && s.type != scope_type::websocket) {
        co_await inner_(s, r, sd);
        co_return;
    }
    bool granted = false;
    {
        const connection_view conn(s);
        granted = has_required_scopes(conn, options_->scopes);
    }
    if (granted) {
        co_await inner_(s, r, sd);
    } else if (s.type == scope_type::websocket) {
        // Starlette's `websocket.close()`: 1000 before the accept refuses the handshake (403).
        event close{websocket::close{1000}};
        co_await sd(std::move(close));
    } else {
        co_await refuse_http(s, r, sd);
    }
}

task<void> requires_scopes::refuse_http(scope& s, receive r, send sd) const {
    if (!options_->redirect.empty()) {
        // Starlette: `url_for(redirect)?next=<this URL, urlencoded>`, with 303 See Other.
        std::string location;
        {
            const request req(s, r);
            location = req.url_for(options_->redirect).str();
            location += "?next=";
            location += quote_plus(req.url().str());
        }
        redirect_response answer(location, 303);
        co_await std::move(answer)(s, r, sd);
        co_return;
    }
    // Inside an exception layer the application's handlers shape the error, as Starlette's
    // HTTPException would be.
    if (s.extensions.contains<http_errors_handled>()) throw http_error(options_->status_code);
    plain_text_response answer(std::string(reason_phrase(options_->status_code)),
                                     options_->status_code);
    co_await std::move(answer)(s, r, sd);
}

}  // namespace tessera
