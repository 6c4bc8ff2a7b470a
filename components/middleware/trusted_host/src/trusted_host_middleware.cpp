#include "tessera/trusted_host_middleware.hpp"

#include <stdexcept>
#include <utility>

#include "tessera/headers.hpp"
#include "tessera/request.hpp"
#include "tessera/response.hpp"

namespace tessera {

namespace {
bool all_digits(std::string_view text) noexcept {
    for (const char c : text) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

bool ends_with_ignoring_case(std::string_view text, std::string_view suffix) noexcept {
    return text.size() >= suffix.size() && iequals(text.substr(text.size() - suffix.size()), suffix);
}

}  // namespace

std::optional<std::string_view> host_without_port(std::string_view host_header) noexcept {
    std::string_view host = host_header;
    std::string_view rest;
    if (!host_header.empty() && host_header.front() == '[') {
        const auto close = host_header.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = host_header.substr(1, close - 1);
        rest = host_header.substr(close + 1);
        if (!rest.empty() && rest.front() != ':') return std::nullopt;
    } else if (const auto colon = host_header.find(':'); colon != std::string_view::npos) {
        host = host_header.substr(0, colon);
        rest = host_header.substr(colon);
    }
    if (!rest.empty()) {
        const std::string_view port = rest.substr(1);  // after ':'; empty is allowed (RFC 3986)
        if (port.size() > 5 || !all_digits(port)) return std::nullopt;
    }
    return host;
}

trusted_host_middleware::trusted_host_middleware(construct, any_app inner,
                                                 trusted_host_options options)
    : inner_(std::move(inner)) {
    if (!inner_) throw std::invalid_argument("trusted_host_middleware: no inner app");
    auto state = std::make_shared<compiled>();
    for (const std::string& text : options.allowed_hosts) {
        if (text.empty()) {
            throw std::invalid_argument("trusted_host_middleware: an allowed host is empty");
        }
        if (text == "*") {
            state->allow_any = true;
            continue;
        }
        const bool wildcard = text.front() == '*';
        if (text.find('*', 1) != std::string::npos || (wildcard && text.rfind("*.", 0) != 0) ||
            (wildcard && text.size() == 2)) {
            throw std::invalid_argument("trusted_host_middleware: '" + text +
                                        "': domain wildcard patterns must be like "
                                        "'*.example.com'");
        }
        std::string_view host = wildcard ? std::string_view(text).substr(1) : std::string_view(text);
        // `[::1]` and `::1` both name the IPv6 literal the Host header carries bracketed.
        if (!wildcard && host.size() >= 2 && host.front() == '[' && host.back() == ']') {
            host = host.substr(1, host.size() - 2);
        }
        state->patterns.push_back(pattern{to_lower_ascii(host), wildcard});
    }
    state->options = std::move(options);
    state_ = std::move(state);
}

trusted_host_middleware::verdict trusted_host_middleware::check(
    std::optional<std::string_view> host_header) const noexcept {
    if (state_->allow_any) return verdict::allow;
    if (!host_header) return verdict::reject;
    const auto host = host_without_port(*host_header);
    if (!host || host->empty()) return verdict::reject;
    constexpr std::string_view www = "www.";
    bool www_variant_allowed = false;
    for (const pattern& p : state_->patterns) {
        if (p.wildcard ? ends_with_ignoring_case(*host, p.text) : iequals(*host, p.text)) {
            return verdict::allow;
        }
        // Only an exact `www.` + host pattern offers the redirect, as in Starlette.
        if (!p.wildcard && p.text.size() == www.size() + host->size() &&
            std::string_view(p.text).substr(0, www.size()) == www &&
            iequals(std::string_view(p.text).substr(www.size()), *host)) {
            www_variant_allowed = true;
        }
    }
    return www_variant_allowed && state_->options.www_redirect ? verdict::redirect_to_www
                                                               : verdict::reject;
}

task<void> trusted_host_middleware::operator()(scope& s, receive r, send sd) const {
    if (s.type != scope_type::http && s.type != scope_type::websocket) {
        co_await inner_(s, r, sd);
        co_return;
    }
    const verdict decided = check(s.headers.get("host"));
    if (decided == verdict::allow) {
        co_await inner_(s, r, sd);
        co_return;
    }
    std::optional<response> answer;
    if (decided == verdict::redirect_to_www) {
        try {
            const request req(s, r);
            const tessera::url& here = req.url();
            url::components changes;
            changes.netloc = "www." + std::string(here.netloc());
            answer.emplace(redirect_response(here.replace(changes).str()));
        } catch (const std::invalid_argument&) {
            // A port beyond 65535 passes the digit check but makes no URL: still a bad host.
        }
    }
    if (!answer) answer.emplace(plain_text_response("Invalid host header", 400));
    co_await (*answer)(s, r, sd);  // on a WebSocket scope, a denial response
}

}  // namespace tessera
