#include "tessera/tls.hpp"

#include "tessera/detail/openssl_errors.hpp"
#include "tessera/detail/ticket_keys.hpp"
#include "tessera/scope.hpp"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>

namespace tessera {

namespace {

// OpenSSL's error queue as one line, emptied, naming something even when OpenSSL did not.
std::string drain_errors() {
    std::string text = detail::openssl_errors();
    return text.empty() ? std::string("unknown TLS error") : text;
}

[[noreturn]] void fail_loading(const std::string& what, const std::string& path) {
    throw std::runtime_error("TLS: cannot load " + what + " " + path + ": " + drain_errors());
}

int password_callback(char* buffer, int size, int, void* user) {
    const auto* password = static_cast<const std::string*>(user);
    if (size <= 0 || password->size() > static_cast<std::size_t>(size)) return -1;
    password->copy(buffer, password->size());
    return static_cast<int>(password->size());
}

// ALPN: http/1.1 when the client offers it. A client offering only other protocols (h2) is
// still served HTTP/1.1 without an ALPN answer, as uvicorn does, rather than refused.
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_size, const unsigned char* in,
                unsigned int in_size, void*) {
    static constexpr unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_size, http11, sizeof http11, in, in_size) ==
        OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

// What an OpenSSL memory BIO holds, as a string (empty if the BIO could not be made).
template <class Print>
std::string printed(Print print) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio == nullptr) return {};
    std::string out;
    if (print(bio)) {
        char* data = nullptr;
        const long size = BIO_get_mem_data(bio, &data);
        if (size > 0) out.assign(data, static_cast<std::size_t>(size));
    }
    BIO_free(bio);
    return out;
}

std::string pem_of(X509* certificate) {
    return printed([&](BIO* bio) { return PEM_write_bio_X509(bio, certificate) == 1; });
}

std::string rfc4514_name(const X509_NAME* name) {
    // RFC 2253's order and escaping (RFC 4514 is its successor), with UTF-8 kept as it is
    // rather than escaped byte by byte.
    constexpr unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
    return printed([&](BIO* bio) { return X509_NAME_print_ex(bio, name, 0, flags) >= 0; });
}

// The session-ticket keys of one SSL_CTX, used by every worker's handshakes (so a client
// resumes whichever worker it reaches). A ticket is AES-256-CBC with HMAC-SHA256, the format
// OpenSSL uses with keys of its own; but those would never change, and a leaked ticket key opens
// every TLS 1.2 session resumed under it.
class shared_ticket_keys {
public:
    using clock = detail::ticket_keys::clock;

    explicit shared_ticket_keys(std::chrono::seconds lifetime) : keys_(lifetime, clock::now()) {}

    // OpenSSL's ticket callback, enc = 1: a new ticket under the current key. 1: made; 0: no
    // ticket this time (the handshake goes on).
    int encrypt(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac) {
        const std::lock_guard lock(mutex_);
        const detail::ticket_key& key = keys_.current(clock::now());
        if (RAND_bytes(iv, iv_size) != 1) return 0;
        std::memcpy(name, key.name.data(), key.name.size());
        return use(key, iv, cipher, mac, true) ? 1 : 0;
    }

    // enc = 0: the key a presented ticket names. 1: resume; 2: resume and issue a new ticket;
    // 0: unknown or retired, so a full handshake. A ticket is reissued when its key is the
    // previous one, and always under TLS 1.3, whose clients should use a ticket only once
    // (RFC 8446 §4.6.1; browsers do): without a new one they could not resume again. (A TLS
    // 1.2 client keeps its ticket.)
    int decrypt(const unsigned char* name, const unsigned char* iv, EVP_CIPHER_CTX* cipher,
                EVP_MAC_CTX* mac, bool single_use) {
        const std::lock_guard lock(mutex_);
        const auto found = keys_.find(std::span<const unsigned char, 16>(name, 16), clock::now());
        if (found.key == nullptr || !use(*found.key, iv, cipher, mac, false)) return 0;
        return found.previous || single_use ? 2 : 1;
    }

