#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tessera/http1_serializer.hpp"

using tessera::body_framing;
using tessera::headers;
using tessera::http1::head_error;
using tessera::http1::response_head;
using tessera::http1::write_batch;

namespace {

std::string head_bytes(const response_head& h) {
    write_batch out;
    const head_error e = tessera::http1::write_response_head(h, out);
    REQUIRE(e == head_error::none);
    return out.to_string();
}

head_error head_result(const response_head& h, write_batch& out) {
    return tessera::http1::write_response_head(h, out);
}

}  // namespace

TEST_CASE("a Content-Length response head is written byte for byte") {
    const headers fields{{"Content-Type", "text/plain; charset=utf-8"}, {"X-A", "1"}};
    response_head h;
    h.status = 200;
    h.fields = &fields;
    h.framing = body_framing::content_length;
    h.content_length = 13;
    h.date = "Sun, 06 Nov 1994 08:49:37 GMT";
    h.server = "tessera";
    CHECK(head_bytes(h) ==
          "HTTP/1.1 200 OK\r\n"
          "date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
          "server: tessera\r\n"
          "content-type: text/plain; charset=utf-8\r\n"
          "x-a: 1\r\n"
          "content-length: 13\r\n"
          "\r\n");
}

TEST_CASE("a chunked response is a head, framed chunks and the last chunk") {
    const headers fields{{"content-type", "text/event-stream"}};
    response_head h;
    h.status = 201;
    h.fields = &fields;
    h.framing = body_framing::chunked;
    write_batch out;
    REQUIRE(tessera::http1::write_response_head(h, out) == head_error::none);
    tessera::http1::write_body(body_framing::chunked, "hello", false, out);
    tessera::http1::write_body(body_framing::chunked, "", false, out);
    tessera::http1::write_body(body_framing::chunked, std::string(300, 'x'), true, out);
    CHECK(out.to_string() ==
          "HTTP/1.1 201 Created\r\n"
          "content-type: text/event-stream\r\n"
          "transfer-encoding: chunked\r\n"
          "\r\n"
          "5\r\nhello\r\n"
          "12c\r\n" + std::string(300, 'x') + "\r\n"
          "0\r\n\r\n");
}

TEST_CASE("the serializer owns the framing fields: the app's are replaced or dropped") {
    const headers fields{{"Transfer-Encoding", "gzip"}, {"Content-Length", "999"}, {"X", "y"}};
    response_head h;
    h.fields = &fields;
    h.framing = body_framing::content_length;
    h.content_length = 2;
    CHECK(head_bytes(h) == "HTTP/1.1 200 OK\r\nx: y\r\ncontent-length: 2\r\n\r\n");
    h.framing = body_framing::chunked;
    CHECK(head_bytes(h) == "HTTP/1.1 200 OK\r\nx: y\r\ntransfer-encoding: chunked\r\n\r\n");
}

TEST_CASE("HEAD and 304 responses keep the app's Content-Length, 1xx and 204 lose it") {
    const headers fields{{"content-length", "42"}};
    response_head h;
    h.fields = &fields;
    h.framing = body_framing::none;
    CHECK(head_bytes(h) == "HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n");
    h.status = 304;
    CHECK(head_bytes(h) == "HTTP/1.1 304 Not Modified\r\ncontent-length: 42\r\n\r\n");
    h.status = 204;
    CHECK(head_bytes(h) == "HTTP/1.1 204 No Content\r\n\r\n");
    h.status = 101;
    CHECK(head_bytes(h) == "HTTP/1.1 101 Switching Protocols\r\n\r\n");
}

TEST_CASE("an unregistered status has an empty reason phrase") {
    response_head h;
    h.status = 599;
    CHECK(head_bytes(h) == "HTTP/1.1 599 \r\n\r\n");
}

TEST_CASE("the connection field follows the keep-alive decision and the client's version") {
    response_head h;
    h.keep_alive = false;
    CHECK(head_bytes(h) == "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n");
    h.keep_alive = true;
    h.http10 = true;
    CHECK(head_bytes(h) == "HTTP/1.1 200 OK\r\nconnection: keep-alive\r\n\r\n");
    h.keep_alive = false;
    CHECK(head_bytes(h) == "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n");
}

