#pragma once
/// A network endpoint as it appears in a scope's `client` and `server` slots.

#include <cstdint>
#include <string>

namespace tessera {

/// A host (IPv4 dotted quad, IPv6 literal without brackets, or a name) and a port. A plain
/// value: it owns its host text.
struct address {
    std::string host;
    std::uint16_t port = 0;

    /// `host:port`, with an IPv6 host in brackets: `127.0.0.1:80`, `[::1]:80`.
    [[nodiscard]] std::string to_string() const;

    friend bool operator==(const address&, const address&) = default;
};

}  // namespace tessera
