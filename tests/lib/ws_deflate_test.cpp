#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/ws/deflate.hpp"

using tessera::ws::deflate_codec;
using tessera::ws::deflate_options;
using tessera::ws::deflate_params;
using tessera::ws::negotiate_deflate;
using tessera::ws::role;
using status = tessera::ws::deflate_codec::inflate_status;

namespace {

// The response to one Sec-WebSocket-Extensions field under `options`; "" when declined.
std::string respond(std::string_view field, const deflate_options& options = {}) {
    const std::string_view fields[] = {field};
    const auto agreement = negotiate_deflate(fields, options);
    return agreement ? agreement->response : "";
}

std::string inflate_all(deflate_codec& codec, std::string_view compressed,
                        std::size_t limit = 1 << 20) {
    std::string out;
    REQUIRE(codec.decompress(compressed, true, out, limit) == status::ok);
    return out;
}

std::string sample(int i) {
    return "{\"type\":\"update\",\"id\":" + std::to_string(i) +
           ",\"payload\":\"the same words again and again, the same words again\"}";
}

}  // namespace

TEST_CASE("a bare offer is accepted with the default parameters") {
    CHECK(respond("permessage-deflate") == "permessage-deflate");
    const std::string_view fields[] = {"permessage-deflate"};
    CHECK(negotiate_deflate(fields, {})->params == deflate_params{});
}

TEST_CASE("client_max_window_bits is answered only when the client offered it") {
    deflate_options small_client;
    small_client.client_max_window_bits = 10;
    CHECK(respond("permessage-deflate; client_max_window_bits", small_client) ==
          "permessage-deflate; client_max_window_bits=10");
    CHECK(respond("permessage-deflate", small_client) == "permessage-deflate");
    CHECK(respond("permessage-deflate; client_max_window_bits") == "permessage-deflate");
    // The client's own cap is honoured: the smaller of the two.
    CHECK(respond("permessage-deflate; client_max_window_bits=12") ==
          "permessage-deflate; client_max_window_bits=12");
    CHECK(respond("permessage-deflate; client_max_window_bits=9", small_client) ==
          "permessage-deflate; client_max_window_bits=9");
    CHECK(respond("permessage-deflate; client_max_window_bits=\"10\"") ==
          "permessage-deflate; client_max_window_bits=10");
}

TEST_CASE("server_max_window_bits is the smaller of the offer and the server's option") {
    CHECK(respond("permessage-deflate; server_max_window_bits=10") ==
          "permessage-deflate; server_max_window_bits=10");
    CHECK(respond("permessage-deflate; server_max_window_bits=15") ==
          "permessage-deflate; server_max_window_bits=15");
    deflate_options small;
    small.server_max_window_bits = 11;
    CHECK(respond("permessage-deflate", small) == "permessage-deflate; server_max_window_bits=11");
    CHECK(respond("permessage-deflate; server_max_window_bits=13", small) ==
          "permessage-deflate; server_max_window_bits=11");
    CHECK(respond("permessage-deflate; server_max_window_bits=9", small) ==
          "permessage-deflate; server_max_window_bits=9");
    // Regression (found by tests/fuzz/ws_handshake_fuzz): an offer of 15 to a server capped
    // lower named the parameter twice, an answer RFC 7692 §7 makes the client fail.
    CHECK(respond("permessage-deflate; server_max_window_bits=15", small) ==
          "permessage-deflate; server_max_window_bits=11");
}