TEST_CASE("a close-delimited body always closes the connection") {
    response_head h;
    h.http10 = true;
    h.keep_alive = true;
    h.framing = body_framing::close_delimited;
    CHECK(head_bytes(h) == "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n");
}

TEST_CASE("the app's own connection field is kept and not repeated") {
    const headers close{{"Connection", "Close"}};
    response_head h;
    h.fields = &close;
    h.keep_alive = false;
    CHECK(head_bytes(h) == "HTTP/1.1 200 OK\r\nconnection: Close\r\n\r\n");
    const headers upgrade{{"upgrade", "websocket"}, {"connection", "Upgrade"}};
    h.status = 101;
    h.fields = &upgrade;
    h.keep_alive = true;
    CHECK(head_bytes(h) ==
          "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n");
}

TEST_CASE("the app's date and server fields replace the defaults") {
    const headers fields{{"Server", "mine"}, {"Date", "then"}};
    response_head h;
    h.fields = &fields;
    h.date = "now";
    h.server = "tessera";
    CHECK(head_bytes(h) == "HTTP/1.1 200 OK\r\nserver: mine\r\ndate: then\r\n\r\n");
}

TEST_CASE("the server's default fields follow date and server, and the app's own names win") {
    const headers defaults{{"X-Frame-Options", "DENY"}, {"cache-control", "no-store"},
                           {"x-multi", "1"}, {"x-multi", "2"}};
    const headers fields{{"Cache-Control", "max-age=60"}, {"content-type", "text/plain"}};
    response_head h;
    h.fields = &fields;
    h.framing = body_framing::content_length;
    h.content_length = 2;
    h.date = "now";
    h.server = "tessera";
    h.defaults = &defaults;
    CHECK(head_bytes(h) ==
          "HTTP/1.1 200 OK\r\n"
          "date: now\r\n"
          "server: tessera\r\n"
          "x-frame-options: DENY\r\n"
          "x-multi: 1\r\n"
          "x-multi: 2\r\n"
          "cache-control: max-age=60\r\n"
          "content-type: text/plain\r\n"
          "content-length: 2\r\n"
          "\r\n");
    // Without app fields every default is written.
    h.fields = nullptr;
    h.framing = body_framing::none;
    CHECK(head_bytes(h) ==
          "HTTP/1.1 200 OK\r\ndate: now\r\nserver: tessera\r\nx-frame-options: DENY\r\n"
          "cache-control: no-store\r\nx-multi: 1\r\nx-multi: 2\r\n\r\n");
}

TEST_CASE("a default server or date replaces the server's own, unless the app sets its own") {
    const headers defaults{{"server", "one"}, {"server", "two"}, {"date", "fixed"}};
    response_head h;
    h.date = "now";
    h.server = "tessera";
    h.defaults = &defaults;
    CHECK(head_bytes(h) ==
          "HTTP/1.1 200 OK\r\nserver: one\r\nserver: two\r\ndate: fixed\r\n\r\n");
    const headers fields{{"Server", "mine"}};
    h.fields = &fields;
    CHECK(head_bytes(h) == "HTTP/1.1 200 OK\r\ndate: fixed\r\nserver: mine\r\n\r\n");
}

TEST_CASE("header injection is refused and nothing is written") {
    write_batch out;
    out.append_copy("earlier");
    response_head h;
    headers bad;
    bad.append("x", "a\r\nSet-Cookie: evil=1");
    h.fields = &bad;
    CHECK(head_result(h, out) == head_error::invalid_field_value);
    bad.clear();
    bad.append("x", "a\nb");
    CHECK(head_result(h, out) == head_error::invalid_field_value);
    bad.clear();
    bad.append("x", std::string("a\0b", 3));
    CHECK(head_result(h, out) == head_error::invalid_field_value);
    bad.clear();
    bad.append("x y", "v");
    CHECK(head_result(h, out) == head_error::invalid_field_name);
    bad.clear();
    bad.append("x:", "v");
    CHECK(head_result(h, out) == head_error::invalid_field_name);
    bad.clear();
    bad.append("", "v");
    CHECK(head_result(h, out) == head_error::invalid_field_name);
    CHECK(out.to_string() == "earlier");
    CHECK_FALSE(tessera::http1::to_string(head_error::invalid_field_value).empty());
}

