#pragma once
// A test helper: a small PKI written as PEM files for the TLS tests, generated at run time so no
// key or certificate is checked in and none expires. EC P-256 keys keep generation to a few
// milliseconds. Uses OpenSSL 3 directly (libcrypto).

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tessera/detail/openssl_errors.hpp"
#include "temp_dir.hpp"

namespace tessera::test_support {

/// OpenSSL's queued errors (this thread's) as one line, emptied: the library's own. The TLS
/// tests' clients and the certificate generator all report failures with it.
using tessera::detail::openssl_errors;

/// The files `write_tls_certificates` creates, as paths. Every certificate is valid from an hour
/// ago (clock skew) to a day from now.
struct tls_certificates {
    std::string ca_cert;  ///< self-signed CA "tessera test CA"
    /// CN=localhost, subjectAltName DNS:localhost and IP:127.0.0.1, signed by the CA
    std::string server_cert;
    std::string server_key;            ///< unencrypted PKCS#8
    std::string server_key_encrypted;  ///< the same key, AES-256-CBC with `key_password`
    std::string server_combined;       ///< server certificate, then its key, in one file
    std::string client_cert;           ///< CN "test client", for clientAuth, signed by the CA
    std::string client_key;
    std::string stranger_cert;  ///< CN "stranger", self-signed: no chain to the CA
    std::string stranger_key;

    /// The password of `server_key_encrypted`.
    static constexpr std::string_view key_password = "secret";
};

namespace tls_detail {

struct pkey_free {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct x509_free {
    void operator()(X509* p) const noexcept { X509_free(p); }
};
struct bio_free {
    void operator()(BIO* p) const noexcept { BIO_free_all(p); }
};
struct bn_free {
    void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using bn_ptr = std::unique_ptr<BIGNUM, bn_free>;

/// Throws with `what` and OpenSSL's queued reason unless `ok`.
inline void check(bool ok, std::string_view what) {
    if (ok) return;
    std::string message = "test certificates: ";
    message.append(what);
    if (const std::string reason = openssl_errors(); !reason.empty()) {
        message.append(": ").append(reason);
    }
    throw std::runtime_error(message);
}

inline pkey_ptr make_key() {
    pkey_ptr key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EC key generation");
    return key;
}

/// Adds one extension in `openssl x509 -extfile` syntax; `issuer` supplies the authority key
/// identifier.
inline void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    check(extension != nullptr, value);
    const bool added = X509_add_ext(cert, extension, -1) == 1;
    X509_EXTENSION_free(extension);
    check(added, value);
}

/// What one certificate is for.
enum class usage { ca, server, client };

/// A certificate for `key` named `common_name`, signed by `issuer_key` as `issuer` (both null:
/// self-signed).
inline x509_ptr make_certificate(EVP_PKEY* key, const char* common_name, usage purpose,
                                 X509* issuer, EVP_PKEY* issuer_key) {
    x509_ptr cert(X509_new());
    check(cert != nullptr, "X509_new");
    X509* c = cert.get();
    check(X509_set_version(c, X509_VERSION_3) == 1, "version");
    // A random serial: two runs of the suite never issue the same issuer/serial pair, which
    // matters to anything caching certificates by it.
    bn_ptr serial(BN_new());
    check(serial && BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1,
          "serial");
    check(BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(c)) != nullptr, "serial");
    check(X509_gmtime_adj(X509_getm_notBefore(c), -60 * 60) != nullptr, "notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(c), 24 * 60 * 60) != nullptr, "notAfter");
    check(X509_set_pubkey(c, key) == 1, "public key");
    X509_NAME* subject = X509_get_subject_name(c);
    check(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(common_name), -1,
                                     -1, 0) == 1,
          "subject");
    X509* signer = issuer != nullptr ? issuer : c;
    check(X509_set_issuer_name(c, X509_get_subject_name(signer)) == 1, "issuer");

