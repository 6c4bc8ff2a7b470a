#pragma once
/// TLS for the server (HTTPS and WSS), as uvicorn's `--ssl-*` options: `tls_options`, and the
/// sans-IO codec under it: `tls_context` (certificates and settings, shared) and `tls_session`
/// (one connection: ciphertext in and out, plaintext in and out, no sockets). OpenSSL does the
/// cryptography; its types stay out of this header.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct ssl_st;
struct ssl_ctx_st;
struct bio_st;

namespace tessera {

/// Whether the server asks TLS clients for a certificate (uvicorn's `--ssl-cert-reqs`).
enum class client_certificate {
    none,      ///< never asked for
    optional,  ///< asked for; a client without one is served, one that fails verification is not
    required   ///< a client without a valid certificate fails the handshake
};

/// The oldest TLS version a server accepts (uvicorn's `--ssl-version` sets the same floor).
enum class tls_version {
    tls1_2,  ///< TLS 1.2 and 1.3
    tls1_3   ///< TLS 1.3 only
};

/// HTTPS and WSS on the server's socket. TLS is on when `certificate_file` is set; TLS 1.2 is
/// the oldest version accepted unless `min_version` says 1.3, and ALPN selects `http/1.1` when
/// the client offers it.
struct tls_options {
    std::string certificate_file;  ///< PEM: the server's certificate, then its chain
    std::string key_file;          ///< PEM private key; empty: read from `certificate_file`
    std::string key_password;      ///< an encrypted key's (uvicorn's `--ssl-keyfile-password`)
    std::string ca_file;           ///< PEM: the CAs client certificates must chain to
    client_certificate verify_client = client_certificate::none;
    /// OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's); empty: OpenSSL's default.
    std::string ciphers;
    /// The oldest version accepted; a client that offers nothing newer fails the handshake.
    tls_version min_version = tls_version::tls1_2;
    /// Whether a returning client may resume its session with a ticket (RFC 8446 §2.2, RFC
    /// 5077), skipping the certificate exchange and its signature, as uvicorn's clients can
    /// through OpenSSL's defaults. Tickets are encrypted under random keys that live only in
    /// memory, shared by every worker of the server. False: every handshake is a full one.
    bool session_tickets = true;
    /// How long a ticket can resume its session (1 s to 7 days, RFC 8446 §4.6.1). The key
    /// that encrypts tickets is replaced as often, and its predecessor is kept to read (and
    /// reissue) the tickets it made until they expire, so no key outlives two lifetimes.
    std::chrono::seconds session_lifetime{std::chrono::hours(2)};

    [[nodiscard]] bool enabled() const noexcept { return !certificate_file.empty(); }
};

/// What a connection's TLS handshake settled, for the app (ASGI's `tls` scope extension). The
/// server puts it in the `extensions` of every scope that arrived over TLS; `tls_of` finds it.
struct tls_info {
    /// The protocol version as on the wire (ASGI's `tls_version`): 0x0303 is TLS 1.2, 0x0304
    /// TLS 1.3; and its name, "TLSv1.3".
    int version = 0;
    std::string version_name;
    /// The cipher suite's IANA number (ASGI's `cipher_suite`) and standard name
    /// ("TLS_AES_128_GCM_SHA256").
    std::uint16_t cipher_suite = 0;
    std::string cipher_name;
    std::string alpn;         ///< "http/1.1"; empty when the client offered no ALPN
    std::string server_name;  ///< the host name the client asked for (SNI); empty when none
    /// The client's certificate, then the rest of the chain it sent, as PEM (ASGI's
    /// `client_cert_chain`); empty when it sent none. A certificate here has been verified
    /// against `ca_file`: one that fails verification fails the handshake instead. A resumed
    /// session has the client's certificate only: its ticket does not carry the rest.
    std::vector<std::string> client_cert_chain;
    /// The client certificate's subject as an RFC 4514 name, most specific first
    /// ("CN=alice,O=Example"; ASGI's `client_cert_name`); empty without a certificate.
    std::string client_cert_name;
};

struct scope;
/// The TLS facts of the connection `s` arrived on; null when it did not arrive over TLS. The
/// server stores a `const tls_info*` in `s.extensions`, valid while the app handles `s` (a test
/// may store its own the same way).
[[nodiscard]] const tls_info* tls_of(const scope& s) noexcept;

/// Certificates, key and settings shared by every TLS connection of a server (an SSL_CTX).
/// Built once from `tls_options`; copies share it, and sessions may be made from it on any
/// thread.
class tls_context {
public:
    /// Loads the certificate chain and key and checks they match. Throws std::runtime_error
    /// naming the file and OpenSSL's reason when anything cannot be loaded, and
    /// std::invalid_argument for options that cannot work: no `certificate_file`, a
    /// client-certificate mode without `ca_file`, a `ciphers` list OpenSSL finds nothing in, a
    /// `session_lifetime` out of range.
    explicit tls_context(const tls_options& options);

