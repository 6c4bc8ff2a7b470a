#include "tessera/detail/spare_fields.hpp"

#include <memory>
#include <utility>

#include "tls_model.hpp"

namespace tessera::detail {
namespace {

// What a spare may hold at most: a response's usual fields (content-length, content-type, a
// few more) with short values. A response with a large field simply is not kept.
constexpr std::size_t max_spare_fields = 8;
constexpr std::size_t max_spare_string = 128;

// The fast thread_local is a plain pointer (trivially destructible, so reaching it is one load);
// the vector it points to belongs to a guarded thread_local created the first time fields are
// kept, which frees it when the thread exits.
struct spare_slot {
    std::vector<header_field>* fields = nullptr;
    bool closed = false;  // the thread is exiting: nothing is kept any more
};
TESSERA_FAST_TLS thread_local spare_slot slot;

struct spare_owner {
    std::vector<header_field> fields;
    ~spare_owner() {
        slot.fields = nullptr;
        slot.closed = true;
    }
};

bool small_enough(const std::vector<header_field>& fields) noexcept {
    if (fields.capacity() > max_spare_fields) return false;
    for (const auto& field : fields) {
        if (field.name.capacity() > max_spare_string || field.value.capacity() > max_spare_string) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::vector<header_field> take_spare_fields() noexcept {
    if (!slot.fields) return {};
    return std::exchange(*slot.fields, {});
}

void keep_spare_fields(std::vector<header_field>&& fields) noexcept {
    if (slot.closed || fields.capacity() == 0 || !small_enough(fields)) return;
    if (!slot.fields) {
        thread_local spare_owner owner;
        slot.fields = &owner.fields;
    }
    if (slot.fields->capacity() == 0) *slot.fields = std::move(fields);
}

}  // namespace tessera::detail
