#pragma once
/// `session_data`: the per-client dictionary the session middleware loads from and saves to a
/// signed cookie (Starlette's `request.session`), and the `session()` accessor.

#include <cstddef>
#include <string_view>

#include "tessera/http_connection.hpp"
#include "tessera/json.hpp"

namespace tessera {

/// A JSON object of session values, tracking whether it was read (the response then varies by
/// Cookie) and changed (the cookie is then rewritten) — Starlette's `Session`. The session
/// middleware keeps one in `scope.extensions` for each HTTP request or WebSocket connection;
/// handlers reach it with `session(req)` / `session(ws)`. Values must be JSON (numbers, strings,
/// arrays, objects…): the cookie carries them serialised. Not thread-safe (one request's).
///
///     auto& s = session(req);
///     const json* visits = s.get("visits");
///     s.set("visits", visits ? visits->as_int64() + 1 : 1);
class session_data {
public:
    /// An empty session.
    session_data() = default;
    /// A session holding `object`'s members (a non-object is treated as empty), unmodified.
    explicit session_data(json object);

    /// The value under `key`, or nullptr. Marks the session accessed.
    [[nodiscard]] const json* get(std::string_view key) const noexcept;
    /// Whether `key` is present. Marks the session accessed.
    [[nodiscard]] bool contains(std::string_view key) const noexcept { return get(key) != nullptr; }
    /// Sets `key` to `value`. Marks the session modified.
    void set(std::string_view key, json value);
    /// Removes `key`; returns whether it was there (only then is the session modified).
    bool erase(std::string_view key);
    /// Removes everything (Starlette's `session.clear()`, e.g. at logout). Marks it modified.
    void clear();

    /// The whole object, read-only. Marks the session accessed.
    [[nodiscard]] const json& data() const noexcept;
    /// The whole object for editing in place; marks the session modified (whatever is done).
    /// It must stay an object: anything else counts as an empty session.
    [[nodiscard]] json& edit() noexcept;

    [[nodiscard]] bool empty() const noexcept { return size() == 0; }
    [[nodiscard]] std::size_t size() const noexcept {
        return data_.is_object() ? data_.as_object().size() : 0;
    }
    /// Whether anything read or changed the session (the middleware then adds `Vary: Cookie`).
    [[nodiscard]] bool accessed() const noexcept { return accessed_ || modified_; }
    /// Whether anything changed it.
    [[nodiscard]] bool modified() const noexcept { return modified_; }

private:
    json data_ = json::object();
    mutable bool accessed_ = false;
    bool modified_ = false;
};

/// The connection's session (Starlette's `request.session` / `websocket.session`). Throws
/// std::logic_error when no session middleware handled this scope. Valid for the life of the
/// scope.
[[nodiscard]] session_data& session(const http_connection& conn);

}  // namespace tessera
