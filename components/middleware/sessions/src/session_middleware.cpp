#include "tessera/session_middleware.hpp"

#include <stdexcept>
#include <utility>
#include <variant>

#include "tessera/cookies.hpp"
#include "tessera/headers.hpp"
#include "tessera/ws/utf8.hpp"

namespace tessera {

namespace {
class connection_view final : public http_connection {
public:
    explicit connection_view(tessera::scope& s) noexcept : http_connection(s) {}
};

bool is_same_site_value(std::string_view value) noexcept {
    return iequals(value, "lax") || iequals(value, "strict") || iequals(value, "none");
}
}  // namespace

std::string encode_session_cookie(const json& object, const timestamp_signer& signer,
                                  std::int64_t timestamp) {
    std::string text = object.dump();
    // The writer copies string bytes as they are; the next request's parser would refuse the
    // cookie and the whole session would be gone without a word. Refused here instead.
    if (!ws::is_valid_utf8(text)) {
        throw std::invalid_argument("session: a key or string value is not valid UTF-8");
    }
    return signer.sign(base64url_encode(text), timestamp);
}

std::optional<json> decode_session_cookie(std::string_view value, const timestamp_signer& signer,
                                          std::optional<std::chrono::seconds> max_age,
                                          std::int64_t now) {
    // Bounded before any work: a browser never stores a cookie this large, so it is not ours.
    if (value.size() > session_middleware::max_cookie_value_size) return std::nullopt;
    const auto payload = signer.unsign(value, max_age, now);
    if (!payload) return std::nullopt;
    const auto text = base64url_decode(*payload);
    if (!text) return std::nullopt;
    try {
        json parsed = parse_json(std::string_view(*text));
        if (!parsed.is_object()) return std::nullopt;
        return parsed;
    } catch (const json_error&) {
        // Signed by us yet not JSON: only a secret shared with something else writes that.
        return std::nullopt;
    }
}

// Hands the inner app a `send` that adds the session's cookie to the response head. Returns
// the downstream task itself, so wrapping costs no coroutine frame.
struct session_middleware::saving_send {
    send downstream;
    const compiled* state;
    scope* s;
    bool loaded_non_empty;

    task<void> operator()(event e) const {
        if (auto* start = std::get_if<http::response_start>(&e)) {
            if (const auto* data = s->extensions.find<session_data>()) add_headers(*start, *data);
        }
        return downstream(std::move(e));
    }

    void add_headers(http::response_start& start, const session_data& data) const {
        if (data.accessed()) start.headers.add_vary("Cookie");
        const std::string& name = state->options.session_cookie;
        // As current Starlette: only a changed session is written. An unchanged one keeps
        // the cookie the browser has, so its max_age counts from the last change, and a
        // request that only reads the session costs no signing and no Set-Cookie.
        if (!data.modified()) return;
        if (!data.empty()) {
            std::string value = name;
            value.push_back('=');
            value += encode_session_cookie(data.data(), state->signer, timestamp_signer::now());
            value += state->set_cookie_suffix;
            start.headers.append("set-cookie", value);
        } else if (loaded_non_empty) {
            start.headers.append("set-cookie", state->delete_cookie);
        }
    }
};

session_middleware::session_middleware(construct, any_app inner, session_options options)
    : inner_(std::move(inner)) {
    if (!inner_) throw std::invalid_argument("session_middleware: no inner app");
    if (options.secret_key.empty()) {
        throw std::invalid_argument("session_middleware: the secret key is empty");
    }
    if (options.max_age && options.max_age->count() <= 0) {
        throw std::invalid_argument("session_middleware: max_age must be positive (or absent)");
    }
    if (!is_same_site_value(options.same_site)) {
        throw std::invalid_argument("session_middleware: same_site must be lax, strict or none, not '" +
                                    options.same_site + "'");
    }
    std::string suffix;
    std::string deletion;
    try {
        // Formatting a cookie once validates the name, path and domain, and gives the attributes
        // every Set-Cookie repeats.
        cookie_options attributes;
        if (options.max_age) attributes.max_age = options.max_age->count();
        attributes.path = options.path;
        attributes.domain = options.domain;
        attributes.secure = options.https_only;
        attributes.httponly = true;
        attributes.samesite = options.same_site;
        const std::string sample = set_cookie_header_value(options.session_cookie, "x", attributes);
        suffix = sample.substr(options.session_cookie.size() + 2);
        std::optional<std::string_view> domain;
        if (options.domain) domain = *options.domain;
        deletion = delete_cookie_header_value(options.session_cookie, options.path, domain,
                                              options.https_only, true, options.same_site);
    } catch (const std::invalid_argument& error) {
        throw std::invalid_argument(std::string("session_middleware: ") + error.what());
    }
    timestamp_signer signer(options.secret_key);
    state_ = std::make_shared<const compiled>(compiled{std::move(options), signer,
                                                       std::move(suffix), std::move(deletion)});
}

task<void> session_middleware::operator()(scope& s, receive r, send sd) const {
    if (s.type != scope_type::http && s.type != scope_type::websocket) {
        co_await inner_(s, r, sd);
        co_return;
    }
    std::optional<json> loaded;
    {
        const connection_view conn(s);
        if (const auto cookie = conn.cookie(state_->options.session_cookie)) {
            loaded = decode_session_cookie(*cookie, state_->signer, state_->options.max_age,
                                           timestamp_signer::now());
        }
    }
    const bool loaded_non_empty = loaded && !loaded->as_object().empty();
    if (loaded) {
        s.extensions.set(session_data(std::move(*loaded)));
    } else {
        s.extensions.set(session_data());
    }
    if (s.type == scope_type::websocket) {
        // As Starlette: no cookie is written for a WebSocket (the handshake's answer belongs to
        // the app's accept), so a session changed here lives only as long as the connection.
        co_await inner_(s, r, sd);
        co_return;
    }
    saving_send saving{sd, state_.get(), &s, loaded_non_empty};
    const send wrapped(saving);
    co_await inner_(s, r, wrapped);
}

}  // namespace tessera