TEST_CASE("a field the head leaves out is dropped unchecked, since it never reaches the wire") {
    // The server writes its own framing: the app's transfer-encoding always goes, and its
    // content-length when the framing is a length. What is not written cannot inject anything.
    headers fields;
    fields.append("content-length", "5\r\nx-evil: 1");
    fields.append("transfer-encoding", "chunked\r\n");
    fields.append("x-kept", "ok");
    response_head h;
    h.fields = &fields;
    h.framing = tessera::body_framing::content_length;
    h.content_length = 5;
    CHECK(head_bytes(h) == "HTTP/1.1 200 OK\r\nx-kept: ok\r\ncontent-length: 5\r\n\r\n");
    // Where the app's content-length is written (a HEAD response), it is checked as any field.
    h.framing = tessera::body_framing::none;
    write_batch out;
    CHECK(head_result(h, out) == head_error::invalid_field_value);
    CHECK(out.empty());
}

TEST_CASE("a tab inside a value is allowed") {
    const headers fields{{"x", "a\tb"}};
    response_head h;
    h.fields = &fields;
    CHECK(head_bytes(h) == "HTTP/1.1 200 OK\r\nx: a\tb\r\n\r\n");
}

TEST_CASE("a status outside 100-999 is refused") {
    write_batch out;
    response_head h;
    h.status = 99;
    CHECK(head_result(h, out) == head_error::invalid_status);
    h.status = 1000;
    CHECK(head_result(h, out) == head_error::invalid_status);
    CHECK(out.empty());
}

TEST_CASE("chunk headers are lower-case hex sizes") {
    CHECK(tessera::http1::make_chunk_header(0).view() == "0\r\n");
    CHECK(tessera::http1::make_chunk_header(255).view() == "ff\r\n");
    CHECK(tessera::http1::make_chunk_header(4096).view() == "1000\r\n");
    CHECK(tessera::http1::make_chunk_header(~std::uint64_t{0}).view() == "ffffffffffffffff\r\n");
}

