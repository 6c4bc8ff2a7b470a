#pragma once
/// Proxy headers: X-Forwarded-For/-Proto/-Host and RFC 7239 `Forwarded`, from trusted peers only.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/scope.hpp"

namespace tessera {

/// The peers whose proxy headers are believed: IPv4/IPv6 addresses, CIDR ranges
/// ("10.0.0.0/8", "fd00::/8") or "*" for everyone. Built once (throws std::invalid_argument on a
/// malformed entry), then only read, so workers share it.
///
/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`, how a dual-stack listener reports IPv4 peers)
/// are the IPv4 addresses they carry, on both sides: such a peer matches "127.0.0.1" or
/// "127.0.0.0/8", and an entry "::ffff:10.0.0.0/104" is the range 10.0.0.0/8.
class proxy_trust {
public:
    proxy_trust() = default;
    explicit proxy_trust(const std::vector<std::string>& entries);
    /// True when `host` (an IP address in text form) is trusted.
    [[nodiscard]] bool trusts(std::string_view host) const noexcept;
    /// True when the list holds "*": peers without an IP address (Unix sockets) are trusted too.
    [[nodiscard]] bool trusts_everyone() const noexcept { return everyone_; }

private:
    struct network {
        std::array<std::uint8_t, 16> bytes{};
        bool v6 = false;
        int prefix = 0;
    };
    bool everyone_ = false;
    std::vector<network> networks_;
};

/// When the scope's client is trusted (a scope without a client, as on a Unix socket, only when
/// everyone is), rewrites the scope from the proxy headers: `client` from the nearest untrusted hop
/// of `Forwarded: for=` or `X-Forwarded-For` (the leftmost if every hop is trusted), `scheme` from
/// `proto=` / `X-Forwarded-Proto` (http/https, ws/wss for WebSockets), the `host` header from
/// `host=` / `X-Forwarded-Host` (the last item of each list, and only a value made of Host
/// characters: `http1::is_host_value`). Several lines of one field are one comma-joined list (RFC
/// 9110 §5.3), so a proxy that appends its own line after the client's is the one believed;
/// delimiters inside a `Forwarded` quoted string do not split it, and a node without a host leaves
/// the peer as the client. `Forwarded` wins over the X-Forwarded-* family when both are present.
/// Untrusted peers' headers are left alone.
void apply_proxy_headers(const proxy_trust& trust, scope& s);

}  // namespace tessera
