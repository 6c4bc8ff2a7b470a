#include "tessera/server_error_response.hpp"

#include <typeinfo>

#include "tessera/cancellation.hpp"  // operation_cancelled
#include "tessera/log.hpp"
#include "tessera/loop.hpp"
#include "tessera/state.hpp"  // detail::type_display_name
#include "tessera/status.hpp"

#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define TESSERA_ERRORS_HAS_CXXABI 1
#endif

namespace tessera {

namespace {
constexpr std::string_view internal_server_error = "Internal Server Error";

// Header values a debug page must not print: a page pasted into a bug report would leak them.
bool is_secret_header(std::string_view name) noexcept {
    return name == "authorization" || name == "proxy-authorization" || name == "cookie";
}

void append_html_escaped(std::string& out, std::string_view text) {
    for (const char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#x27;"; break;
            default: out.push_back(c);
        }
    }
}

bool accepts_html(const headers& fields) {
    for (const auto value : fields.get_all("accept")) {
        if (to_lower_ascii(value).find("text/html") != std::string::npos) return true;
    }
    return false;
}

std::string request_line(const scope& s) {
    std::string line = s.method;
    line += ' ';
    line += s.raw_path.empty() ? s.path : s.raw_path;
    if (!s.query_string.empty()) line.append("?").append(s.query_string);
    line.append(" HTTP/").append(s.http_version);
    return line;
}

std::string_view shown_value(const header_field& field) noexcept {
    return is_secret_header(field.name) ? std::string_view("[masked]") : field.value;
}

constexpr std::string_view page_style =
    "body{font-family:sans-serif;margin:2em;color:#211c1c}"
    "h1{color:#a01818}pre{background:#f4f4f4;padding:1em;white-space:pre-wrap}"
    "table{border-collapse:collapse}th,td{text-align:left;padding:2px 1em 2px 0;"
    "font-family:monospace;vertical-align:top}";

std::string html_page(const scope& s, const exception_description& what) {
    std::string page;
    page.reserve(1024);
    page += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>500 Internal Server Error</title>\n<style>";
    page += page_style;
    page += "</style>\n</head>\n<body>\n<h1>500 Internal Server Error</h1>\n<h2>";
    append_html_escaped(page, what.type);
    page += "</h2>\n<pre>";
    append_html_escaped(page, what.message);
    page += "</pre>\n<h3>Request</h3>\n<pre>";
    append_html_escaped(page, request_line(s));
    page += "</pre>\n<h3>Headers</h3>\n<table>\n";
    for (const auto& field : s.headers) {
        page += "<tr><th>";
        append_html_escaped(page, field.name);
        page += "</th><td>";
        append_html_escaped(page, shown_value(field));
        page += "</td></tr>\n";
    }
    page += "</table>\n</body>\n</html>\n";
    return page;
}

std::string text_page(const scope& s, const exception_description& what) {
    std::string page = "500 Internal Server Error\n\n";
    page += what.type;
    if (!what.message.empty()) page.append(": ").append(what.message);
    page += "\n\n";
    page += request_line(s);
    page += '\n';
    for (const auto& field : s.headers) {
        page.append(field.name).append(": ").append(shown_value(field)).push_back('\n');
    }
    return page;
}

// The loop's sink is how components reach the log (the server gives each worker loop its own).
void log_error(std::string_view message) noexcept {
    try {
        if (auto* loop = event_loop::current()) {
            emit(loop->options().sink, log_level::error, "server-error", message);
        }
    } catch (...) {
        // A failing sink must not turn a 500 into a crash.
    }
}
}  // namespace

exception_description describe_exception(const std::exception_ptr& error) {
    exception_description out;
    if (!error) return {"(no exception)", {}};
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        out.type = detail::type_display_name(typeid(e));
        out.message = e.what();
    } catch (...) {
#ifdef TESSERA_ERRORS_HAS_CXXABI
        // Not derived from std::exception: the ABI still knows the thrown type.
        if (const std::type_info* type = abi::__cxa_current_exception_type()) {
            out.type = detail::type_display_name(*type);
        }
#endif
        if (out.type.empty()) out.type = "unknown exception";
    }
    return out;
}

response plain_server_error_response() {
    return plain_text_response(std::string(internal_server_error),
                               status::internal_server_error);
}

response debug_server_error_response(const scope& s, const std::exception_ptr& error) {
    const auto what = describe_exception(error);
    if (accepts_html(s.headers)) {
        return html_response(html_page(s, what), status::internal_server_error);
    }
    return plain_text_response(text_page(s, what), status::internal_server_error);
}

task<response> server_error_response(request& req, std::exception_ptr error, bool debug,
                                     const server_error_handler& handler) {
    if (debug) co_return debug_server_error_response(req.scope(), error);
    if (!handler) co_return plain_server_error_response();
    std::exception_ptr handler_failure;
    try {
        co_return co_await handler(req, error);
    } catch (...) {
        handler_failure = std::current_exception();
    }
    const auto original = describe_exception(error);
    const auto failure = describe_exception(handler_failure);
    log_error("the server error handler failed (" + failure.type + ": " + failure.message +
              ") while answering " + original.type + ": " + original.message);
    co_return plain_server_error_response();
}

task<void> send_server_error(scope& s, receive r, send sd, std::exception_ptr error, bool debug,
                             const server_error_handler& handler) {
    request req(s, r);
    response answer = co_await server_error_response(req, std::move(error), debug, handler);
    co_await std::move(answer)(s, r, sd);
}

bool is_client_gone_or_cancelled(const std::exception_ptr& error) noexcept {
    try {
        std::rethrow_exception(error);
    } catch (const client_disconnected&) {
        return true;
    } catch (const operation_cancelled&) {
        return true;
    } catch (...) {
        return false;
    }
}

}  // namespace tessera