TEST_CASE("context takeover flags come from the offer or the server's options") {
    CHECK(respond("permessage-deflate; server_no_context_takeover") ==
          "permessage-deflate; server_no_context_takeover");
    CHECK(respond("permessage-deflate; client_no_context_takeover") ==
          "permessage-deflate; client_no_context_takeover");
    deflate_options both;
    both.server_no_context_takeover = true;
    both.client_no_context_takeover = true;
    CHECK(respond("permessage-deflate", both) ==
          "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
}

TEST_CASE("invalid offers are declined and the next acceptable one is taken") {
    for (std::string_view bad :
         {"permessage-deflate; server_max_window_bits",  // value required
          "permessage-deflate; server_max_window_bits=7", "permessage-deflate; server_max_window_bits=16",
          "permessage-deflate; client_max_window_bits=08", "permessage-deflate; client_max_window_bits=abc",
          "permessage-deflate; server_no_context_takeover=1",
          "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
          "permessage-deflate; unknown_param", "permessage-deflate; =3", "permessage-deflate;",
          "x-webkit-deflate-frame"}) {
        CAPTURE(bad);
        CHECK(respond(bad) == "");
        CHECK(respond(std::string(bad) + ", permessage-deflate; client_no_context_takeover") ==
              "permessage-deflate; client_no_context_takeover");
    }
    // An unterminated quoted-string runs to the end of the field, swallowing later offers.
    CHECK(respond("permessage-deflate; client_max_window_bits=\"10, permessage-deflate") == "");
    // A quoted comma does not split an offer.
    CHECK(respond("permessage-deflate; x=\"a,b\", permessage-deflate") == "permessage-deflate");
}

TEST_CASE("offers spread over several fields are read in order") {
    const std::string_view fields[] = {"foo, permessage-deflate; bogus",
                                       "permessage-deflate; server_max_window_bits=12",
                                       "permessage-deflate"};
    const auto a = negotiate_deflate(fields, {});
    REQUIRE(a.has_value());
    CHECK(a->params.server_max_window_bits == 12);
}

TEST_CASE("a disabled server declines every offer") {
    deflate_options off;
    off.enabled = false;
    CHECK(respond("permessage-deflate", off) == "");
    CHECK(respond("") == "");
}

TEST_CASE("out-of-range options are rejected eagerly") {
    deflate_options o;
    o.server_max_window_bits = 7;
    CHECK_THROWS_AS(o.validate(), std::invalid_argument);
    o = {};
    o.client_max_window_bits = 16;
    CHECK_THROWS_AS(o.validate(), std::invalid_argument);
    o = {};
    o.level = 10;
    CHECK_THROWS_AS(o.validate(), std::invalid_argument);
    o = {};
    o.mem_level = 0;
    CHECK_THROWS_AS(deflate_codec(role::server, {}, o), std::invalid_argument);
    CHECK_NOTHROW(deflate_options{}.validate());
}

TEST_CASE("a client's offer, the server's answer and the client's reading agree") {
    deflate_options client;
    client.client_max_window_bits = 12;
    client.server_max_window_bits = 10;
    client.client_no_context_takeover = true;
    const std::string offer = tessera::ws::deflate_offer(client);
    CHECK(offer ==
          "permessage-deflate; client_no_context_takeover; server_max_window_bits=10; "
          "client_max_window_bits=12");
    deflate_options server;
    server.client_max_window_bits = 11;
    const std::string_view fields[] = {offer};
    const auto agreement = negotiate_deflate(fields, server);
    REQUIRE(agreement.has_value());
    const auto read = tessera::ws::accept_deflate_response(agreement->response, client);
    REQUIRE(read.has_value());
    CHECK(*read == agreement->params);
    CHECK(read->client_max_window_bits == 11);
    CHECK(read->server_max_window_bits == 10);
    CHECK(read->client_no_context_takeover);

    CHECK(tessera::ws::deflate_offer({}) == "permessage-deflate; client_max_window_bits");
}

TEST_CASE("a client rejects a server answer that breaks the rules") {
    deflate_options client;
    CHECK_FALSE(tessera::ws::accept_deflate_response("permessage-deflate; client_max_window_bits",
                                                     client));  // no value
    CHECK_FALSE(tessera::ws::accept_deflate_response("permessage-deflate; foo", client));
    CHECK_FALSE(tessera::ws::accept_deflate_response("x-other", client));
    CHECK_FALSE(
        tessera::ws::accept_deflate_response("permessage-deflate, permessage-deflate", client));
    client.server_max_window_bits = 10;
    CHECK_FALSE(tessera::ws::accept_deflate_response("permessage-deflate", client));
    CHECK_FALSE(tessera::ws::accept_deflate_response(
        "permessage-deflate; server_max_window_bits=12", client));
    CHECK(tessera::ws::accept_deflate_response("permessage-deflate; server_max_window_bits=9",
                                               client));
}

TEST_CASE("messages round-trip with context takeover, later ones shrinking") {
    deflate_codec server(role::server, {}, {});
    deflate_codec client(role::client, {}, {});
    std::string wire;
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 5; ++i) {
        server.compress(sample(i), wire);
        CHECK(wire.substr(wire.size() >= 4 ? wire.size() - 4 : 0) !=
              std::string("\x00\x00\xff\xff", 4));
        sizes.push_back(wire.size());
        CHECK(inflate_all(client, wire) == sample(i));
    }
    // The shared history makes repeats nearly free.
    CHECK(sizes[1] < sizes[0] / 2);
}

