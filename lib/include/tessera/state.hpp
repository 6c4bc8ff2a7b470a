#pragma once
/// Typed storage for per-request and application-wide values (Starlette's `request.state` and
/// `app.state`), addressable by type or by name.

#include <algorithm>
#include <any>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define TESSERA_STATE_HAS_CXXABI 1
#endif

namespace tessera {

namespace detail {
/// A readable name for `type` (demangled where the ABI allows), for error messages.
inline std::string type_display_name(const std::type_info& type) {
#ifdef TESSERA_STATE_HAS_CXXABI
    int status = 0;
    const std::unique_ptr<char, void (*)(void*)> demangled(
        abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
    if (status == 0 && demangled) return demangled.get();
#endif
    return type.name();
}
}  // namespace detail

/// A small bag of values. Entries are keyed either by their C++ type (one value per type; the
/// usual way for components to hand data to handlers) or by a name (Starlette's
/// `request.state.user`). The state owns its values; stored types must be copy-constructible
/// (a `std::any` requirement) — keep move-only resources behind a `std::shared_ptr`.
///
/// Lookups are linear scans, which beat hashing for the handful of entries a request carries.
/// A default-constructed state does not allocate. Not synchronised: share a state across
/// threads only if nobody mutates it.
class state {
public:
    state() = default;

    // --- by type -------------------------------------------------------------------------

    /// Stores `value` as the entry for type `T`, replacing any previous one.
    template <class T>
    T& set(T value) {
        return emplace<T>(std::move(value));
    }

    /// Constructs the entry for type `T` in place from `args`, replacing any previous one.
    template <class T, class... Args>
    T& emplace(Args&&... args) {
        for (auto& entry : typed_) {
            if (entry.first == std::type_index(typeid(T))) {
                return entry.second.template emplace<T>(std::forward<Args>(args)...);
            }
        }
        auto& entry = typed_.emplace_back(std::type_index(typeid(T)), std::any{});
        return entry.second.template emplace<T>(std::forward<Args>(args)...);
    }

    /// The entry for type `T`, or nullptr.
    template <class T>
    [[nodiscard]] T* find() noexcept {
        for (auto& entry : typed_) {
            if (entry.first == std::type_index(typeid(T))) return std::any_cast<T>(&entry.second);
        }
        return nullptr;
    }
    template <class T>
    [[nodiscard]] const T* find() const noexcept {
        return const_cast<state*>(this)->find<T>();
    }

    /// The entry for type `T`; throws std::out_of_range naming the type when there is none.
    template <class T>
    [[nodiscard]] T& get() {
        if (T* found = find<T>()) return *found;
        throw std::out_of_range("tessera::state holds no value of type " +
                                detail::type_display_name(typeid(T)));
    }
    template <class T>
    [[nodiscard]] const T& get() const {
        return const_cast<state*>(this)->get<T>();
    }

    /// Whether an entry for type `T` exists.
    template <class T>
    [[nodiscard]] bool contains() const noexcept {
        return find<T>() != nullptr;
    }

    /// Removes the entry for type `T`; returns whether there was one.
    template <class T>
    bool remove() {
        return erase_if(typed_, [](const auto& entry) {
            return entry.first == std::type_index(typeid(T));
        });
    }

    // --- by name -------------------------------------------------------------------------

    /// Stores `value` under `name`, replacing any previous value (of any type). A string
    /// literal is stored as `const char*`; pass a std::string to store a string.
    template <class T>
    T& set(std::string name, T value) {
        for (auto& entry : named_) {
            if (entry.first == name) return entry.second.template emplace<T>(std::move(value));
        }
        auto& entry = named_.emplace_back(std::move(name), std::any{});
        return entry.second.template emplace<T>(std::move(value));
    }

    /// The value under `name` if it exists and holds a `T`, else nullptr.
    template <class T>
    [[nodiscard]] T* find(std::string_view name) noexcept {
        std::any* slot = find_named(name);
        return slot != nullptr ? std::any_cast<T>(slot) : nullptr;
    }
    template <class T>
    [[nodiscard]] const T* find(std::string_view name) const noexcept {
        return const_cast<state*>(this)->find<T>(name);
    }

    /// The value under `name`. Throws std::out_of_range naming it when absent, and
    /// std::bad_any_cast when it holds another type.
    template <class T>
    [[nodiscard]] T& get(std::string_view name) {
        std::any* slot = find_named(name);
        if (slot == nullptr) {
            throw std::out_of_range("tessera::state has no entry named '" + std::string(name) +
                                    "'");
        }
        return std::any_cast<T&>(*slot);
    }
    template <class T>
    [[nodiscard]] const T& get(std::string_view name) const {
        return const_cast<state*>(this)->get<T>(name);
    }

    /// Whether a value is stored under `name`.
    [[nodiscard]] bool contains(std::string_view name) const noexcept {
        return const_cast<state*>(this)->find_named(name) != nullptr;
    }

    /// Removes the value under `name`; returns whether there was one.
    bool remove(std::string_view name) {
        return erase_if(named_, [&](const auto& entry) { return entry.first == name; });
    }

    /// Number of entries, typed and named together.
    [[nodiscard]] std::size_t size() const noexcept { return typed_.size() + named_.size(); }
    [[nodiscard]] bool empty() const noexcept { return typed_.empty() && named_.empty(); }
    void clear() noexcept {
        typed_.clear();
        named_.clear();
    }

private:
    std::any* find_named(std::string_view name) noexcept {
        for (auto& entry : named_) {
            if (entry.first == name) return &entry.second;
        }
        return nullptr;
    }

    template <class Vec, class Pred>
    static bool erase_if(Vec& entries, Pred pred) {
        const auto it = std::find_if(entries.begin(), entries.end(), pred);
        if (it == entries.end()) return false;
        entries.erase(it);
        return true;
    }

    std::vector<std::pair<std::type_index, std::any>> typed_;
    std::vector<std::pair<std::string, std::any>> named_;
};

}  // namespace tessera
