// tls_context and tls_session entirely in memory: an OpenSSL client on two memory BIOs talks to a
// session, and a pump moves the ciphertext between them, so no socket is involved and every
// split of the byte stream can be tried. The client verifies the server against the generated
// test CA as "localhost", which also proves the generated PKI valid.
#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "../tls_certificates.hpp"
#include "tessera/scope.hpp"
#include "tessera/tls.hpp"

using tessera::client_certificate;
using tessera::tls_context;
using tessera::tls_info;
using tessera::tls_options;
using tessera::tls_session;
using tessera::test_support::tls_certificates;
using tessera::test_support::openssl_errors;
using tessera::test_support::tls_fixture;
using read_status = tls_session::read_status;

namespace {

/// The test PKI, generated once per run: the tests only read its files.
const tls_certificates& pki() {
    static const tls_fixture fixture;
    return fixture.files;
}

/// Options serving the generated server certificate and its unencrypted key.
tls_options server_options() {
    tls_options o;
    o.certificate_file = pki().server_cert;
    o.key_file = pki().server_key;
    return o;
}

/// How the test client is set up.
struct client_setup {
    std::vector<std::string> alpn;  ///< offered protocols, in order; empty: no ALPN extension
    int max_version = 0;            ///< TLS1_1_VERSION…; 0: OpenSSL's newest
    std::string certificate;        ///< client certificate file; empty: none
    std::string key;
    SSL_SESSION* resume = nullptr;  ///< a session to resume (from `memory_client::session`)
};

/// An OpenSSL session a client kept, to resume in a later connection.
using kept_session = std::shared_ptr<SSL_SESSION>;

/// An OpenSSL client on memory BIOs that verifies the server against the test CA as "localhost".
class memory_client {
public:
    explicit memory_client(const client_setup& setup = {}) {
        context_.reset(SSL_CTX_new(TLS_client_method()));
        REQUIRE(context_ != nullptr);
        SSL_CTX* ctx = context_.get();
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        REQUIRE(SSL_CTX_load_verify_locations(ctx, pki().ca_cert.c_str(), nullptr) == 1);
        if (setup.max_version != 0) {
            REQUIRE(SSL_CTX_set_max_proto_version(ctx, setup.max_version) == 1);
            if (setup.max_version < TLS1_2_VERSION) {
                // OpenSSL 3 refuses TLS 1.0/1.1 at security level 1 and up: without level 0
                // this client would not even send its ClientHello, and the server's refusal
                // would go untested.
                SSL_CTX_set_security_level(ctx, 0);
                REQUIRE(SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0") == 1);
            }
        }
        if (!setup.alpn.empty()) {
            std::string wire;  // length-prefixed names
            for (const auto& name : setup.alpn) {
                wire.push_back(static_cast<char>(name.size()));
                wire += name;
            }
            // Unlike most of OpenSSL, set_alpn_protos returns 0 on success.
            REQUIRE(SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(
                                                     wire.data()),
                                            static_cast<unsigned>(wire.size())) == 0);
        }
        if (!setup.certificate.empty()) {
            REQUIRE(SSL_CTX_use_certificate_file(ctx, setup.certificate.c_str(),
                                                 SSL_FILETYPE_PEM) == 1);
            REQUIRE(SSL_CTX_use_PrivateKey_file(ctx, setup.key.c_str(), SSL_FILETYPE_PEM) == 1);
        }
        ssl_.reset(SSL_new(ctx));
        REQUIRE(ssl_ != nullptr);
        in_ = BIO_new(BIO_s_mem());
        out_ = BIO_new(BIO_s_mem());
        REQUIRE((in_ != nullptr && out_ != nullptr));
        BIO_set_mem_eof_return(in_, -1);  // empty means "not yet", not end of stream
        SSL_set_bio(ssl_.get(), in_, out_);
        REQUIRE(SSL_set_tlsext_host_name(ssl_.get(), "localhost") == 1);
        REQUIRE(SSL_set1_host(ssl_.get(), "localhost") == 1);
        if (setup.resume != nullptr) REQUIRE(SSL_set_session(ssl_.get(), setup.resume) == 1);
        SSL_set_connect_state(ssl_.get());
    }

    /// The session as it stands (under TLS 1.3 the tickets come after the handshake, so ask
    /// after some data has crossed).
    [[nodiscard]] kept_session session() const {
        return kept_session(SSL_get1_session(ssl_.get()), SSL_SESSION_free);
    }
    /// Whether the handshake resumed the session it was given.
    [[nodiscard]] bool resumed() const { return SSL_session_reused(ssl_.get()) == 1; }