TEST_CASE("without context takeover every message stands alone") {
    deflate_params params;
    params.server_no_context_takeover = true;
    deflate_codec server(role::server, params, {});
    std::string first, second;
    server.compress(sample(1), first);
    server.compress(sample(1), second);
    CHECK(first == second);
    // A fresh decompressor reads the second message alone.
    deflate_codec fresh(role::client, params, {});
    CHECK(inflate_all(fresh, second) == sample(1));
}

TEST_CASE("the receiver resets its context when the peer has no context takeover") {
    deflate_params params;
    params.client_no_context_takeover = true;
    deflate_codec client(role::client, params, {});
    deflate_codec server(role::server, params, {});
    std::string wire;
    for (int i = 0; i < 3; ++i) {
        client.compress(sample(7), wire);
        CHECK(inflate_all(server, wire) == sample(7));
    }
}

TEST_CASE("a message decompresses the same however its bytes are split") {
    deflate_codec server(role::server, {}, {});
    deflate_codec client(role::client, {}, {});
    std::string text;
    for (int i = 0; i < 200; ++i) text += sample(i);
    std::string wire;
    server.compress(text, wire);
    std::string out;
    for (std::size_t i = 0; i < wire.size(); i += 7) {
        REQUIRE(client.decompress(std::string_view(wire).substr(i, 7), false, out, 1 << 20) ==
                status::ok);
    }
    REQUIRE(client.decompress({}, true, out, 1 << 20) == status::ok);
    CHECK(out == text);
}

TEST_CASE("an empty message round-trips") {
    deflate_codec server(role::server, {}, {});
    deflate_codec client(role::client, {}, {});
    std::string wire = "junk";
    server.compress("", wire);
    CHECK_FALSE(wire.empty());
    CHECK(inflate_all(client, wire) == "");
}

TEST_CASE("a decompression bomb stops at the size limit") {
    deflate_codec server(role::server, {}, {});
    deflate_codec client(role::client, {}, {});
    const std::string zeros(8 * 1024 * 1024, '\0');
    std::string wire;
    server.compress(zeros, wire);
    CHECK(wire.size() < 64 * 1024);
    std::string out;
    const std::size_t limit = 100000;
    CHECK(client.decompress(wire, true, out, limit) == status::too_large);
    CHECK(out.size() <= limit + 1);
    CHECK(out.capacity() < 4 * limit);

    // Exactly at the limit is fine.
    deflate_codec a(role::server, {}, {});
    deflate_codec b(role::client, {}, {});
    a.compress(std::string(limit, 'x'), wire);
    out.clear();
    CHECK(b.decompress(wire, true, out, limit) == status::ok);
    CHECK(out.size() == limit);
}

TEST_CASE("data that is not DEFLATE is reported corrupt") {
    deflate_codec client(role::client, {}, {});
    std::string out;
    CHECK(client.decompress("\xff\xff\xff\xff", true, out, 1000) == status::corrupt);
}

TEST_CASE("a final DEFLATE block ends the message's data and keeps the window") {
    deflate_codec server(role::server, {}, {});
    // BFINAL=1, stored, LEN=8, NLEN=~8, then bytes after the final block, which are ignored.
    const std::string stored("\x01\x08\x00\xf7\xff" "abcdefgh" "junk", 17);
    CHECK(inflate_all(server, stored) == "abcdefgh");
    // The next message copies all 8 bytes from the previous one's window (context takeover).
    const std::string backref("\x4a\x84\xd2\x00\x00", 5);
    CHECK(inflate_all(server, backref) == "abcdefgh");

    // Without context takeover the window is gone: the back reference is invalid.
    deflate_params params;
    params.client_no_context_takeover = true;
    deflate_codec fresh(role::server, params, {});
    CHECK(inflate_all(fresh, stored) == "abcdefgh");
    std::string out;
    CHECK(fresh.decompress(backref, true, out, 1000) == status::corrupt);
}

TEST_CASE("a server with an 8-bit window accepts but never compresses") {
    deflate_params params;
    params.server_max_window_bits = 8;
    CHECK_FALSE(deflate_codec(role::server, params, {}).can_compress());
    CHECK(deflate_codec(role::client, params, {}).can_compress());
    // Decoding an 8-bit window tolerates the 9-bit windows some zlib versions produce.
    deflate_params sender = params;
    sender.client_max_window_bits = 9;
    deflate_codec client(role::client, sender, {});
    params.client_max_window_bits = 8;
    deflate_codec server(role::server, params, {});
    std::string text;
    for (int i = 0; i < 20; ++i) text += sample(i);
    std::string wire;
    client.compress(text, wire);
    CHECK(inflate_all(server, wire) == text);
}
