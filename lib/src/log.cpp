#include "tessera/log.hpp"

#include <cstdio>
#include <string>

namespace tessera {

std::string_view to_string(log_level level) noexcept {
    switch (level) {
        case log_level::debug: return "debug";
        case log_level::info: return "info";
        case log_level::warning: return "warning";
        case log_level::error: return "error";
    }
    return "unknown";
}

log_sink stderr_log_sink(log_level minimum) {
    return [minimum](const log_record& record) {
        if (record.level < minimum) return;
        std::string line;
        line.reserve(record.category.size() + record.message.size() + 16);
        line.append(to_string(record.level)).append(": ");
        if (!record.category.empty()) line.append(record.category).append(": ");
        line.append(record.message).push_back('\n');
        // One fwrite per line: stdio locks the stream, so concurrent lines never interleave.
        std::fwrite(line.data(), 1, line.size(), stderr);
    };
}

}  // namespace tessera