    [[nodiscard]] SSL* ssl() const noexcept { return ssl_.get(); }

    /// Ciphertext the client has written, taken.
    std::string take_output() {
        std::string bytes(BIO_ctrl_pending(out_), '\0');
        if (!bytes.empty()) {
            REQUIRE(BIO_read(out_, bytes.data(), static_cast<int>(bytes.size())) ==
                    static_cast<int>(bytes.size()));
        }
        return bytes;
    }
    /// Ciphertext for the client to read.
    void deliver(std::string_view bytes) {
        if (bytes.empty()) return;
        REQUIRE(BIO_write(in_, bytes.data(), static_cast<int>(bytes.size())) ==
                static_cast<int>(bytes.size()));
    }

    /// Advances with what was delivered: the handshake until it is done, then every plaintext
    /// byte available into `received`. Records a failure or the server's close_notify.
    void step() {
        if (failed || peer_closed) return;
        if (!SSL_is_init_finished(ssl_.get())) {
            const int r = SSL_do_handshake(ssl_.get());
            if (r != 1) {
                note(r);
                return;
            }
        }
        std::array<char, 4096> buffer;
        for (;;) {
            const int n = SSL_read(ssl_.get(), buffer.data(), static_cast<int>(buffer.size()));
            if (n <= 0) {
                note(n);
                return;
            }
            received.append(buffer.data(), static_cast<std::size_t>(n));
        }
    }

    /// Encrypts all of `plaintext` (a memory BIO never refuses bytes).
    void write(std::string_view plaintext) {
        REQUIRE(SSL_write(ssl_.get(), plaintext.data(), static_cast<int>(plaintext.size())) ==
                static_cast<int>(plaintext.size()));
    }
    /// Queues the client's close_notify.
    void shutdown() { REQUIRE(SSL_shutdown(ssl_.get()) >= 0); }

    [[nodiscard]] bool handshake_done() const { return SSL_is_init_finished(ssl_.get()) == 1; }
    /// The protocol the server's ALPN answer named, empty when there was none.
    [[nodiscard]] std::string alpn() const {
        const unsigned char* data = nullptr;
        unsigned int size = 0;
        SSL_get0_alpn_selected(ssl_.get(), &data, &size);
        return data == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(data),
                                                             size);
    }

    std::string received;      ///< plaintext from the server
    bool failed = false;       ///< the handshake or a record failed (see `error`)
    bool peer_closed = false;  ///< the server's close_notify arrived
    std::string error;         ///< OpenSSL's reason for `failed`

private:
    struct ctx_free {
        void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); }
    };
    struct ssl_free {
        void operator()(SSL* p) const noexcept { SSL_free(p); }
    };

    // Classifies a non-positive SSL_read / SSL_do_handshake result.
    void note(int result) {
        switch (SSL_get_error(ssl_.get(), result)) {
            case SSL_ERROR_WANT_READ:
            case SSL_ERROR_WANT_WRITE: return;
            case SSL_ERROR_ZERO_RETURN: peer_closed = true; return;
            default:
                failed = true;
                error = openssl_errors();
                return;
        }
    }

    std::unique_ptr<SSL_CTX, ctx_free> context_;
    std::unique_ptr<SSL, ssl_free> ssl_;  // declared after context_: freed first
    BIO* in_ = nullptr;                   // owned by ssl_
    BIO* out_ = nullptr;                  // owned by ssl_
};

/// A memory client and a session joined by a pump.
struct connection {
    explicit connection(const tls_context& context, const client_setup& setup = {})
        : client(setup), session(context) {}

    memory_client client;
    tls_session session;
    std::string server_received;  ///< plaintext the session decrypted
    /// The session's last read status other than `data`.
    read_status server_status = read_status::want_more;
    std::size_t feed_size = 0;      ///< bytes fed to the session at a time; 0: all at once
    std::size_t take_size = 16384;  ///< the span handed to take_output

    /// Moves ciphertext both ways until neither side has anything more to say. Bounded: a
    /// handshake needs three rounds and data one.
    void pump() {
        for (int round = 0; round < 20; ++round) {
            client.step();
            const std::string to_server = client.take_output();
            feed(to_server);
            const std::string to_client = session_output();
            client.deliver(to_client);
            if (to_server.empty() && to_client.empty()) return;
        }
        FAIL("the pump did not settle in 20 rounds");
    }

