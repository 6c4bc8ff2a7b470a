#pragma once
/// The keys that encrypt TLS session tickets (`tls_options::session_tickets`): the current key,
/// for new tickets, and the previous one, kept to read the tickets it made, replaced as time
/// passes. `tls_context` uses it under a lock from every worker's handshakes; the time is a
/// parameter so that the rotation can be tested without waiting.

#include <array>
#include <chrono>
#include <optional>
#include <span>

namespace tessera::detail {

/// One ticket key: the name a ticket carries to say which key made it, and the secrets.
struct ticket_key {
    std::array<unsigned char, 16> name;
    std::array<unsigned char, 32> cipher;  ///< AES-256-CBC
    std::array<unsigned char, 32> mac;     ///< HMAC-SHA256
};

/// A ticket made under the current key at most one lifetime after the key was made expires at
/// most two lifetimes after it. So after one lifetime the current key becomes the previous one
/// (a fresh key replaces it), and after two nothing it made can resume and it is erased. Keys
/// are random (OpenSSL's generator) and erased from memory when dropped.
class ticket_keys {
public:
    using clock = std::chrono::steady_clock;

    /// Makes the first key at `now`. Throws std::runtime_error when OpenSSL has no randomness.
    ticket_keys(std::chrono::seconds lifetime, clock::time_point now);
    ~ticket_keys();
    ticket_keys(const ticket_keys&) = delete;
    ticket_keys& operator=(const ticket_keys&) = delete;

    /// The key a ticket made at `now` uses (replacing keys first when due). The reference is
    /// valid until the next call.
    [[nodiscard]] const ticket_key& current(clock::time_point now);

    /// What `find` found.
    struct found {
        const ticket_key* key = nullptr;  ///< null: unknown or retired (a full handshake)
        bool previous = false;            ///< the previous key: resume, and reissue the ticket
    };
    /// The key named `name` at `now` (replacing keys first when due).
    [[nodiscard]] found find(std::span<const unsigned char, 16> name, clock::time_point now);

    /// Replaces the current key at `now`, keeping it as the previous one.
    void rotate(clock::time_point now);

private:
    void rotate_if_due(clock::time_point now);

    std::chrono::seconds lifetime_;
    ticket_key current_;
    std::optional<ticket_key> previous_;
    clock::time_point made_;  // when current_ was made
};

}  // namespace tessera::detail
