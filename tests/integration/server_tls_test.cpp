// The server over TLS (HTTPS and WSS) on real loopback sockets: the scheme, ALPN, keep-alive and
// pipelining through the session, close_notify after the last response, file bodies (read and
// encrypted instead of sendfile), failed handshakes that harm no one else, client certificates,
// WebSockets, the handshake timeout, and configuration errors.
#include <doctest/doctest.h>

#include <fstream>

#include <tessera/events.hpp>

#include "../tls_certificates.hpp"
#include "socket_client.hpp"
#include "tls_client.hpp"
#include "ws_client.hpp"

using namespace tessera;
using namespace itest;

namespace {

const test_support::tls_certificates& pki() {
    static const test_support::tls_fixture fixture;
    return fixture.files;
}

server_options tls_options_for(client_certificate verify = client_certificate::none) {
    server_options o = quiet();
    o.tls.certificate_file = pki().server_cert;
    o.tls.key_file = pki().server_key;
    if (verify != client_certificate::none) {
        o.tls.ca_file = pki().ca_cert;
        o.tls.verify_client = verify;
    }
    return o;
}

// A client that verifies the server against the test CA, as "localhost".
tls_client_options verifying() {
    tls_client_options o;
    o.ca_file = pki().ca_cert;
    return o;
}

// The same, presenting the test client certificate (CN "test client", signed by the CA).
tls_client_options certified() {
    tls_client_options o = verifying();
    o.certificate_file = pki().client_cert;
    o.key_file = pki().client_key;
    return o;
}

// What `tls_of` tells of the connection: "<version> <client certificate's name or anonymous>",
// or "no tls".
std::string who(const scope& s) {
    const tls_info* tls = tls_of(s);
    if (!tls) return "no tls";
    return tls->version_name + " " +
           (tls->client_cert_chain.empty() ? std::string("anonymous") : tls->client_cert_name);
}

// HTTP: "<scheme> <path>", or 300 KB at /big, or `who` at /who. WebSocket: each message back as
// "<scheme>:<text>", or "who" answered with `who`.
task<void> scheme_app(scope& s, receive r, tessera::send sd) {
    if (s.type == scope_type::websocket) {
        (void)co_await r();
        const websocket::accept accept(std::nullopt, headers{});
        co_await sd(accept);
        for (;;) {
            const event e = co_await r();
            if (std::holds_alternative<websocket::disconnect>(e)) co_return;
            const auto& message = std::get<websocket::receive>(e);
            const std::string text = message.data == "who"
                                         ? who(s)
                                         : s.scheme + ":" + std::string(message.data);
            const websocket::send echo(text, message.binary);
            co_await sd(echo);
        }
    }
    if (s.type != scope_type::http) co_return;
    std::string body = s.scheme + " " + s.path;
    if (s.path == "/big") body = std::string(300000, 'b');
    if (s.path == "/who") body = who(s);
    const plain_text_response answer(std::move(body));
    co_await answer(s, r, sd);
}

}  // namespace

TEST_CASE("an HTTPS request is served with scheme https, ALPN http/1.1 and keep-alive") {
    running_server srv(any_app(scheme_app), tls_options_for());
    tls_client_options options = verifying();
    options.alpn = {"h2", "http/1.1"};
    tls_client c(srv.port(), options);
    REQUIRE_MESSAGE(c.handshake(), c.last_error());
    CHECK(c.alpn() == "http/1.1");
    CHECK(c.version() == "TLSv1.3");
    auto r = c.roundtrip(get("/a"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "https /a");
    r = c.roundtrip(get("/big"));  // many records, more than one write
    REQUIRE(r);
    CHECK(r->complete);
    CHECK(r->body == std::string(300000, 'b'));
}

TEST_CASE("over TLS the last response before closing is followed by close_notify") {
    running_server srv(any_app(scheme_app), tls_options_for());
    tls_client c(srv.port(), verifying());
    const auto r = c.roundtrip(get("/bye", "Connection: close\r\n"));
    REQUIRE(r);
    CHECK(r->body == "https /bye");
    CHECK(c.wait_closed());
    CHECK(c.close_notify_received());
}

TEST_CASE("pipelined HTTPS requests in one write are answered in order") {
    running_server srv(any_app(scheme_app), tls_options_for());
    tls_client c(srv.port(), verifying());
    REQUIRE_MESSAGE(c.handshake(), c.last_error());
    std::string batch;
    for (int i = 0; i < 20; ++i) batch += get("/p" + std::to_string(i));
    REQUIRE(c.send(batch));
    for (int i = 0; i < 20; ++i) {
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->body == "https /p" + std::to_string(i));
    }
}

