// The per-thread spare header fields a response fills instead of allocating new ones. Each case
// runs on a thread of its own, so what earlier cases (or responses) left in the main thread's
// spare cannot affect it.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "tessera/detail/spare_fields.hpp"
#include "tessera/response.hpp"

using namespace tessera;
using tessera::detail::keep_spare_fields;
using tessera::detail::take_spare_fields;

namespace {
template <class Fn>
void on_fresh_thread(Fn fn) {
    std::thread t(fn);
    t.join();
}

std::vector<header_field> fields_of(std::initializer_list<header_field> list) { return list; }

// The fields exactly, in order, as name/value pairs.
std::vector<std::pair<std::string, std::string>> pairs(const headers& h) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& f : h) out.emplace_back(f.name, f.value);
    return out;
}
using field_list = std::vector<std::pair<std::string, std::string>>;
}  // namespace

TEST_CASE("kept fields come back once, with the room their strings had") {
    on_fresh_thread([] {
        CHECK(take_spare_fields().empty());
        auto fields = fields_of({{"content-type", std::string(60, 't')}, {"x-a", "1"}});
        const void* storage = fields.data();
        keep_spare_fields(std::move(fields));

        auto spare = take_spare_fields();
        REQUIRE(spare.size() == 2);
        CHECK(spare.data() == storage);
        CHECK(spare[0].value.capacity() >= 60);
        CHECK(take_spare_fields().empty());  // taken: the thread has none left
    });
}

TEST_CASE("a thread keeps one spare, and only a small one") {
    on_fresh_thread([] {
        keep_spare_fields(fields_of({{"x-first", "1"}}));
        keep_spare_fields(fields_of({{"x-second", "2"}}));  // there already is one
        auto spare = take_spare_fields();
        REQUIRE(spare.size() == 1);
        CHECK(spare[0].name == "x-first");

        keep_spare_fields(fields_of({{"set-cookie", std::string(4096, 'c')}}));
        CHECK(take_spare_fields().empty());  // a large value is not held on to

        std::vector<header_field> many(20, header_field{"x", "y"});
        keep_spare_fields(std::move(many));
        CHECK(take_spare_fields().empty());  // nor a long vector

        keep_spare_fields({});
        CHECK(take_spare_fields().empty());  // nor one without storage
    });
}

TEST_CASE("a response filled from a spare carries only its own fields") {
    on_fresh_thread([] {
        // What a previous, richer response left behind.
        const auto leftover = [] {
            keep_spare_fields(fields_of({{"x-extra", "1"},
                                         {"content-length", "99999"},
                                         {"content-type", "text/html; charset=utf-8"},
                                         {"set-cookie", "a=b"}}));
        };

        leftover();
        const plain_text_response text("hello");
        CHECK(pairs(text.headers()) == field_list{{"content-length", "5"},
                                                  {"content-type", "text/plain; charset=utf-8"}});

        leftover();
        const response empty_no_body(std::string{}, 204);
        CHECK(pairs(empty_no_body.headers()).empty());

        leftover();
        const json_response json({{"a", 1}});
        CHECK(pairs(json.headers()) ==
              field_list{{"content-length", "7"}, {"content-type", "application/json"}});

        // A response given headers of its own uses them and leaves the spare for the next one.
        leftover();
        const plain_text_response own("hi", 200, {{"X-Own", "yes"}});
        CHECK(pairs(own.headers()) == field_list{{"x-own", "yes"},
                                                 {"content-length", "2"},
                                                 {"content-type", "text/plain; charset=utf-8"}});
        CHECK(take_spare_fields().size() == 4);

        // Values of the same length as the new ones, differing at the start or the end.
        for (const char* stale : {"text/csvx; charset=utf-8", "text/plain; charset=utf-9"}) {
            keep_spare_fields(fields_of({{"content-length", "9"}, {"content-type", stale}}));
            const plain_text_response fresh("x");
            CHECK(pairs(fresh.headers()) ==
                  field_list{{"content-length", "1"},
                             {"content-type", "text/plain; charset=utf-8"}});
        }

        // A spare with fewer fields than needed grows.
        keep_spare_fields(fields_of({{"x-one", "1"}}));
        const plain_text_response grown("abc");
        CHECK(pairs(grown.headers()) == field_list{{"content-length", "3"},
                                                   {"content-type", "text/plain; charset=utf-8"}});
    });
}
