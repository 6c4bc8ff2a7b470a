#include "tessera/session.hpp"

#include <stdexcept>
#include <utility>

namespace tessera {

session_data::session_data(json object) {
    if (object.is_object()) data_ = std::move(object);
}

const json* session_data::get(std::string_view key) const noexcept {
    accessed_ = true;
    return data_.find(key);
}

void session_data::set(std::string_view key, json value) {
    modified_ = true;
    if (!data_.is_object()) data_ = json::object();
    data_.set(key, std::move(value));
}

bool session_data::erase(std::string_view key) {
    accessed_ = true;
    if (!data_.is_object() || !data_.erase(key)) return false;
    modified_ = true;
    return true;
}

void session_data::clear() {
    modified_ = true;
    data_ = json::object();
}

const json& session_data::data() const noexcept {
    accessed_ = true;
    return data_;
}

json& session_data::edit() noexcept {
    modified_ = true;
    return data_;
}

session_data& session(const http_connection& conn) {
    auto* found = conn.scope().extensions.find<session_data>();
    if (found == nullptr) {
        throw std::logic_error("session(): no session_middleware handled this connection");
    }
    return *found;
}

}  // namespace tessera
