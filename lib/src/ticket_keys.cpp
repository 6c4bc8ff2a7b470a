#include "tessera/detail/ticket_keys.hpp"

#include "tessera/detail/openssl_errors.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <string>

namespace tessera::detail {

namespace {

ticket_key fresh_key() {
    ticket_key made{};
    if (RAND_bytes(made.name.data(), static_cast<int>(made.name.size())) != 1 ||
        RAND_bytes(made.cipher.data(), static_cast<int>(made.cipher.size())) != 1 ||
        RAND_bytes(made.mac.data(), static_cast<int>(made.mac.size())) != 1) {
        const std::string reason = openssl_errors();
        throw std::runtime_error("TLS: no randomness for session-ticket keys: " +
                                 (reason.empty() ? std::string("unknown") : reason));
    }
    return made;
}

void erase(ticket_key& key) noexcept { OPENSSL_cleanse(&key, sizeof key); }

void erase(std::optional<ticket_key>& key) noexcept {
    if (key) erase(*key);
    key.reset();
}

}  // namespace

ticket_keys::ticket_keys(std::chrono::seconds lifetime, clock::time_point now)
    : lifetime_(lifetime), current_(fresh_key()), made_(now) {}

ticket_keys::~ticket_keys() {
    erase(current_);
    erase(previous_);
}

const ticket_key& ticket_keys::current(clock::time_point now) {
    rotate_if_due(now);
    return current_;
}

ticket_keys::found ticket_keys::find(std::span<const unsigned char, 16> name,
                                     clock::time_point now) {
    rotate_if_due(now);
    // Constant time: the names are not secret, but the comparison costs nothing to harden.
    if (CRYPTO_memcmp(current_.name.data(), name.data(), name.size()) == 0) {
        return {&current_, false};
    }
    if (previous_ && CRYPTO_memcmp(previous_->name.data(), name.data(), name.size()) == 0) {
        return {&*previous_, true};
    }
    return {};
}

void ticket_keys::rotate(clock::time_point now) {
    ticket_key next = fresh_key();  // first, so that a failure leaves the keys as they were
    erase(previous_);
    previous_ = current_;
    current_ = next;
    erase(next);
    made_ = now;
}

void ticket_keys::rotate_if_due(clock::time_point now) {
    const auto age = now - made_;
    if (age < lifetime_) return;
    rotate(now);
    // After two lifetimes nothing the replaced key made can still resume either.
    if (age >= 2 * lifetime_) erase(previous_);
}

}  // namespace tessera::detail