TEST_CASE("a request body larger than a TLS record and the read buffer arrives whole") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const std::string body = co_await read_body(r);
        const plain_text_response answer(std::to_string(body.size()) + " " +
                                         std::to_string(std::count(body.begin(), body.end(), 'q')));
        co_await answer(s, r, sd);
    };
    running_server srv(app, tls_options_for());
    tls_client c(srv.port(), verifying());
    const std::string body(1 << 20, 'q');
    const auto r = c.roundtrip("POST /up HTTP/1.1\r\nHost: test\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body);
    REQUIRE(r);
    CHECK(r->body == "1048576 1048576");
}

TEST_CASE("a file body over TLS is read and encrypted in chunks and arrives intact") {
    const temp_dir dir;
    const std::string path = dir.file("data.bin");
    std::string bytes(1'000'003, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 7919) >> 3);
    {
        std::ofstream out(path, std::ios::binary);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        REQUIRE(out.good());
    }
    auto app = [&path](scope& s, receive, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        tessera::headers fields{{"content-type", "application/octet-stream"}};
        co_await sd(http::response_start{200, std::move(fields)});
        if (s.path == "/range") {
            co_await sd(http::response_file{path, 100'000, 200'000});
        } else {
            co_await sd(http::response_file{path});
        }
    };
    running_server srv(app, tls_options_for());
    tls_client c(srv.port(), verifying());
    auto r = c.roundtrip(get("/whole"));
    REQUIRE(r);
    CHECK(r->header("content-length") == std::to_string(bytes.size()));
    CHECK(r->body == bytes);
    r = c.roundtrip(get("/range"));  // the same connection goes on after a file
    REQUIRE(r);
    CHECK(r->body == bytes.substr(100'000, 200'000));
}

TEST_CASE("a plain-HTTP client on the TLS port is closed unanswered and others are served") {
    running_server srv(any_app(scheme_app), tls_options_for());
    client plain(srv.port());
    REQUIRE(plain.send(get("/")));
    CHECK(plain.wait_closed());
    CHECK(plain.buffer().find("HTTP/1.1") == std::string::npos);
    tls_client c(srv.port(), verifying());
    const auto r = c.roundtrip(get("/after"));
    REQUIRE(r);
    CHECK(r->body == "https /after");
}

TEST_CASE("a client offering only TLS 1.1 fails the handshake") {
    running_server srv(any_app(scheme_app), tls_options_for());
    tls_client_options old = verifying();
    old.max_version = TLS1_1_VERSION;
    tls_client c(srv.port(), old);
    CHECK_FALSE(c.handshake());
    CHECK_FALSE(c.last_error().empty());
}

TEST_CASE("a TLS handshake that never completes is dropped after keep_alive_timeout") {
    server_options o = tls_options_for();
    o.keep_alive_timeout = 200ms;
    running_server srv(any_app(scheme_app), o);
    client silent(srv.port());
    REQUIRE(silent.send(std::string_view("\x16\x03\x01\x00", 4)));  // a ClientHello's start
    CHECK(silent.wait_closed());
}

TEST_CASE("required client certificates: the CA's is served, none is refused") {
    running_server srv(any_app(scheme_app), tls_options_for(client_certificate::required));
    {
        // TLS 1.3: the client's side of the handshake completes first; the server's refusal
        // arrives as an alert where the response would be.
        tls_client c(srv.port(), verifying());
        (void)c.handshake();
        CHECK_FALSE(c.roundtrip(get("/")));
        CHECK(c.last_status() == read_status::reset);
    }
    tls_client c(srv.port(), certified());
    const auto r = c.roundtrip(get("/ok"));
    REQUIRE(r);
    CHECK(r->body == "https /ok");
    // The app knows who the client is (ASGI's tls extension), on every request.
    for (int i = 0; i < 2; ++i) {
        const auto named = c.roundtrip(get("/who"));
        REQUIRE(named);
        CHECK(named->body == "TLSv1.3 CN=test client");
    }
}

TEST_CASE("optional client certificates: a client without one is served") {
    running_server srv(any_app(scheme_app), tls_options_for(client_certificate::optional));
    tls_client c(srv.port(), verifying());
    const auto r = c.roundtrip(get("/anyone"));
    REQUIRE(r);
    CHECK(r->body == "https /anyone");
    const auto anonymous = c.roundtrip(get("/who"));
    REQUIRE(anonymous);
    CHECK(anonymous->body == "TLSv1.3 anonymous");
    // And a client with a certificate, on the same server, is named.
    tls_client named(srv.port(), certified());
    const auto known = named.roundtrip(get("/who"));
    REQUIRE(known);
    CHECK(known->body == "TLSv1.3 CN=test client");
}

