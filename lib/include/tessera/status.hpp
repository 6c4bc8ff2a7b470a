#pragma once
/// HTTP status codes: reason phrases, named constants, and which statuses carry a body.

#include <string_view>

namespace tessera {

/// The reason phrase registered with IANA for `status` (RFC 9110 wording: 413 "Content Too
/// Large", 422 "Unprocessable Content"; 418 is "I'm a teapot"). Unregistered or unused codes
/// (306, 499, 600, ...) give an empty view; the caller decides what to send. The returned view
/// refers to static storage.
[[nodiscard]] std::string_view reason_phrase(int status) noexcept;

/// Whether a response with this status may carry content: false for 1xx, 204 and 304
/// (RFC 9110 §6.4.1). Whether the request method allows one (HEAD) is the caller's concern.
[[nodiscard]] constexpr bool status_allows_body(int status) noexcept {
    return !(status >= 100 && status < 200) && status != 204 && status != 304;
}

/// Named status codes for the common cases: `status::not_found` rather than 404.
namespace status {
inline constexpr int continue_ = 100;  // `continue` is a keyword
inline constexpr int switching_protocols = 101;
inline constexpr int early_hints = 103;

inline constexpr int ok = 200;
inline constexpr int created = 201;
inline constexpr int accepted = 202;
inline constexpr int no_content = 204;
inline constexpr int reset_content = 205;
inline constexpr int partial_content = 206;

inline constexpr int multiple_choices = 300;
inline constexpr int moved_permanently = 301;
inline constexpr int found = 302;
inline constexpr int see_other = 303;
inline constexpr int not_modified = 304;
inline constexpr int temporary_redirect = 307;
inline constexpr int permanent_redirect = 308;

inline constexpr int bad_request = 400;
inline constexpr int unauthorized = 401;
inline constexpr int payment_required = 402;
inline constexpr int forbidden = 403;
inline constexpr int not_found = 404;
inline constexpr int method_not_allowed = 405;
inline constexpr int not_acceptable = 406;
inline constexpr int proxy_authentication_required = 407;
inline constexpr int request_timeout = 408;
inline constexpr int conflict = 409;
inline constexpr int gone = 410;
inline constexpr int length_required = 411;
inline constexpr int precondition_failed = 412;
inline constexpr int content_too_large = 413;
inline constexpr int uri_too_long = 414;
inline constexpr int unsupported_media_type = 415;
inline constexpr int range_not_satisfiable = 416;
inline constexpr int expectation_failed = 417;
inline constexpr int im_a_teapot = 418;
inline constexpr int misdirected_request = 421;
inline constexpr int unprocessable_content = 422;
/// The pre-RFC 9110 name Starlette still uses for 422.
inline constexpr int unprocessable_entity = 422;
inline constexpr int too_early = 425;
inline constexpr int upgrade_required = 426;
inline constexpr int precondition_required = 428;
inline constexpr int too_many_requests = 429;
inline constexpr int request_header_fields_too_large = 431;
inline constexpr int unavailable_for_legal_reasons = 451;

inline constexpr int internal_server_error = 500;
inline constexpr int not_implemented = 501;
inline constexpr int bad_gateway = 502;
inline constexpr int service_unavailable = 503;
inline constexpr int gateway_timeout = 504;
inline constexpr int http_version_not_supported = 505;
}  // namespace status

}  // namespace tessera