    void rotate() {
        const std::lock_guard lock(mutex_);
        keys_.rotate(clock::now());
    }

private:
    static constexpr int iv_size = 16;  // AES's block

    static bool use(const detail::ticket_key& key, const unsigned char* iv,
                    EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, bool encrypting) {
        // OSSL_PARAM takes non-const pointers but only reads through them here.
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                              const_cast<unsigned char*>(key.mac.data()),
                                              key.mac.size()),
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"),
                                             0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_MAC_CTX_set_params(mac, params) != 1) return false;
        return EVP_CipherInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.cipher.data(), iv,
                                 encrypting ? 1 : 0) == 1;
    }

    std::mutex mutex_;  // handshakes on several workers' threads
    detail::ticket_keys keys_;
};

// The SSL_CTX owns its shared_ticket_keys through this ex_data slot, so they live as long as
// it does (sessions keep the SSL_CTX alive after the tls_context is gone).
void free_ticket_keys(void*, void* keys, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<shared_ticket_keys*>(keys);
}

int ticket_keys_slot() {
    static const int slot = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr,
                                                     free_ticket_keys);
    return slot;
}

shared_ticket_keys* ticket_keys_of(SSL_CTX* context) {
    return static_cast<shared_ticket_keys*>(SSL_CTX_get_ex_data(context, ticket_keys_slot()));
}

int ticket_key_callback(SSL* ssl, unsigned char* name, unsigned char* iv,
                        EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypting) {
    shared_ticket_keys* keys = ticket_keys_of(SSL_get_SSL_CTX(ssl));
    if (keys == nullptr) return 0;
    try {
        return encrypting != 0
                   ? keys->encrypt(name, iv, cipher, mac)
                   : keys->decrypt(name, iv, cipher, mac, SSL_version(ssl) == TLS1_3_VERSION);
    } catch (...) {
        return 0;  // no randomness for a new key: no ticket (or no resumption) this time
    }
}

constexpr std::chrono::seconds longest_ticket_lifetime{7 * 24 * 3600};  // RFC 8446 §4.6.1

}  // namespace

const tls_info* tls_of(const scope& s) noexcept {
    const auto* stored = s.extensions.find<const tls_info*>();
    return stored ? *stored : nullptr;
}