    /// Feeds ciphertext to the session in pieces of `feed_size`, reading after each.
    void feed(std::string_view ciphertext) {
        const std::size_t piece = feed_size == 0 ? ciphertext.size() : feed_size;
        while (!ciphertext.empty()) {
            session.feed(ciphertext.substr(0, piece));
            ciphertext.remove_prefix(std::min(piece, ciphertext.size()));
            read_all();
        }
        read_all();
    }

    /// Reads from the session until it wants more, closes or fails.
    void read_all() {
        if (server_status == read_status::closed || server_status == read_status::failed) return;
        std::array<char, 4096> buffer;
        for (int i = 0; i < 100000; ++i) {
            const auto r = session.read(buffer);
            if (r.status != read_status::data) {
                server_status = r.status;
                return;
            }
            REQUIRE(r.bytes > 0);
            REQUIRE(r.bytes <= buffer.size());
            server_received.append(buffer.data(), r.bytes);
        }
        FAIL("read kept returning data");
    }

    /// The session's waiting ciphertext, taken `take_size` bytes at a time.
    std::string session_output() {
        std::string bytes;
        std::vector<char> buffer(take_size);
        while (session.output_size() > 0) {
            const std::size_t before = session.output_size();
            const std::size_t n = session.take_output(buffer);
            REQUIRE(n > 0);
            REQUIRE(n <= buffer.size());
            REQUIRE(session.output_size() == before - n);
            bytes.append(buffer.data(), n);
        }
        return bytes;
    }

    /// Pumps a fresh connection through its handshake.
    void handshake() {
        pump();
        REQUIRE_MESSAGE(session.handshake_complete(), "server: ", session.error());
        REQUIRE_MESSAGE(client.handshake_done(), "client: ", client.error);
        REQUIRE(server_status == read_status::want_more);
        // The client checked the chain and the name itself; this proves it did.
        REQUIRE(SSL_get_verify_result(client.ssl()) == X509_V_OK);
    }
};

/// The TLS records in `ciphertext` (5-byte headers), or 0 if it does not end on a record.
std::size_t count_records(std::string_view ciphertext) {
    std::size_t records = 0;
    while (!ciphertext.empty()) {
        if (ciphertext.size() < 5) return 0;
        const auto high = static_cast<unsigned char>(ciphertext[3]);
        const auto low = static_cast<unsigned char>(ciphertext[4]);
        const auto length = static_cast<std::size_t>(high << 8 | low);
        if (ciphertext.size() < 5 + length) return 0;
        ciphertext.remove_prefix(5 + length);
        ++records;
    }
    return records;
}

/// A message of `size` bytes that is not periodic, so a misplaced piece shows.
std::string message_of(std::size_t size) {
    std::string text;
    text.reserve(size);
    for (std::size_t i = 0; text.size() < size; ++i) text += std::to_string(i) + ',';
    text.resize(size);
    return text;
}

/// A file's whole content (a PEM certificate, to compare with what the session reports).
std::string file_text(const std::string& path) {
    std::ifstream file(path);
    return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

/// The message of the std::runtime_error the context's constructor throws (fails if none).
std::string loading_error(const tls_options& options) {
    try {
        const tls_context context(options);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    FAIL("tls_context accepted the options");
    return {};
}

/// A handshake and one message each way under a context built from `options`.
void check_serves(const tls_options& options) {
    const tls_context context(options);
    connection c(context);
    c.handshake();
    c.client.write("ping");
    c.pump();
    CHECK(c.server_received == "ping");
    REQUIRE(c.session.write("pong"));
    c.pump();
    CHECK(c.client.received == "pong");
}

/// A context asking clients for certificates that chain to the test CA, in `mode`.
tls_context verifying_context(client_certificate mode) {
    tls_options options = server_options();
    options.ca_file = pki().ca_cert;
    options.verify_client = mode;
    return tls_context(options);
}

/// A self-signed client certificate fails the handshake on both sides, whatever the mode.
void check_stranger_refused(const tls_context& context) {
    connection c(context, {.certificate = pki().stranger_cert, .key = pki().stranger_key});
    c.pump();
    CHECK(c.server_status == read_status::failed);
    CHECK(c.session.error().find("certificate") != std::string::npos);
    CHECK(c.client.failed);
}

}  // namespace

TEST_SUITE_BEGIN("tls");

TEST_CASE("the generated server certificate chains to the test CA for localhost and 127.0.0.1") {
    // The other tests lean on these files; a PKI that only happened to work would hide bugs.
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(),
                                                                  X509_STORE_free);
    REQUIRE(X509_STORE_load_file(store.get(), pki().ca_cert.c_str()) == 1);
    const auto verifies = [&](const std::string& file) {
        std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(file.c_str(), "r"), BIO_free);
        REQUIRE(bio != nullptr);
        std::unique_ptr<X509, decltype(&X509_free)> cert(
            PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
        REQUIRE(cert != nullptr);
        std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> check(
            X509_STORE_CTX_new(), X509_STORE_CTX_free);
        REQUIRE(X509_STORE_CTX_init(check.get(), store.get(), cert.get(), nullptr) == 1);
        const bool ok = X509_verify_cert(check.get()) == 1;
        ERR_clear_error();
        if (file == pki().server_cert) {
            CHECK(X509_check_host(cert.get(), "localhost", 0, 0, nullptr) == 1);
            CHECK(X509_check_ip_asc(cert.get(), "127.0.0.1", 0) == 1);
            CHECK(X509_check_host(cert.get(), "example.com", 0, 0, nullptr) == 0);
        }
        return ok;
    };
    CHECK(verifies(pki().server_cert));
    CHECK(verifies(pki().client_cert));
    CHECK_FALSE(verifies(pki().stranger_cert));
}