TEST_CASE("the 100 Continue line is exact") {
    CHECK(tessera::http1::continue_response == "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST_CASE("a small response becomes one segment; a large body is borrowed, not copied") {
    response_head h;
    h.framing = body_framing::content_length;
    h.content_length = 5;
    write_batch out;
    REQUIRE(tessera::http1::write_response_head(h, out) == head_error::none);
    tessera::http1::write_body(body_framing::content_length, "hello", true, out);
    CHECK(out.segments().size() == 1);

    const std::string big(4096, 'b');
    write_batch batch;
    REQUIRE(tessera::http1::write_response_head(h, batch) == head_error::none);
    tessera::http1::write_chunk(big, batch);
    const auto segs = batch.segments();
    REQUIRE(segs.size() == 3);  // head + chunk header, the body, CRLF
    CHECK(segs[1].data() == big.data());
    CHECK(segs[1].size() == big.size());
    CHECK(segs[2] == "\r\n");
    CHECK(batch.size() == segs[0].size() + big.size() + 2);
}

TEST_CASE("owned segments stay correct when the owned buffer grows") {
    write_batch out(0);  // borrow everything
    const std::string body(100, 'z');
    out.append_copy("a");
    out.append_ref(body);
    for (int i = 0; i < 1000; ++i) out.append_copy("0123456789");
    out.append_ref(body);
    out.append_copy("end");
    const auto segs = out.segments();
    REQUIRE(segs.size() == 5);
    CHECK(segs[0] == "a");
    CHECK(segs[1].data() == body.data());
    CHECK(segs[2].size() == 10000);
    CHECK(segs[2].substr(0, 10) == "0123456789");
    CHECK(segs[4] == "end");
}

TEST_CASE("consume drops written bytes across segments, and own copies what is borrowed") {
    std::string body(1000, 'q');
    write_batch out(0);
    out.append_copy("head");
    out.append_ref(body);
    out.append_copy("tail");
    out.consume(6);
    CHECK(out.size() == 1002);
    CHECK(out.segments().front().size() == 998);
    out.own();
    body.assign(1000, 'X');  // the caller may now reuse its bytes
    CHECK(out.to_string() == std::string(998, 'q') + "tail");
    out.consume(1002);
    CHECK(out.empty());
    CHECK(out.segments().empty());
}

TEST_CASE("own after each send copies every borrowed piece, across growth and truncation") {
    // The server calls own() after every send of a pipelined batch; each call only looks at
    // what came since the last, so pieces borrowed before and after a truncate must all end
    // up copied, and the copies must survive the owned buffer growing.
    write_batch out(0);
    std::string expected;
    std::vector<std::string> pieces;
    pieces.reserve(40);
    for (int i = 0; i < 40; ++i) {
        pieces.emplace_back(static_cast<std::size_t>(300 + i), static_cast<char>('a' + i % 26));
        // (Built with append: GCC 12 warns falsely of an overlapping copy for `"<" + ...`.)
        std::string marker;
        marker.append("<").append(std::to_string(i)).append(">");
        out.append_copy(marker);
        out.append_ref(pieces.back());
        out.own();
        expected.append(marker).append(pieces.back());
        if (i == 20) {
            // Take back the last piece and its marker, then borrow a new one: it must be
            // copied by the next own() even though segments were removed before it.
            out.truncate(out.size() - pieces.back().size() - 4);
            expected.resize(expected.size() - pieces.back().size() - 4);
            out.append_ref(pieces.front());
            expected += pieces.front();
            out.own();
        }
    }
    for (auto& piece : pieces) piece.assign(piece.size(), '#');
    CHECK(out.to_string() == expected);
    out.consume(out.size());
    CHECK(out.empty());
    out.append_copy("again");
    CHECK(out.to_string() == "again");
}

TEST_CASE("truncate takes back the last bytes across segments and later appends coalesce") {
    const std::string body(1000, 'q');
    write_batch out(0);
    out.append_copy("first|");
    const std::size_t mark = out.size();
    out.append_copy("head");
    out.append_ref(body);
    out.append_copy("tail");
    out.truncate(out.size() + 5);  // beyond the end: nothing changes
    CHECK(out.size() == mark + 4 + 1000 + 4);
    out.truncate(mark + 4 + 10);  // into the borrowed body
    CHECK(out.to_string() == "first|head" + std::string(10, 'q'));
    out.truncate(mark);  // the whole "head" and what followed it
    CHECK(out.to_string() == "first|");
    out.append_copy("again");
    CHECK(out.segments().size() == 1);  // the given-back owned bytes were reused in place
    CHECK(out.to_string() == "first|again");
    out.consume(2);
    out.truncate(3);  // counts the pending bytes only
    CHECK(out.to_string() == "rst");
    out.truncate(0);
    CHECK(out.empty());
    CHECK(out.segments().empty());
}

TEST_CASE("IMF-fixdate formatting matches known dates") {
    using tessera::http1::format_http_date;
    CHECK(format_http_date(784111777).view() == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(format_http_date(0).view() == "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(format_http_date(-1).view() == "Wed, 31 Dec 1969 23:59:59 GMT");
    CHECK(format_http_date(951782400).view() == "Tue, 29 Feb 2000 00:00:00 GMT");
    CHECK(format_http_date(4107542399).view() == "Sun, 28 Feb 2100 23:59:59 GMT");
    CHECK(format_http_date(4107542400).view() == "Mon, 01 Mar 2100 00:00:00 GMT");
    CHECK(format_http_date(253402300799).view() == "Fri, 31 Dec 9999 23:59:59 GMT");
    CHECK(format_http_date(std::int64_t{1} << 62).view() == "Fri, 31 Dec 9999 23:59:59 GMT");
    CHECK(format_http_date(-62167219200).view() == "Sat, 01 Jan 0000 00:00:00 GMT");
}

TEST_CASE("is_token and is_field_value check what may go on the wire") {
    CHECK(tessera::http1::is_token("x-custom_header.1"));
    CHECK_FALSE(tessera::http1::is_token(""));
    CHECK_FALSE(tessera::http1::is_token("a b"));
    // Names are checked four bytes at a time: a bad byte is found at every position, in the
    // steps and in the tail.
    constexpr std::string_view name = "x-custom-header-name_1";
    for (const char bad : {' ', ':', '\r', '\n', '\0', '"', '\x7f', '\x80'}) {
        for (std::size_t at = 0; at < name.size(); ++at) {
            char text[name.size()];
            name.copy(text, name.size());
            text[at] = bad;
            INFO("byte " << static_cast<int>(bad) << " at " << at);
            CHECK_FALSE(tessera::http1::is_token(std::string_view(text, name.size())));
        }
    }
    for (std::size_t size = 1; size <= name.size(); ++size) {
        CHECK(tessera::http1::is_token(name.substr(0, size)));
    }
    CHECK(tessera::http1::is_field_value("caf\xc3\xa9 \t ok"));
    CHECK_FALSE(tessera::http1::is_field_value("a\rb"));
    CHECK_FALSE(tessera::http1::is_field_value("a\x7f"));
}

TEST_CASE("is_field_value finds a forbidden byte wherever it sits in a long value") {
    // The check runs eight bytes at a time: place each forbidden byte in every position of a
    // 40-byte value, inside a word and in the tail, and check allowed bytes never trip it.
    const std::string clean = "text/plain; charset=utf-8; q=0.5 \t\x80\xff|~ok";
    REQUIRE(tessera::http1::is_field_value(clean));
    for (const char bad : {'\0', '\r', '\n', '\x1f', '\x7f'}) {
        for (std::size_t at = 0; at < clean.size(); ++at) {
            std::string value = clean;
            value[at] = bad;
            INFO("byte " << static_cast<int>(bad) << " at " << at);
            CHECK_FALSE(tessera::http1::is_field_value(value));
        }
    }
    CHECK(tessera::http1::is_field_value(std::string(64, '\t')));
    CHECK(tessera::http1::is_field_value(std::string(64, ' ')));
    CHECK(tessera::http1::is_field_value(std::string(64, '\x80')));
}

TEST_CASE("framing and default fields are recognised whatever the case of a raw field name") {
    // headers built from raw fields keep names as given; the serializer still knows them.
    const headers fields(std::vector<tessera::header_field>{{"Transfer-Encoding", "gzip"},
                                                   {"CONTENT-LENGTH", "999"},
                                                   {"Date", "yesterday"},
                                                   {"SERVER", "mine"},
                                                   {"Content-Type", "a/b"}});
    response_head h;
    h.fields = &fields;
    h.framing = body_framing::content_length;
    h.content_length = 2;
    h.date = "Sat, 21 Nov 2026 10:00:00 GMT";
    h.server = "tessera";
    CHECK(head_bytes(h) ==
          "HTTP/1.1 200 OK\r\nDate: yesterday\r\nSERVER: mine\r\nContent-Type: a/b\r\n"
          "content-length: 2\r\n\r\n");
}

TEST_CASE("names that only look like the framing and default fields are ordinary fields") {
    // Names are matched a word at a time with the letters' case bit forced on: only a letter's
    // other case may stand in for it, never a byte that differs from '-' by that bit.
    response_head h;
    h.framing = body_framing::content_length;
    h.content_length = 2;
    h.date = "Sat, 21 Nov 2026 10:00:00 GMT";
    const headers near{{"content_length", "1"}, {"dates", "2"}, {"dat", "3"}, {"sErVeR2", "4"}};
    h.fields = &near;
    CHECK(head_bytes(h) ==
          "HTTP/1.1 200 OK\r\ndate: Sat, 21 Nov 2026 10:00:00 GMT\r\ncontent_length: 1\r\n"
          "dates: 2\r\ndat: 3\r\nserver2: 4\r\ncontent-length: 2\r\n\r\n");
    // A CR where the '-' goes (0x0d is '-' without 0x20) is not content-length: it is an
    // invalid name, refused like any other.
    const headers cr(std::vector<tessera::header_field>{{"content\rlength", "9"}});
    h.fields = &cr;
    write_batch out;
    CHECK(head_result(h, out) == head_error::invalid_field_name);
    const headers te(std::vector<tessera::header_field>{{"transfer\rencoding", "gzip"}});
    h.fields = &te;
    CHECK(head_result(h, out) == head_error::invalid_field_name);
    CHECK(out.empty());
}
