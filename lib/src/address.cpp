#include "tessera/address.hpp"

namespace tessera {

std::string address::to_string() const {
    std::string port_text = std::to_string(port);
    // A colon can only come from an IPv6 literal; brackets keep its colons apart from the
    // port's. A host already in brackets is left as it is.
    const bool bracket = host.find(':') != std::string::npos && !host.starts_with('[');
    std::string out;
    out.reserve(host.size() + port_text.size() + 3);
    if (bracket) out += '[';
    out += host;
    if (bracket) out += ']';
    out += ':';
    out += port_text;
    return out;
}

}  // namespace tessera