TEST_CASE("a returning client resumes its session on whichever worker it reaches") {
    server_options options = tls_options_for(client_certificate::optional);
    options.workers = 2;  // one SSL_CTX, and its ticket keys, for both
    running_server srv(any_app(scheme_app), options);
    std::shared_ptr<SSL_SESSION> kept;
    {
        tls_client first(srv.port(), certified());
        const auto r = first.roundtrip(get("/who"));  // the tickets arrive with the response
        REQUIRE(r);
        CHECK(r->body == "TLSv1.3 CN=test client");
        CHECK_FALSE(first.resumed());
        first.close_notify();
        kept = first.session();
    }
    // The kernel spreads connections over the workers' sockets by their ports, so eight
    // reach both workers unless about one run in 256 puts them all on the first one.
    for (int i = 0; i < 8; ++i) {
        CAPTURE(i);
        tls_client_options returning = certified();
        returning.resume = kept.get();
        tls_client again(srv.port(), returning);
        const auto r = again.roundtrip(get("/who"));
        REQUIRE(r);
        CHECK(again.resumed());
        // The ticket brought the verified client certificate back with it.
        CHECK(r->body == "TLSv1.3 CN=test client");
        again.close_notify();
    }
}

TEST_CASE("with session_tickets off a returning client gets a full handshake") {
    server_options options = tls_options_for();
    options.tls.session_tickets = false;
    running_server srv(any_app(scheme_app), options);
    std::shared_ptr<SSL_SESSION> kept;
    {
        tls_client first(srv.port(), verifying());
        REQUIRE(first.roundtrip(get("/")));
        first.close_notify();
        kept = first.session();
    }
    tls_client_options returning = verifying();
    returning.resume = kept.get();
    tls_client again(srv.port(), returning);
    const auto r = again.roundtrip(get("/full"));
    REQUIRE(r);
    CHECK(r->body == "https /full");
    CHECK_FALSE(again.resumed());
}

TEST_CASE("a plain-HTTP scope carries no TLS info") {
    running_server srv(any_app(scheme_app), quiet());
    auto c = srv.connect();
    const auto r = c.roundtrip(get("/who"));
    REQUIRE(r);
    CHECK(r->body == "no tls");
}

TEST_CASE("a WebSocket over TLS has scheme wss and carries large messages both ways") {
    running_server srv(any_app(scheme_app), tls_options_for());
    tls_relay relay(srv.port(), verifying());
    ws_client ws(relay.port());
    const auto response = ws.handshake("/ws");
    REQUIRE(response);
    CHECK(response->status == 101);
    ws.send_text("hello");
    auto e = ws.next_skipping_control();
    CHECK(e.what == ws_event::kind::message);
    CHECK(e.data == "wss:hello");
    ws.send_text("who");  // a WebSocket's scope carries the TLS info too
    e = ws.next_skipping_control();
    CHECK(e.data == "TLSv1.3 anonymous");
    const std::string big(200000, 'z');
    ws.send_binary(big);
    e = ws.next_skipping_control();
    CHECK(e.data == "wss:" + big);
    ws.send_close(1000);
    e = ws.next_skipping_control();
    CHECK(e.what == ws_event::kind::close);
    CHECK(ws.wait_closed());
}

TEST_CASE("beyond limit_concurrency a TLS connection is closed without a handshake") {
    gate release;
    auto app = [&release](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        co_await wait_for(release);
        co_await path_echo(s, r, sd);
    };
    server_options o = tls_options_for();
    o.limit_concurrency = 1;
    running_server srv(app, o);
    tls_client first(srv.port(), verifying());
    REQUIRE_MESSAGE(first.handshake(), first.last_error());
    REQUIRE(first.send(get("/first")));
    tls_client second(srv.port(), verifying(), 2000ms);
    CHECK_FALSE(second.handshake());
    release.release();
    const auto r = first.read_response();
    REQUIRE(r);
    CHECK(r->body == "/first");
}

TEST_CASE("TLS configuration errors are thrown by the server's constructor") {
    server_options missing = tls_options_for();
    missing.tls.certificate_file = pki().server_cert + ".absent";
    CHECK_THROWS_WITH_AS(server(any_app(scheme_app), missing),
                         doctest::Contains(".absent"), std::runtime_error);
    server_options wrong_key = tls_options_for();
    wrong_key.tls.key_file = pki().client_key;
    CHECK_THROWS_AS(server(any_app(scheme_app), wrong_key), std::runtime_error);
    const temp_dir dir;
    server_options unix_socket = tls_options_for();
    unix_socket.unix_socket = dir.file("s.sock");
    CHECK_THROWS_AS(server(any_app(scheme_app), unix_socket), std::invalid_argument);
    server_options forever = tls_options_for();
    forever.tls.session_lifetime = std::chrono::hours(24 * 8);
    CHECK_THROWS_WITH_AS(server(any_app(scheme_app), forever),
                         doctest::Contains("session_lifetime"), std::invalid_argument);
}
