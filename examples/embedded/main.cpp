// Embedding: a program that owns its libuv loop runs a tessera server on it, next to handles
// of its own (here a SIGINT watcher). Nothing blocks and the server starts no thread.
//
// Run it:  ninja -C build examples/embedded/embedded && ./build/examples/embedded/embedded
//          [--port N | --unix PATH], then `curl http://127.0.0.1:8000/` or
//          `curl --unix-socket PATH http://x/source`; Ctrl-C stops it.
//
//   GET /        "Hello from an embedded server"
//   GET /source  this file, sent with sendfile (http.response.pathsend)
#include <uv.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include <tessera/loop.hpp>
#include <tessera/response.hpp>
#include <tessera/server.hpp>

using namespace tessera;

#ifndef EMBEDDED_SOURCE
#define EMBEDDED_SOURCE __FILE__  // the build gives the absolute path
#endif

task<void> embedded_app(scope& s, receive r, tessera::send sd) {
    if (s.type != scope_type::http) co_return;  // lifespan: nothing to set up
    if (s.path == "/source") {
        // No content-length: the server gives the file's (the file follows the start at once).
        const tessera::headers fields{{"content-type", "text/plain; charset=utf-8"}};
        co_await sd(http::response_start{200, fields});
        co_await sd(http::response_file{EMBEDDED_SOURCE});
        co_return;
    }
    const plain_text_response answer("Hello from an embedded server\n");
    co_await answer(s, r, sd);
}

int main(int argc, char** argv) {
    uv_loop_t uv;
    uv_loop_init(&uv);
    int status = 0;
    {
        // The loop stays the program's: tessera wraps it for this thread.
        auto loop = event_loop::adopt(&uv);
        server_options options;
        options.port = 8000;
        options.loop = loop.get();
        options.sink = stderr_log_sink();
        for (int i = 1; i + 1 < argc; i += 2) {
            const std::string_view arg = argv[i];
            if (arg == "--port") options.port = static_cast<std::uint16_t>(std::atoi(argv[i + 1]));
            if (arg == "--unix") options.unix_socket = argv[i + 1];
        }
        server srv(embedded_app, options);

        uv_signal_t sigint;
        uv_signal_init(&uv, &sigint);
        sigint.data = &srv;
        uv_signal_start(
            &sigint, [](uv_signal_t* h, int) { static_cast<server*>(h->data)->request_stop(); },
            SIGINT);
        // Called on this thread once the server is gone from the loop: the program's own
        // handles close too, and uv_run below returns.
        srv.on_stopped([&](std::exception_ptr error) {
            if (error) status = 1;
            uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
        });
        try {
            srv.start();  // bound and listening; returns at once
        } catch (const std::exception& e) {
            std::cerr << "embedded: " << e.what() << "\n";
            uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
            status = 1;
        }
        uv_run(&uv, UV_RUN_DEFAULT);
    }
    uv_run(&uv, UV_RUN_DEFAULT);  // the adopted loop's own handle closes
    if (uv_loop_close(&uv) != 0) status = 1;
    return status;
}
