#include "tessera/detail/openssl_errors.hpp"

#include <openssl/err.h>

namespace tessera::detail {

std::string openssl_errors() {
    std::string text;
    while (const unsigned long code = ERR_get_error()) {
        char reason[256];
        ERR_error_string_n(code, reason, sizeof reason);
        if (!text.empty()) text += "; ";
        text += reason;
    }
    return text;
}

}  // namespace tessera::detail
