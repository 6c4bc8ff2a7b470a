// Helpers shared by the authentication tests: a token backend and an application user type.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "tessera/authentication.hpp"
#include "tessera/authentication_middleware.hpp"
#include "tessera/request.hpp"
#include "tessera/response.hpp"
#include "tessera/testing/test_client.hpp"
#include "tessera/websocket_connection.hpp"

namespace tessera::test_auth {

// A user type of the application's own, to read back with user_as.
class staff_user final : public simple_user {
public:
    staff_user(std::string name, int id) : simple_user(std::move(name)), id_(id) {}
    [[nodiscard]] std::string identity() const override { return std::to_string(id_); }

private:
    int id_;
};

// `Authorization: Bearer <name>[:<scope>,<scope>...]` (or `?token=` for WebSockets, whose
// browsers cannot set headers). No token: anonymous. "Bearer" with anything else malformed, or
// a name "forged": auth_error.
struct token_backend final : authentication_backend {
    task<std::optional<auth_result>> authenticate(http_connection& conn) const override {
        std::string token;
        if (const auto header = conn.headers().get("authorization")) {
            if (!header->starts_with("Bearer ") || header->size() == 7) {
                throw auth_error("Invalid basic auth credentials");
            }
            token = std::string(header->substr(7));
        } else if (const auto query = conn.query_params().get("token")) {
            token = std::string(*query);
        } else {
            co_return std::nullopt;
        }
        const auto colon = token.find(':');
        const std::string name = token.substr(0, colon);
        if (name == "forged") throw auth_error("forged token");
        std::vector<std::string> scopes{"authenticated"};
        if (colon != std::string::npos) {
            std::string rest = token.substr(colon + 1);
            std::size_t start = 0;
            while (start <= rest.size()) {
                const auto comma = rest.find(',', start);
                scopes.push_back(rest.substr(start, comma - start));
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
        }
        std::shared_ptr<const base_user> who;
        if (name == "staff") {
            who = std::make_shared<const staff_user>(name, 42);
        } else {
            who = std::make_shared<const simple_user>(name);
        }
        co_return auth_result(auth_credentials(std::move(scopes)), std::move(who));
    }
};

inline authentication_options token_auth() {
    return authentication_options{.backend = std::make_shared<const token_backend>()};
}

inline std::string describe(const http_connection& conn) {
    std::string text = user(conn).is_authenticated() ? "yes" : "no";
    text += "|" + user(conn).display_name() + "|";
    for (const auto& granted : auth(conn).scopes) text += granted + ",";
    return text;
}

// HTTP: answers `describe`; WebSocket: accepts and sends it.
inline task<void> whoami(scope& s, receive r, send sd) {
    if (s.type == scope_type::websocket) {
        websocket_connection ws(s, r, sd);
        co_await ws.accept();
        co_await ws.send_text(describe(ws));
        co_return;
    }
    const request req(s, r);
    const plain_text_response answer(describe(req));
    co_await answer(s, r, sd);
}

inline testing::test_response get_as(testing::test_client& client, std::string_view token,
                              std::string_view target = "/") {
    return client.get(target, {.headers = {{"authorization", token}}});
}

}  // namespace tessera::test_auth
