#pragma once
// The answer when nothing routes a scope, shared by routers and stand-alone routes.

#include "tessera/app.hpp"

namespace tessera::detail {

// HTTP: 404, thrown as http_error when an exception layer handles errors (http_errors_handled),
// else answered in plain text (Starlette's behaviour). WebSocket: closed before accept, which
// transports answer as 403. Lifespan: nothing.
task<void> answer_not_found(scope& s, receive r, send sd);

}  // namespace tessera::detail