tls_context::tls_context(const tls_options& options) {
    if (!options.enabled()) throw std::invalid_argument("TLS: no certificate_file given");
    if (options.verify_client != client_certificate::none && options.ca_file.empty()) {
        throw std::invalid_argument(
            "TLS: verifying client certificates needs ca_file (the CAs they must chain to)");
    }
    if (options.session_tickets && (options.session_lifetime < std::chrono::seconds(1) ||
                                    options.session_lifetime > longest_ticket_lifetime)) {
        throw std::invalid_argument("TLS: session_lifetime must be 1 s to 7 days, not " +
                                    std::to_string(options.session_lifetime.count()) + " s");
    }
    ERR_clear_error();
    SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
    if (raw == nullptr) throw std::runtime_error("TLS: " + drain_errors());
    context_.reset(raw, SSL_CTX_free);
    SSL_CTX_set_min_proto_version(
        raw, options.min_version == tls_version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
    // Renegotiation is a denial-of-service lever and HTTP/1.1 never needs it; compression
    // invites CRIME. Memory BIOs never block, so a partial write cannot happen.
    SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    // Idle connections give their 34 KB of record buffers back.
    SSL_CTX_set_mode(raw, SSL_MODE_RELEASE_BUFFERS);
    if (!options.ciphers.empty() && SSL_CTX_set_cipher_list(raw, options.ciphers.c_str()) != 1) {
        throw std::invalid_argument("TLS: no usable cipher in \"" + options.ciphers +
                                    "\": " + drain_errors());
    }
    if (SSL_CTX_use_certificate_chain_file(raw, options.certificate_file.c_str()) != 1) {
        fail_loading("the certificate chain", options.certificate_file);
    }
    // The callback reads the password while the key loads, from options that outlive the call.
    SSL_CTX_set_default_passwd_cb(raw, password_callback);
    SSL_CTX_set_default_passwd_cb_userdata(raw, const_cast<std::string*>(&options.key_password));
    const std::string& key_file =
        options.key_file.empty() ? options.certificate_file : options.key_file;
    const bool key_loaded =
        SSL_CTX_use_PrivateKey_file(raw, key_file.c_str(), SSL_FILETYPE_PEM) == 1;
    SSL_CTX_set_default_passwd_cb(raw, nullptr);
    SSL_CTX_set_default_passwd_cb_userdata(raw, nullptr);
    if (!key_loaded) fail_loading("the private key", key_file);
    if (SSL_CTX_check_private_key(raw) != 1) {
        throw std::runtime_error("TLS: the private key in " + key_file +
                                 " does not match the certificate in " +
                                 options.certificate_file + ": " + drain_errors());
    }
    if (!options.ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(raw, options.ca_file.c_str(), nullptr) != 1) {
            fail_loading("the client CA file", options.ca_file);
        }
        // Tells clients which CAs are accepted, so one with several certificates picks right.
        if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca_file.c_str())) {
            SSL_CTX_set_client_CA_list(raw, names);
        }
    }
    switch (options.verify_client) {
        case client_certificate::none: SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr); break;
        case client_certificate::optional: SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr); break;
        case client_certificate::required:
            SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
            break;
    }
    SSL_CTX_set_alpn_select_cb(raw, select_alpn, nullptr);
    // Resumption by ticket only: a server-side session cache would need a lock shared by the
    // workers and memory per client, where a ticket carries the session to whichever worker
    // the client reaches. (The session ID context is required once clients are verified.)
    SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
    static constexpr unsigned char id_context[] = {'t', 'e', 's', 's', 'e', 'r', 'a'};
    SSL_CTX_set_session_id_context(raw, id_context, sizeof id_context);
    if (options.session_tickets) {
        SSL_CTX_set_timeout(raw, static_cast<long>(options.session_lifetime.count()));
        auto keys = std::make_unique<shared_ticket_keys>(options.session_lifetime);
        if (SSL_CTX_set_ex_data(raw, ticket_keys_slot(), keys.get()) != 1) {
            throw std::runtime_error("TLS: " + drain_errors());
        }
        (void)keys.release();  // the SSL_CTX owns them now (free_ticket_keys)
        SSL_CTX_set_tlsext_ticket_key_evp_cb(raw, ticket_key_callback);
        // TLS 1.3 tickets: one per handshake rather than OpenSSL's two. Each costs about 6% of
        // a full handshake's CPU (most of it OpenSSL encoding the session), and a client gets
        // a fresh one with every connection, resumed or not (see decrypt).
        SSL_CTX_set_num_tickets(raw, 1);
    } else {
        SSL_CTX_set_options(raw, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(raw, 0);
    }
    ERR_clear_error();
}

void tls_context::rotate_ticket_keys() {
    if (shared_ticket_keys* keys = ticket_keys_of(context_.get())) keys->rotate();
}

tls_session::tls_session(const tls_context& context) {
    ssl_ = SSL_new(context.context_.get());
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
        if (in_ != nullptr) BIO_free(in_);
        if (out_ != nullptr) BIO_free(out_);
        if (ssl_ != nullptr) SSL_free(ssl_);
        throw std::bad_alloc();
    }
    // An empty memory BIO reports "retry" rather than end of file.
    BIO_set_mem_eof_return(in_, -1);
    BIO_set_mem_eof_return(out_, -1);
    SSL_set_bio(ssl_, in_, out_);  // ssl_ owns both from here
    SSL_set_accept_state(ssl_);
}

tls_session::~tls_session() { SSL_free(ssl_); }

void tls_session::feed(std::string_view ciphertext) {
    while (!ciphertext.empty()) {
        const int chunk = static_cast<int>(std::min<std::size_t>(ciphertext.size(), 1 << 30));
        const int n = BIO_write(in_, ciphertext.data(), chunk);
        if (n <= 0) throw std::bad_alloc();  // a memory BIO fails only when memory does
        ciphertext.remove_prefix(static_cast<std::size_t>(n));
    }
}

