#pragma once
/// Path parameters captured by a route, already converted by their convertor.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tessera {

/// A converted path parameter: `str`, `path` and `uuid` give strings, `int` gives an integer,
/// `float` a double.
using path_value = std::variant<std::string, std::int64_t, double>;

/// The parameters a route matched, in the order they appear in the path.
class path_params {
public:
    path_params() = default;
    path_params(std::initializer_list<std::pair<std::string, path_value>> items) : items_(items) {}

    /// The parameter named `name`, or null.
    [[nodiscard]] const path_value* find(std::string_view name) const noexcept {
        for (const auto& [key, value] : items_) {
            if (key == name) return &value;
        }
        return nullptr;
    }
    /// The parameter as `T` (std::string, std::int64_t or double). Throws std::out_of_range when
    /// absent and std::bad_variant_access when it has another type.
    template <class T>
    [[nodiscard]] const T& get(std::string_view name) const {
        const auto* value = find(name);
        if (!value) throw std::out_of_range("no path parameter named '" + std::string(name) + "'");
        return std::get<T>(*value);
    }
    [[nodiscard]] bool contains(std::string_view name) const noexcept { return find(name); }
    /// Sets (or replaces) a parameter.
    void set(std::string name, path_value value) {
        for (auto& [key, existing] : items_) {
            if (key == name) {
                existing = std::move(value);
                return;
            }
        }
        items_.emplace_back(std::move(name), std::move(value));
    }
    [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
    [[nodiscard]] auto begin() const noexcept { return items_.begin(); }
    [[nodiscard]] auto end() const noexcept { return items_.end(); }

    friend bool operator==(const path_params&, const path_params&) = default;

private:
    std::vector<std::pair<std::string, path_value>> items_;
};

}  // namespace tessera
