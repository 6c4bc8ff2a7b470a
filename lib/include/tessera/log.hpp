#pragma once
/// The injectable log sink: the library never prints; it hands records to a sink.

#include <functional>
#include <string_view>

namespace tessera {

enum class log_level { debug, info, warning, error };

/// One log record. The views are valid only during the sink call.
struct log_record {
    log_level level = log_level::info;
    std::string_view category;  ///< "watchdog", "access", "server", "background", …
    std::string_view message;
};

/// Where records go. An empty sink drops them (the default everywhere).
using log_sink = std::function<void(const log_record&)>;

/// A sink that writes one line per record to standard error, for programs that want the usual
/// console output (the examples use it). Thread-safe: lines are written whole.
[[nodiscard]] log_sink stderr_log_sink(log_level minimum = log_level::info);

/// Sends a record to `sink` if it is set.
inline void emit(const log_sink& sink, log_level level, std::string_view category,
                 std::string_view message) {
    if (sink) sink(log_record{level, category, message});
}

[[nodiscard]] std::string_view to_string(log_level level) noexcept;

}  // namespace tessera