tls_session::read_result tls_session::read(std::span<char> out) {
    if (closed_) return {read_status::closed};
    if (!error_.empty()) return {read_status::failed};
    if (out.empty()) return {read_status::data, 0};
    ERR_clear_error();
    const int chunk = static_cast<int>(std::min<std::size_t>(out.size(), 1 << 30));
    const int n = SSL_read(ssl_, out.data(), chunk);
    if (n > 0) return {read_status::data, static_cast<std::size_t>(n)};
    switch (SSL_get_error(ssl_, n)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE: return {read_status::want_more};
        case SSL_ERROR_ZERO_RETURN: closed_ = true; return {read_status::closed};
        default: {
            error_ = drain_errors();
            if (SSL_get_verify_result(ssl_) != X509_V_OK) {
                error_ += " (client certificate: ";
                error_ += X509_verify_cert_error_string(SSL_get_verify_result(ssl_));
                error_ += ")";
            }
            return {read_status::failed};
        }
    }
}

bool tls_session::write(std::string_view plaintext) {
    if (closed_ || close_sent_ || !error_.empty() || !SSL_is_init_finished(ssl_)) return false;
    while (!plaintext.empty()) {
        ERR_clear_error();
        const int chunk = static_cast<int>(std::min<std::size_t>(plaintext.size(), 1 << 30));
        const int n = SSL_write(ssl_, plaintext.data(), chunk);
        if (n <= 0) {
            error_ = drain_errors();
            return false;
        }
        plaintext.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

void tls_session::close_notify() {
    if (close_sent_ || !error_.empty() || !SSL_is_init_finished(ssl_)) return;
    close_sent_ = true;
    ERR_clear_error();
    (void)SSL_shutdown(ssl_);  // 0: ours is queued, theirs not awaited (we close the socket)
    ERR_clear_error();
}

std::size_t tls_session::output_size() const noexcept {
    return BIO_ctrl_pending(out_);
}

std::size_t tls_session::take_output(std::span<char> out) noexcept {
    if (out.empty()) return 0;
    const int chunk = static_cast<int>(std::min<std::size_t>(out.size(), 1 << 30));
    const int n = BIO_read(out_, out.data(), chunk);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

bool tls_session::handshake_complete() const noexcept { return SSL_is_init_finished(ssl_) == 1; }

std::string_view tls_session::alpn() const noexcept {
    const unsigned char* data = nullptr;
    unsigned int size = 0;
    SSL_get0_alpn_selected(ssl_, &data, &size);
    if (data == nullptr) return {};
    return {reinterpret_cast<const char*>(data), size};
}

const tls_info& tls_session::info() {
    if (info_) return *info_;
    static const tls_info before_handshake;
    if (!handshake_complete()) return before_handshake;
    auto made = std::make_unique<tls_info>();
    made->version = SSL_version(ssl_);
    made->version_name = version();
    if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_)) {
        made->cipher_suite = SSL_CIPHER_get_protocol_id(cipher);
        if (const char* name = SSL_CIPHER_standard_name(cipher)) made->cipher_name = name;
    }
    made->alpn = alpn();
    if (const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) {
        made->server_name = name;
    }
    if (X509* leaf = SSL_get0_peer_certificate(ssl_)) {
        made->client_cert_chain.push_back(pem_of(leaf));
        made->client_cert_name = rfc4514_name(X509_get_subject_name(leaf));
        // On the server's side the chain OpenSSL keeps is the rest: the leaf is not in it.
        if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl_)) {
            for (int i = 0; i < sk_X509_num(chain); ++i) {
                made->client_cert_chain.push_back(pem_of(sk_X509_value(chain, i)));
            }
        }
    }
    info_ = std::move(made);
    return *info_;
}

std::string_view tls_session::version() const noexcept {
    if (!handshake_complete()) return {};
    return SSL_get_version(ssl_);
}

}  // namespace tessera