    /// Replaces the session-ticket key now, as happens every `session_lifetime`: tickets made
    /// under the replaced key still resume (and are reissued under the new one) until the next
    /// replacement, older ones no longer do. Two calls in a row end every ticket issued so far
    /// (after a suspected leak of the process's memory). Without `session_tickets`, nothing.
    void rotate_ticket_keys();

private:
    friend class tls_session;
    std::shared_ptr<ssl_ctx_st> context_;
};

/// One connection's TLS on the server side, sans-IO: `feed` the ciphertext that arrived, `read`
/// the plaintext it completes, `write` plaintext to encrypt, and send what `take_output` gives.
/// The handshake runs inside `read`; its messages appear in the output like any other bytes.
class tls_session {
public:
    explicit tls_session(const tls_context& context);
    ~tls_session();
    tls_session(const tls_session&) = delete;
    tls_session& operator=(const tls_session&) = delete;

    /// What `read` found.
    enum class read_status {
        data,       ///< `bytes` of plaintext (more may follow: call again)
        want_more,  ///< everything fed so far is used; send the output and wait for ciphertext
        closed,     ///< the peer sent close_notify: no more plaintext will come
        failed      ///< a handshake or protocol failure (see `error`); the alert is in the output
    };
    struct read_result {
        read_status status;
        std::size_t bytes = 0;
    };

    /// Takes ciphertext as it arrived (copied; any split is fine).
    void feed(std::string_view ciphertext);
    /// Decrypts into `out`, at most out.size() bytes.
    [[nodiscard]] read_result read(std::span<char> out);
    /// Encrypts all of `plaintext` into the output. False once the session has failed or closed,
    /// or before the handshake is complete.
    [[nodiscard]] bool write(std::string_view plaintext);
    /// Queues close_notify (once, and only after a complete handshake: before it, or after a
    /// failure, there is nothing to close politely); the connection may close after sending
    /// the output.
    void close_notify();

    /// Ciphertext waiting to be sent, in bytes.
    [[nodiscard]] std::size_t output_size() const noexcept;
    /// Moves up to out.size() bytes of waiting ciphertext into `out`; returns how many.
    std::size_t take_output(std::span<char> out) noexcept;

    [[nodiscard]] bool handshake_complete() const noexcept;
    /// The protocol ALPN selected ("http/1.1"), empty when the client offered none.
    [[nodiscard]] std::string_view alpn() const noexcept;
    /// The negotiated version ("TLSv1.3"), empty before the handshake completes.
    [[nodiscard]] std::string_view version() const noexcept;
    /// Why the session failed (OpenSSL's reason), empty otherwise.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    /// What the handshake settled, worked out on the first call after it completed and kept
    /// (so the connection's requests share it); all empty before then.
    [[nodiscard]] const tls_info& info();

private:
    ssl_st* ssl_ = nullptr;
    bio_st* in_ = nullptr;   // ciphertext fed, read by OpenSSL (owned by ssl_)
    bio_st* out_ = nullptr;  // ciphertext written by OpenSSL (owned by ssl_)
    std::string error_;
    std::unique_ptr<const tls_info> info_;
    bool closed_ = false;
    bool close_sent_ = false;
};

}  // namespace tessera
