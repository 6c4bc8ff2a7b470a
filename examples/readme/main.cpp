// The README's hello world, compiled so the README stays true. Run: ./build/examples/readme/readme
#include <iostream>
#include <tessera/response.hpp>
#include <tessera/testing/test_client.hpp>
using namespace tessera;

task<void> hello(scope& s, receive r, send sd) {  // every piece of tessera is an app like this
    const plain_text_response answer("Hello, world!");
    co_await answer(s, r, sd);  // a response is an app too
}

int main() {
    testing::test_client client(hello);  // in memory, no sockets: the way tests drive any app
    std::cout << client.get("/").text() << '\n';
}
