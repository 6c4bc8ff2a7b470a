#pragma once
// A test helper: runs code on a thread whose event loop logs into a vector. Components reach the
// log through the loop they run on, and a thread has one loop with fixed options.

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tessera/log.hpp"
#include "tessera/loop.hpp"

namespace tessera::test_support {

/// One record the loop's sink received.
struct logged_line {
    log_level level;
    std::string category;
    std::string message;
};

/// Runs `body` on a new thread whose event loop sends every log record to `out`; returns once
/// the thread has finished.
inline void with_logging_loop(std::vector<logged_line>& out, const std::function<void()>& body) {
    std::thread thread([&] {
        event_loop loop(event_loop_options{
            .watchdog = false,
            .sink = [&out](const log_record& record) {
                out.push_back({record.level, std::string(record.category),
                               std::string(record.message)});
            }});
        body();
    });
    thread.join();
}

}  // namespace tessera::test_support