    // The subject key identifier goes first: a self-signed certificate's authority key
    // identifier is read from it.
    add_extension(c, signer, NID_subject_key_identifier, "hash");
    switch (purpose) {
        case usage::ca:
            add_extension(c, signer, NID_basic_constraints, "critical,CA:TRUE");
            add_extension(c, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
            break;
        case usage::server:
            add_extension(c, signer, NID_basic_constraints, "critical,CA:FALSE");
            add_extension(c, signer, NID_key_usage, "critical,digitalSignature");
            add_extension(c, signer, NID_ext_key_usage, "serverAuth");
            add_extension(c, signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
            break;
        case usage::client:
            add_extension(c, signer, NID_basic_constraints, "critical,CA:FALSE");
            add_extension(c, signer, NID_key_usage, "critical,digitalSignature");
            add_extension(c, signer, NID_ext_key_usage, "clientAuth");
            break;
    }
    if (issuer != nullptr) add_extension(c, signer, NID_authority_key_identifier, "keyid:always");

    check(X509_sign(c, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "signing");
    return cert;
}

inline bio_ptr open_for_writing(const std::string& path) {
    bio_ptr file(BIO_new_file(path.c_str(), "w"));
    check(file != nullptr, path);
    return file;
}

inline void write_certificate(BIO* file, X509* cert, const std::string& path) {
    check(PEM_write_bio_X509(file, cert) == 1, path);
}

/// Writes `key` as PKCS#8 PEM, encrypted with AES-256-CBC under `password` unless it is empty.
inline void write_key(BIO* file, EVP_PKEY* key, std::string_view password,
                      const std::string& path) {
    const EVP_CIPHER* cipher = password.empty() ? nullptr : EVP_aes_256_cbc();
    // PEM_write_bio_PrivateKey takes a non-const password buffer but only reads it.
    std::string copy(password);
    check(PEM_write_bio_PrivateKey(file, key, cipher,
                                   password.empty()
                                       ? nullptr
                                       : reinterpret_cast<unsigned char*>(copy.data()),
                                   static_cast<int>(copy.size()), nullptr, nullptr) == 1,
          path);
}

inline void write_certificate_file(const std::string& path, X509* cert) {
    const bio_ptr file = open_for_writing(path);
    write_certificate(file.get(), cert, path);
}

inline void write_key_file(const std::string& path, EVP_PKEY* key,
                           std::string_view password = {}) {
    const bio_ptr file = open_for_writing(path);
    write_key(file.get(), key, password, path);
}

}  // namespace tls_detail

/// Generates the test PKI into `dir` (files named ca.pem, server.pem, …) and returns their paths.
/// Throws std::runtime_error with OpenSSL's reason when a step fails.
inline tls_certificates write_tls_certificates(const temp_dir& dir) {
    using namespace tls_detail;
    tls_certificates files{
        .ca_cert = dir.file("ca.pem"),
        .server_cert = dir.file("server.pem"),
        .server_key = dir.file("server-key.pem"),
        .server_key_encrypted = dir.file("server-key-encrypted.pem"),
        .server_combined = dir.file("server-combined.pem"),
        .client_cert = dir.file("client.pem"),
        .client_key = dir.file("client-key.pem"),
        .stranger_cert = dir.file("stranger.pem"),
        .stranger_key = dir.file("stranger-key.pem"),
    };

    const pkey_ptr ca_key = make_key();
    const x509_ptr ca = make_certificate(ca_key.get(), "tessera test CA", usage::ca, nullptr,
                                         nullptr);
    write_certificate_file(files.ca_cert, ca.get());

    const pkey_ptr server_key = make_key();
    const x509_ptr server = make_certificate(server_key.get(), "localhost", usage::server,
                                             ca.get(), ca_key.get());
    write_certificate_file(files.server_cert, server.get());
    write_key_file(files.server_key, server_key.get());
    write_key_file(files.server_key_encrypted, server_key.get(), tls_certificates::key_password);
    {
        const bio_ptr file = open_for_writing(files.server_combined);
        write_certificate(file.get(), server.get(), files.server_combined);
        write_key(file.get(), server_key.get(), {}, files.server_combined);
    }

    const pkey_ptr client_key = make_key();
    const x509_ptr client = make_certificate(client_key.get(), "test client", usage::client,
                                             ca.get(), ca_key.get());
    write_certificate_file(files.client_cert, client.get());
    write_key_file(files.client_key, client_key.get());

    const pkey_ptr stranger_key = make_key();
    const x509_ptr stranger =
        make_certificate(stranger_key.get(), "stranger", usage::client, nullptr, nullptr);
    write_certificate_file(files.stranger_cert, stranger.get());
    write_key_file(files.stranger_key, stranger_key.get());
    return files;
}

/// A directory holding a freshly generated test PKI, removed with it.
struct tls_fixture {
    temp_dir dir;
    tls_certificates files = write_tls_certificates(dir);
};

}  // namespace tessera::test_support