TEST_CASE("a handshake completes and plaintext crosses both ways") {
    const tls_context context(server_options());
    connection c(context);
    CHECK_FALSE(c.session.handshake_complete());
    c.handshake();

    c.client.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    c.pump();
    CHECK(c.server_received == "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    CHECK(c.server_status == read_status::want_more);

    REQUIRE(c.session.write("HTTP/1.1 204 No Content\r\n\r\n"));
    c.pump();
    CHECK(c.client.received == "HTTP/1.1 204 No Content\r\n\r\n");
    CHECK(c.session.error().empty());
}

TEST_CASE("a 100 KB message crosses both ways in many records") {
    const tls_context context(server_options());
    connection c(context);
    c.handshake();
    const std::string message = message_of(100 * 1024);

    // One SSL_write of 100 KB leaves as seven records of at most 16 KB.
    c.client.write(message);
    const std::string upload = c.client.take_output();
    CHECK(count_records(upload) >= 7);
    c.feed(upload);
    CHECK(c.server_received == message);
    CHECK(c.server_status == read_status::want_more);

    REQUIRE(c.session.write(message));
    CHECK(c.session.output_size() > message.size());
    const std::string download = c.session_output();
    CHECK(count_records(download) >= 7);
    c.client.deliver(download);
    c.client.step();
    CHECK(c.client.received == message);
}

TEST_CASE("ciphertext fed one byte at a time and output taken in small pieces still works") {
    const tls_context context(server_options());
    connection c(context);
    c.feed_size = 1;
    c.take_size = 7;
    c.handshake();
    const std::string message = message_of(20000);  // two records: one spans many feeds
    c.client.write(message);
    c.pump();
    CHECK(c.server_received == message);
    REQUIRE(c.session.write(message));
    c.pump();
    CHECK(c.client.received == message);
}

TEST_CASE("ALPN selects http/1.1 when the client offers h2 and http/1.1") {
    const tls_context context(server_options());
    connection c(context, {.alpn = {"h2", "http/1.1"}});
    c.handshake();
    CHECK(c.session.alpn() == "http/1.1");
    CHECK(c.client.alpn() == "http/1.1");
}

TEST_CASE("ALPN is empty when the client offers none") {
    const tls_context context(server_options());
    connection c(context);
    c.handshake();
    CHECK(c.session.alpn().empty());
    CHECK(c.client.alpn().empty());
}

TEST_CASE("a client offering only h2 is served without an ALPN answer") {
    // uvicorn's behaviour: the client falls back to HTTP/1.1 rather than being refused.
    const tls_context context(server_options());
    connection c(context, {.alpn = {"h2"}});
    c.handshake();
    CHECK(c.session.alpn().empty());
    CHECK(c.client.alpn().empty());
    c.client.write("hello");
    c.pump();
    CHECK(c.server_received == "hello");
}

TEST_CASE("the version is TLSv1.3 by default and empty before the handshake completes") {
    const tls_context context(server_options());
    connection c(context);
    CHECK(c.session.version().empty());
    // Half a handshake: the ClientHello is in, the client's Finished is not.
    c.client.step();
    c.feed(c.client.take_output());
    CHECK_FALSE(c.session.handshake_complete());
    CHECK(c.session.version().empty());
    c.client.deliver(c.session_output());
    c.pump();
    REQUIRE(c.session.handshake_complete());
    CHECK(c.session.version() == "TLSv1.3");
}

TEST_CASE("a client capped at TLS 1.2 is served with TLS 1.2") {
    const tls_context context(server_options());
    connection c(context, {.max_version = TLS1_2_VERSION});
    c.handshake();
    CHECK(c.session.version() == "TLSv1.2");
    c.client.write("over 1.2");
    c.pump();
    CHECK(c.server_received == "over 1.2");
}

TEST_CASE("a client capped at TLS 1.1 is refused") {
    const tls_context context(server_options());
    connection c(context, {.max_version = TLS1_1_VERSION});
    c.client.step();
    const std::string hello = c.client.take_output();
    REQUIRE_FALSE(hello.empty());  // the client did offer TLS 1.1: the refusal is the server's
    c.feed(hello);
    CHECK(c.server_status == read_status::failed);
    CHECK_FALSE(c.session.error().empty());
    CHECK_FALSE(c.session.handshake_complete());
    // The alert reaches the client, which fails too instead of waiting.
    c.client.deliver(c.session_output());
    c.client.step();
    CHECK(c.client.failed);
}

TEST_CASE("min_version tls1_3 refuses a client capped at TLS 1.2 and serves TLS 1.3") {
    tls_options options = server_options();
    options.min_version = tessera::tls_version::tls1_3;
    const tls_context context(options);
    connection old_client(context, {.max_version = TLS1_2_VERSION});
    old_client.pump();
    CHECK(old_client.server_status == read_status::failed);
    CHECK(old_client.session.error().find("protocol") != std::string::npos);
    CHECK(old_client.client.failed);
    connection current(context);
    current.handshake();
    CHECK(current.session.version() == "TLSv1.3");
}

TEST_CASE("the ciphers option limits the TLS 1.2 cipher suites") {
    tls_options options = server_options();
    options.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
    const tls_context context(options);
    connection c(context, {.max_version = TLS1_2_VERSION});
    c.handshake();
    CHECK(std::string_view(SSL_get_cipher_name(c.client.ssl())) ==
          "ECDHE-ECDSA-AES128-GCM-SHA256");
}

TEST_CASE("a client sending plain HTTP instead of a ClientHello fails the session") {
    const tls_context context(server_options());
    tls_session session(context);
    session.feed("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    std::array<char, 1024> buffer;
    CHECK(session.read(buffer).status == read_status::failed);
    CHECK_FALSE(session.error().empty());
    // Failure is final: neither reading again nor writing revives the session.
    CHECK(session.read(buffer).status == read_status::failed);
    CHECK_FALSE(session.write("HTTP/1.1 400 Bad Request\r\n\r\n"));
    CHECK_FALSE(session.handshake_complete());
}

TEST_CASE("the client's close_notify ends the session after the plaintext sent before it") {
    const tls_context context(server_options());
    connection c(context);
    c.handshake();
    c.client.write("last words");
    c.client.shutdown();
    c.pump();
    CHECK(c.server_received == "last words");
    CHECK(c.server_status == read_status::closed);
    CHECK(c.session.error().empty());
    std::array<char, 64> buffer;
    CHECK(c.session.read(buffer).status == read_status::closed);  // and stays closed
}

TEST_CASE("the session's close_notify gives the client a clean end of stream") {
    const tls_context context(server_options());
    connection c(context);
    c.handshake();
    REQUIRE(c.session.write("bye"));
    c.session.close_notify();
    const std::size_t queued = c.session.output_size();
    c.session.close_notify();  // queued once only
    CHECK(c.session.output_size() == queued);
    CHECK_FALSE(c.session.write("too late"));

    c.client.deliver(c.session_output());
    std::array<char, 64> buffer;
    const int n = SSL_read(c.client.ssl(), buffer.data(), static_cast<int>(buffer.size()));
    REQUIRE(n == 3);
    CHECK(std::string_view(buffer.data(), 3) == "bye");
    const int end = SSL_read(c.client.ssl(), buffer.data(), static_cast<int>(buffer.size()));
    CHECK(end == 0);
    CHECK(SSL_get_error(c.client.ssl(), end) == SSL_ERROR_ZERO_RETURN);
}

TEST_CASE("write is refused before the handshake completes") {
    const tls_context context(server_options());
    connection c(context);
    CHECK_FALSE(c.session.write("early"));
    CHECK(c.session.output_size() == 0);
    // Mid-handshake (ClientHello in, Finished not yet) it is still refused.
    c.client.step();
    c.feed(c.client.take_output());
    REQUIRE_FALSE(c.session.handshake_complete());
    const std::size_t flight = c.session.output_size();
    CHECK_FALSE(c.session.write("early"));
    CHECK(c.session.output_size() == flight);
    // A refused write does not spoil the session.
    c.client.deliver(c.session_output());
    c.pump();
    CHECK(c.session.handshake_complete());
    CHECK(c.session.write("now"));
}

TEST_CASE("a session outlives the context it was made from") {
    auto context = std::make_unique<tls_context>(server_options());
    const tls_context copy = *context;  // copies share the SSL_CTX
    connection c(copy);
    context.reset();
    c.handshake();
    c.client.write("still here");
    c.pump();
    CHECK(c.server_received == "still here");
}

TEST_CASE("a missing certificate file throws naming the file") {
    const tessera::test_support::temp_dir dir;
    tls_options options = server_options();
    options.certificate_file = dir.file("missing.pem");
    CHECK(loading_error(options).find(options.certificate_file) != std::string::npos);
}

TEST_CASE("a missing key file throws naming the file") {
    const tessera::test_support::temp_dir dir;
    tls_options options = server_options();
    options.key_file = dir.file("missing-key.pem");
    CHECK(loading_error(options).find(options.key_file) != std::string::npos);
}

TEST_CASE("a key that does not match the certificate throws naming the key file") {
    tls_options options = server_options();
    options.key_file = pki().client_key;
    CHECK(loading_error(options).find(options.key_file) != std::string::npos);
}

TEST_CASE("an encrypted key loads with its password and throws with a wrong or no password") {
    tls_options options = server_options();
    options.key_file = pki().server_key_encrypted;
    options.key_password = "wrong";
    CHECK(loading_error(options).find(options.key_file) != std::string::npos);
    // No password must fail, never fall back to prompting on the terminal.
    options.key_password.clear();
    CHECK(loading_error(options).find(options.key_file) != std::string::npos);
    options.key_password = tls_certificates::key_password;
    check_serves(options);
}

TEST_CASE("a combined certificate and key file serves without key_file") {
    tls_options options;
    options.certificate_file = pki().server_combined;
    check_serves(options);
}

TEST_CASE("a client-certificate mode without ca_file is refused as contradictory") {
    tls_options options = server_options();
    options.verify_client = client_certificate::required;
    CHECK_THROWS_AS(tls_context{options}, std::invalid_argument);
    options.verify_client = client_certificate::optional;
    CHECK_THROWS_AS(tls_context{options}, std::invalid_argument);
}

TEST_CASE("a missing CA file throws naming the file") {
    const tessera::test_support::temp_dir dir;
    tls_options options = server_options();
    options.ca_file = dir.file("missing-ca.pem");
    options.verify_client = client_certificate::required;
    CHECK(loading_error(options).find(options.ca_file) != std::string::npos);
}

TEST_CASE("required client certificates: none fails, the CA's passes, a stranger's fails") {
    const tls_context context = verifying_context(client_certificate::required);

    SUBCASE("no certificate") {
        connection c(context);
        c.pump();
        CHECK(c.server_status == read_status::failed);
        CHECK_FALSE(c.session.error().empty());
        // Under TLS 1.3 the client thinks it is done before the server checks; the alert
        // still reaches it.
        CHECK(c.client.failed);
    }
    SUBCASE("a certificate signed by the CA") {
        connection c(context, {.certificate = pki().client_cert, .key = pki().client_key});
        c.handshake();
        c.client.write("authenticated");
        c.pump();
        CHECK(c.server_received == "authenticated");
    }
    SUBCASE("a self-signed stranger") { check_stranger_refused(context); }
}

TEST_CASE("optional client certificates: none passes, a stranger's fails") {
    const tls_context context = verifying_context(client_certificate::optional);

    SUBCASE("no certificate") {
        connection c(context);
        c.handshake();
        c.client.write("anonymous");
        c.pump();
        CHECK(c.server_received == "anonymous");
    }
    SUBCASE("a certificate signed by the CA") {
        connection c(context, {.certificate = pki().client_cert, .key = pki().client_key});
        c.handshake();
    }
    SUBCASE("a self-signed stranger") { check_stranger_refused(context); }
}

TEST_CASE("the session's info names the version, cipher suite, ALPN and SNI, and no client") {
    const tls_context context(server_options());
    connection c(context, {.alpn = {"http/1.1"}});
    // Before the handshake there is nothing to tell, and nothing is kept.
    CHECK(c.session.info().version == 0);
    CHECK(c.session.info().cipher_name.empty());
    c.handshake();
    const tls_info& info = c.session.info();
    CHECK(info.version == 0x0304);
    CHECK(info.version_name == "TLSv1.3");
    const SSL_CIPHER* agreed = SSL_get_current_cipher(c.client.ssl());
    REQUIRE(agreed != nullptr);
    CHECK(info.cipher_suite == SSL_CIPHER_get_protocol_id(agreed));
    CHECK(info.cipher_name == SSL_CIPHER_standard_name(agreed));
    CHECK(info.cipher_name.starts_with("TLS_"));
    CHECK(info.alpn == "http/1.1");
    CHECK(info.server_name == "localhost");
    CHECK(info.client_cert_chain.empty());
    CHECK(info.client_cert_name.empty());
    // Worked out once: later calls give the same object.
    CHECK(&c.session.info() == &info);
}

TEST_CASE("the session's info gives TLS 1.2 as 0x0303 with the suite's standard name") {
    const tls_context context(server_options());
    connection c(context, {.max_version = TLS1_2_VERSION});
    c.handshake();
    const tls_info& info = c.session.info();
    CHECK(info.version == 0x0303);
    CHECK(info.version_name == "TLSv1.2");
    CHECK(info.cipher_name.starts_with("TLS_ECDHE_"));
    CHECK(info.cipher_suite == SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(c.client.ssl())));
    CHECK(info.alpn.empty());
}

TEST_CASE("a verified client certificate is in the info as PEM, leaf first, with its subject") {
    const tls_context context = verifying_context(client_certificate::optional);
    connection c(context, {.certificate = pki().client_cert, .key = pki().client_key});
    c.handshake();
    const tls_info& info = c.session.info();
    const std::string leaf = file_text(pki().client_cert);
    REQUIRE(leaf.starts_with("-----BEGIN CERTIFICATE-----"));
    // OpenSSL's client completes the chain it sends from its trust store: its certificate,
    // then the CA's.
    REQUIRE(info.client_cert_chain.size() == 2);
    CHECK(info.client_cert_chain[0] == leaf);
    CHECK(info.client_cert_chain[1] == file_text(pki().ca_cert));
    CHECK(info.client_cert_name == "CN=test client");
}

namespace {

/// A full handshake under `context` and one message each way (TLS 1.3 tickets arrive after the
/// handshake); returns the client's session, which the server's tickets made resumable.
kept_session first_visit(const tls_context& context, const client_setup& setup = {}) {
    connection c(context, setup);
    c.handshake();
    CHECK_FALSE(c.client.resumed());
    REQUIRE(c.session.write("hello"));
    c.pump();
    REQUIRE(c.client.received == "hello");
    // A client that goes without close_notify marks its session unfit to resume (OpenSSL
    // takes the connection for broken).
    c.client.shutdown();
    return c.client.session();
}

/// A connection offering `kept`: whether the handshake resumed it (data crosses either way).
/// The session the client holds afterwards replaces `kept` when `renew` is set.
bool returns_resumed(const tls_context& context, kept_session& kept, client_setup setup = {},
                     bool renew = false) {
    setup.resume = kept.get();
    connection c(context, setup);
    c.handshake();
    c.client.write("again");
    REQUIRE(c.session.write("welcome back"));
    c.pump();
    CHECK(c.server_received == "again");
    CHECK(c.client.received == "welcome back");
    c.client.shutdown();
    if (renew) kept = c.client.session();
    return c.client.resumed();
}

}  // namespace

TEST_CASE("a returning client resumes its session with a ticket, under TLS 1.3 and TLS 1.2") {
    const tls_context context(server_options());
    for (const int version : {0, TLS1_2_VERSION}) {
        CAPTURE(version);
        kept_session kept = first_visit(context, {.max_version = version});
        REQUIRE(SSL_SESSION_is_resumable(kept.get()) == 1);
        // OpenSSL's default lifetime, which a Python (uvicorn) server announces too.
        CHECK(SSL_SESSION_get_ticket_lifetime_hint(kept.get()) == 7200);
        CHECK(returns_resumed(context, kept, {.max_version = version}));
    }
}

TEST_CASE("under TLS 1.3 each resumption brings a new ticket; a TLS 1.2 client keeps its own") {
    const tls_context context(server_options());
    const auto ticket_of = [](const kept_session& session) {
        const unsigned char* data = nullptr;
        std::size_t size = 0;
        SSL_SESSION_get0_ticket(session.get(), &data, &size);
        return std::string(reinterpret_cast<const char*>(data), size);
    };
    // TLS 1.3 clients should use a ticket once (browsers do): they resume again and again
    // only because every resumption hands them the next ticket.
    kept_session kept = first_visit(context);
    for (int visit = 0; visit < 3; ++visit) {
        CAPTURE(visit);
        const std::string used = ticket_of(kept);
        CHECK(returns_resumed(context, kept, {}, true));
        CHECK(ticket_of(kept) != used);
    }
    // A TLS 1.2 ticket may be used again: no new one (and no ticket encrypted) per resumption.
    kept_session kept12 = first_visit(context, {.max_version = TLS1_2_VERSION});
    const std::string used = ticket_of(kept12);
    CHECK(returns_resumed(context, kept12, {.max_version = TLS1_2_VERSION}, true));
    CHECK(ticket_of(kept12) == used);
}

TEST_CASE("session_lifetime is the lifetime the tickets announce") {
    tls_options options = server_options();
    options.session_lifetime = std::chrono::minutes(10);
    const tls_context context(options);
    const kept_session kept = first_visit(context);
    CHECK(SSL_SESSION_get_ticket_lifetime_hint(kept.get()) == 600);
}

TEST_CASE("copies of a context share its ticket keys; another context's tickets do not resume") {
    const tls_context context(server_options());
    const tls_context copy = context;  // as the server's workers share one
    kept_session kept = first_visit(context);
    CHECK(returns_resumed(copy, kept));
    const tls_context stranger(server_options());
    CHECK_FALSE(returns_resumed(stranger, kept));  // a full handshake instead, which succeeds
}

TEST_CASE("without session_tickets every handshake is a full one") {
    tls_options options = server_options();
    options.session_tickets = false;
    const tls_context context(options);
    for (const int version : {0, TLS1_2_VERSION}) {
        CAPTURE(version);
        kept_session kept = first_visit(context, {.max_version = version});
        CHECK(SSL_SESSION_has_ticket(kept.get()) == 0);
        CHECK_FALSE(returns_resumed(context, kept, {.max_version = version}));
    }
}

TEST_CASE("a ticket outlives one key rotation, reissued under the new key, but not two") {
    tls_context context(server_options());
    kept_session kept = first_visit(context);
    kept_session old = kept;
    context.rotate_ticket_keys();
    // The ticket's key is now the previous one: it resumes, and the client gets a new ticket.
    CHECK(returns_resumed(context, kept, {}, true));
    context.rotate_ticket_keys();
    // The first key is gone; the reissued ticket's key is the previous one now.
    CHECK_FALSE(returns_resumed(context, old));
    CHECK(returns_resumed(context, kept));
}

TEST_CASE("a resumed session still names the verified client certificate") {
    const tls_context context = verifying_context(client_certificate::required);
    const client_setup with_certificate{.certificate = pki().client_cert,
                                        .key = pki().client_key};
    kept_session kept = first_visit(context, with_certificate);
    client_setup returning = with_certificate;
    returning.resume = kept.get();
    connection c(context, returning);
    c.handshake();
    REQUIRE(c.client.resumed());
    const tls_info& info = c.session.info();
    // The ticket carries the client's certificate, not the rest of the chain it sent.
    REQUIRE(info.client_cert_chain.size() == 1);
    CHECK(info.client_cert_chain[0] == file_text(pki().client_cert));
    CHECK(info.client_cert_name == "CN=test client");
}

TEST_CASE("a session_lifetime under a second or over seven days is refused") {
    tls_options options = server_options();
    for (const std::chrono::seconds lifetime :
         {std::chrono::seconds(0), std::chrono::seconds(-5), std::chrono::seconds(604801)}) {
        CAPTURE(lifetime.count());
        options.session_lifetime = lifetime;
        CHECK_THROWS_AS(tls_context{options}, std::invalid_argument);
    }
    options.session_lifetime = std::chrono::seconds(604800);
    CHECK_NOTHROW(tls_context{options});
    options.session_tickets = false;  // not checked when there are no tickets
    options.session_lifetime = std::chrono::seconds(0);
    CHECK_NOTHROW(tls_context{options});
}

TEST_CASE("tls_of finds the info a transport stored in the scope, and null without one") {
    tessera::scope plain;
    CHECK(tessera::tls_of(plain) == nullptr);
    tls_info info;
    info.version = 0x0304;
    tessera::scope secure;
    secure.extensions.set<const tls_info*>(&info);
    CHECK(tessera::tls_of(secure) == &info);
}

TEST_SUITE_END();
