#include "tessera/json_writer.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <utility>

namespace tessera {

namespace {

// For each byte: 0 if it is copied as is, otherwise the letter after the backslash ('u' means
// the \u00xx form). A table keeps the slow path to one load per byte.
constexpr std::array<char, 256> make_escape_table() {
    std::array<char, 256> table{};
    for (int c = 0; c < 0x20; ++c) table[static_cast<std::size_t>(c)] = 'u';
    table['\b'] = 'b';
    table['\t'] = 't';
    table['\n'] = 'n';
    table['\f'] = 'f';
    table['\r'] = 'r';
    table['"'] = '"';
    table['\\'] = '\\';
    return table;
}
constexpr std::array<char, 256> escape_table = make_escape_table();

// True if any of the 8 bytes in `w` needs escaping: < 0x20, '"' or '\\'. The classic SWAR
// "has a zero byte" / "has a byte less than n" tests are exact about *whether* such a byte
// exists, which is all we need to skip clean 8-byte blocks without looking at each byte.
constexpr std::uint64_t ones = 0x0101010101010101ULL;
constexpr std::uint64_t highs = 0x8080808080808080ULL;
inline bool block_needs_escape(std::uint64_t w) noexcept {
    const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;
    const std::uint64_t q = w ^ (ones * '"');
    const std::uint64_t quote = (q - ones) & ~q & highs;
    const std::uint64_t b = w ^ (ones * '\\');
    const std::uint64_t backslash = (b - ones) & ~b & highs;
    return (below_space | quote | backslash) != 0;
}

// Appends the digits of a double in shortest round-trip form, with ".0" added when the result
// reads as an integer, so the value stays a float for whoever parses it (Python prints 3.0).
void append_floating(std::string& out, const char* first, const char* last) {
    out.append(first, last);
    for (const char* p = first; p != last; ++p) {
        if (*p == '.' || *p == 'e') return;
    }
    out.append(".0");
}

}  // namespace

json_writer::json_writer(json_writer&& other) noexcept
    : out_(other.out_ == &other.own_ ? &own_ : other.out_),
      own_(std::move(other.own_)),
      kinds_(other.kinds_),
      deep_kinds_(std::move(other.deep_kinds_)),
      depth_(other.depth_),
      has_elements_(other.has_elements_),
      after_key_(other.after_key_) {
    other.reset();
}

void json_writer::reset() noexcept {
    kinds_ = 0;
    deep_kinds_.clear();
    depth_ = 0;
    has_elements_ = false;
    after_key_ = false;
}

std::string json_writer::take() noexcept {
    std::string result = std::move(*out_);
    out_->clear();
    reset();
    return result;
}

bool json_writer::top_is_object() const noexcept {
    const std::size_t level = depth_ - 1;
    if (level < 64) return ((kinds_ >> level) & 1U) != 0;
    const std::size_t deep = level - 64;
    return ((deep_kinds_[deep / 64] >> (deep % 64)) & 1U) != 0;
}

void json_writer::push_container(bool is_object) {
    const std::size_t level = depth_;
    if (level < 64) {
        const std::uint64_t bit = std::uint64_t{1} << level;
        kinds_ = is_object ? (kinds_ | bit) : (kinds_ & ~bit);
    } else {
        const std::size_t deep = level - 64;
        // Grows only when nesting passes a new multiple of 64, and the storage is kept, so
        // steady-state writing never allocates here.
        if (deep / 64 >= deep_kinds_.size()) deep_kinds_.push_back(0);
        const std::uint64_t bit = std::uint64_t{1} << (deep % 64);
        std::uint64_t& word = deep_kinds_[deep / 64];
        word = is_object ? (word | bit) : (word & ~bit);
    }
    ++depth_;
}

void json_writer::check_value_allowed() const {
    if (depth_ == 0) {
        if (has_elements_) {
            throw std::logic_error("json_writer: a document holds one top-level value");
        }
    } else if (top_is_object() && !after_key_) {
        throw std::logic_error("json_writer: a value inside an object needs a key first");
    }
}

void json_writer::write_separator() {
    // After a key the colon is already written; at depth 0 there is nothing to separate.
    if (!after_key_ && has_elements_ && depth_ != 0) out_->push_back(',');
}

json_writer& json_writer::begin_object() {
    check_value_allowed();
    push_container(true);  // may allocate: do it before touching the output
    write_separator();
    out_->push_back('{');
    has_elements_ = false;
    after_key_ = false;
    return *this;
}

json_writer& json_writer::begin_array() {
    check_value_allowed();
    push_container(false);
    write_separator();
    out_->push_back('[');
    has_elements_ = false;
    after_key_ = false;
    return *this;
}

json_writer& json_writer::end_object() {
    if (depth_ == 0 || !top_is_object()) {
        throw std::logic_error("json_writer: end_object without a matching begin_object");
    }
    if (after_key_) throw std::logic_error("json_writer: end_object right after a key");
    out_->push_back('}');
    --depth_;
    value_done();  // the closed object is a value of its parent
    return *this;
}

json_writer& json_writer::end_array() {
    if (depth_ == 0 || top_is_object()) {
        throw std::logic_error("json_writer: end_array without a matching begin_array");
    }
    out_->push_back(']');
    --depth_;
    value_done();
    return *this;
}

json_writer& json_writer::key(std::string_view name) {
    if (depth_ == 0 || !top_is_object()) {
        throw std::logic_error("json_writer: key outside an object");
    }
    if (after_key_) throw std::logic_error("json_writer: two keys in a row");
    if (has_elements_) out_->push_back(',');
    write_escaped(name);
    out_->push_back(':');
    after_key_ = true;
    return *this;
}

json_writer& json_writer::value(std::nullptr_t) {
    check_value_allowed();
    write_separator();
    out_->append("null");
    value_done();
    return *this;
}

json_writer& json_writer::write_bool(bool b) {
    check_value_allowed();
    write_separator();
    out_->append(b ? std::string_view("true") : std::string_view("false"));
    value_done();
    return *this;
}

json_writer& json_writer::write_signed(std::int64_t n) {
    check_value_allowed();
    char buf[24];
    const auto result = std::to_chars(buf, buf + sizeof buf, n);
    write_separator();
    out_->append(buf, result.ptr);
    value_done();
    return *this;
}

json_writer& json_writer::write_unsigned(std::uint64_t n) {
    check_value_allowed();
    char buf[24];
    const auto result = std::to_chars(buf, buf + sizeof buf, n);
    write_separator();
    out_->append(buf, result.ptr);
    value_done();
    return *this;
}

template <class Floating>
json_writer& json_writer::write_floating(Floating f) {
    check_value_allowed();
    if (!std::isfinite(f)) {
        throw json_value_error(std::isnan(f) ? "json: NaN has no JSON representation"
                                             : "json: infinity has no JSON representation");
    }
    // 32 bytes covers the longest shortest-form double ("-2.2250738585072014e-308" is 24).
    char buf[32];
    const auto result = std::to_chars(buf, buf + sizeof buf, f);
    write_separator();
    append_floating(*out_, buf, result.ptr);
    value_done();
    return *this;
}

json_writer& json_writer::value(double d) { return write_floating(d); }

json_writer& json_writer::value(float f) { return write_floating(f); }

json_writer& json_writer::value(std::string_view text) {
    check_value_allowed();
    write_separator();
    write_escaped(text);
    value_done();
    return *this;
}

json_writer& json_writer::value(const char* text) {
    if (text == nullptr) return value(nullptr);
    return value(std::string_view(text));
}

json_writer& json_writer::raw(std::string_view json_text) {
    check_value_allowed();
    write_separator();
    out_->append(json_text);
    value_done();
    return *this;
}

void json_writer::write_escaped(std::string_view text) {
    std::string& out = *out_;
    out.push_back('"');
    const char* p = text.data();
    const char* const end = p + text.size();
    const char* run = p;  // start of the pending run of bytes copied verbatim
    while (p != end) {
        while (end - p >= 8) {
            std::uint64_t block;
            std::memcpy(&block, p, sizeof block);
            if (block_needs_escape(block)) break;
            p += 8;
        }
        // Either fewer than 8 bytes remain or this block holds a byte to escape: find it.
        const char* const stop = end - p >= 8 ? p + 8 : end;
        while (p != stop && escape_table[static_cast<unsigned char>(*p)] == 0) ++p;
        if (p == stop) continue;
        out.append(run, p);
        const char letter = escape_table[static_cast<unsigned char>(*p)];
        if (letter == 'u') {
            constexpr char hex[] = "0123456789abcdef";
            const auto c = static_cast<unsigned char>(*p);
            const char seq[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
            out.append(seq, sizeof seq);
        } else {
            const char seq[2] = {'\\', letter};
            out.append(seq, sizeof seq);
        }
        run = ++p;
    }
    out.append(run, end);
    out.push_back('"');
}

}  // namespace tessera
