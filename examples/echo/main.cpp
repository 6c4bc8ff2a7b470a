// echo: the httpbin-style service the protocol tests and benchmarks run against
// (../shared/specs/echo-app.md).
//
// Run: ./build/examples/echo/echo --host 127.0.0.1 --port 8000 --static DIR [--workers K]
// Port 0 picks a free port; "listening on http://HOST:PORT" is printed once it accepts.
// SIGINT/SIGTERM shut it down gracefully.
//
// Routes here: /echo, /plaintext, /json, /post, /ws/echo and /ws. /static/... arrives with the
// static files issue (until then it answers 404).
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <tessera/http_error.hpp>
#include <tessera/json_writer.hpp>
#include <tessera/request.hpp>
#include <tessera/response.hpp>
#include <tessera/server.hpp>
#include <tessera/websocket_connection.hpp>

using namespace tessera;

namespace {

std::string sha256_hex(std::string_view bytes) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(length * 2);
    for (unsigned i = 0; i < length; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 15]);
    }
    return out;
}

// Bytes map to JSON strings as ISO-8859-1: each byte is one code point.
std::string latin1_to_utf8(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (unsigned char c : bytes) {
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back(static_cast<char>(0xC0 | (c >> 6)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        }
    }
    return out;
}

bool query_has_item(std::string_view query, std::string_view item) {
    while (true) {
        const auto amp = query.find('&');
        if (query.substr(0, amp) == item) return true;
        if (amp == std::string_view::npos) return false;
        query.remove_prefix(amp + 1);
    }
}

task<void> echo(scope& s, receive r, send sd) {
    request req(s, r);
    const std::string_view body = co_await req.body();
    if (query_has_item(s.query_string, "status=204")) {
        const response empty(std::string{}, 204);
        co_await empty(s, r, sd);
        co_return;
    }
    std::string text;
    json_writer out(text);
    out.begin_object();
    out.member("method", latin1_to_utf8(s.method));
    out.member("path", latin1_to_utf8(s.raw_path));
    out.member("query", latin1_to_utf8(s.query_string));
    out.key("headers").begin_array();
    for (const auto& field : s.headers) {
        out.begin_array().value(latin1_to_utf8(field.name)).value(latin1_to_utf8(field.value));
        out.end_array();
    }
    out.end_array();
    out.member("body_length", body.size());
    out.member("body_sha256", sha256_hex(body));
    out.end_object();
    auto answer = json_response::from_serialised(std::move(text));
    co_await std::move(answer)(s, r, sd);
}

task<void> post(scope& s, receive r, send sd) {
    request req(s, r);
    const json body = co_await req.json();  // malformed: http_error(400)
    const json* id = body.is_object() ? body.find("id") : nullptr;
    json_response answer(json{{"id", id ? *id : json(nullptr)}});
    co_await std::move(answer)(s, r, sd);
}

// /ws/echo and /ws: accepts every handshake and echoes each message as it came, text as text
// and binary as binary, until the client closes (pings, the closing handshake, the 16 MiB limit
// and permessage-deflate are the server's).
task<void> ws_echo(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await ws.accept();
    for (;;) {
        const event e = co_await ws.receive();
        const auto* message = std::get_if<websocket::receive>(&e);
        if (!message) co_return;  // the disconnect
        if (message->binary) {
            co_await ws.send_bytes(message->data);
        } else {
            co_await ws.send_text(message->data);
        }
    }
}

// Refuses WebSockets on any other path: 403.
task<void> ws_refuse(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await ws.close();
}

// Dispatched by hand, not with components/routing: this program is what scripts/bench measures
// against a bare epoll server, so it shows the server's own cost per request. http_error is
// turned into its response here (an application's exception layer does that otherwise).
task<void> http_routes(scope& s, receive r, send sd) {
    if (s.type != scope_type::http) co_return;  // lifespan: nothing to set up
    std::optional<http_error> failure;
    try {
        if (s.path == "/plaintext" && s.method == "GET") {
            plain_text_response answer("Hello, World!");
            co_await std::move(answer)(s, r, sd);
        } else if (s.path == "/json" && s.method == "GET") {
            std::string text;
            json_writer out(text);
            out.begin_object().member("message", "Hello, World!").end_object();
            auto answer = json_response::from_serialised(std::move(text));
            co_await std::move(answer)(s, r, sd);
        } else if (s.path == "/post" && s.method == "POST") {
            co_await post(s, r, sd);
        } else if (s.path == "/echo") {
            co_await echo(s, r, sd);
        } else {
            failure.emplace(404);
        }
    } catch (const http_error& e) {
        failure.emplace(e);
    }
    if (failure) {
        plain_text_response answer(failure->detail(), failure->status(), failure->headers());
        co_await std::move(answer)(s, r, sd);
    }
}

// Not a coroutine: it returns the chosen handler's task, so an open WebSocket's suspended chain
// does not also hold a frame sized for every HTTP route's locals (1.2 KB per WebSocket).
task<void> echo_app(scope& s, receive r, send sd) {
    if (s.type == scope_type::websocket) {
        if (s.path == "/ws/echo" || s.path == "/ws") return ws_echo(s, r, sd);
        return ws_refuse(s, r, sd);
    }
    return http_routes(s, r, sd);
}

}  // namespace

int main(int argc, char** argv) {
    server_options options;
    options.sink = stderr_log_sink(log_level::warning);
    options.access_log = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
        if (arg == "--host" && value) {
            options.host = value;
            ++i;
        } else if (arg == "--port" && value) {
            options.port = static_cast<std::uint16_t>(std::atoi(value));
            ++i;
        } else if (arg == "--workers" && value) {
            options.workers = static_cast<unsigned>(std::atoi(value));
            ++i;
        } else if (arg == "--static" && value) {
            ++i;  // served once the static files component lands
        } else if (arg == "--ssl-certfile" && value) {  // HTTPS and WSS, as uvicorn's option
            options.tls.certificate_file = value;
            ++i;
        } else if (arg == "--ssl-keyfile" && value) {
            options.tls.key_file = value;
            ++i;
        } else if (arg == "--access-log") {
            options.access_log = true;
            options.sink = stderr_log_sink(log_level::info);
        } else {
            std::fprintf(stderr,
                         "usage: echo --host HOST --port N --static DIR [--workers K] "
                         "[--ssl-certfile PEM [--ssl-keyfile PEM]] [--access-log]\n");
            return 2;
        }
    }
    try {
        serve(echo_app, options, [](const server& s) {
            std::printf("listening on %s://%s:%u\n", s.options().tls.enabled() ? "https" : "http",
                        s.options().host.c_str(), static_cast<unsigned>(s.port()));
            std::fflush(stdout);
        });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo: %s\n", e.what());
        return 1;
    }
}
