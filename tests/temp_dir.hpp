#pragma once
// A test helper: a fresh directory for files a test writes, removed with its contents.

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace tessera::test_support {

/// A fresh directory under /tmp, removed with its contents when the fixture goes. Short paths:
/// Unix socket paths must fit in 108 bytes.
struct temp_dir {
    std::string path;
    temp_dir() {
        char pattern[] = "/tmp/tessera-XXXXXX";
        if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
        path = pattern;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    [[nodiscard]] std::string file(std::string_view name) const {
        return path + "/" + std::string(name);
    }
};

}  // namespace tessera::test_support
