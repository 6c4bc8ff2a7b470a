#include "tessera/tls.hpp"

#include "tessera/scope.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <stdexcept>
#include <string>

namespace tessera {

namespace {

// OpenSSL's error queue as one line, emptied: errors are thread-local in OpenSSL and must not
// leak into the next connection's diagnosis.
std::string drain_errors() {
    std::string text;
    while (const unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        if (!text.empty()) text += "; ";
        text += buffer;
    }
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
    ERR_clear_error();
    SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
    if (raw == nullptr) throw std::runtime_error("TLS: " + drain_errors());
    context_.reset(raw, SSL_CTX_free);
    SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
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
    // No session cache: resumption would need a shared, locked cache across worker threads
    // for a saving of one round trip; clients still get TLS 1.3's 1-RTT handshake.
    SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(raw, 0);
    ERR_clear_error();
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
