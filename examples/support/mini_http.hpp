// examples/support/mini_http.hpp — a tiny HTTP/1.1 server and client over Asio, on loopback.
//
// For the coroutine examples and tests: real sockets, real bytes, nothing mocked. The server
// answers GET /double/N with the body 2N (keep-alive), GET /fail/N with status 500, and counts
// the connections it accepted. The client keeps one connection open and reuses it.
#pragma once

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <atomic>
#include <istream>
#include <stdexcept>
#include <string>
#include <thread>

namespace mini_http {

// Serves on 127.0.0.1, on a free port, from its own thread, until destroyed.
class Server {
 public:
  Server() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Server() {
    io_.stop();
    thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      asio::ip::tcp::socket socket = co_await acceptor_.async_accept(asio::use_awaitable);
      ++connections_;
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }
  asio::awaitable<void> serve(asio::ip::tcp::socket socket) {
    asio::streambuf buffer;
    try {
      for (;;) {
        co_await asio::async_read_until(socket, buffer, "\r\n\r\n", asio::use_awaitable);
        std::istream request(&buffer);
        std::string method, path, line;
        request >> method >> path;
        while (std::getline(request, line) && line != "\r") {
        }
        ++requests_;
        std::string status = "200 OK", body;
        if (path.rfind("/double/", 0) == 0) {
          body = std::to_string(2 * std::stol(path.substr(8)));
        } else {
          status = path.rfind("/fail/", 0) == 0 ? "500 Internal Server Error" : "404 Not Found";
          body = status;
        }
        std::string response = "HTTP/1.1 " + status +
                               "\r\nContent-Length: " + std::to_string(body.size()) +
                               "\r\nConnection: keep-alive\r\n\r\n" + body;
        co_await asio::async_write(socket, asio::buffer(response), asio::use_awaitable);
      }
    } catch (const std::exception&) {  // the client closed the connection
    }
  }

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// One keep-alive connection; get() may be called again and again, one request at a time.
class Client {
 public:
  explicit Client(asio::any_io_executor executor) : socket_(std::move(executor)) {}

  asio::awaitable<void> connect(unsigned short port) {
    co_await socket_.async_connect({asio::ip::make_address("127.0.0.1"), port},
                                   asio::use_awaitable);
  }
  bool connected() const { return socket_.is_open(); }

  // The body of GET `path`; throws std::runtime_error naming the status when it is not 200.
  asio::awaitable<std::string> get(const std::string& path) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    co_await asio::async_write(socket_, asio::buffer(request), asio::use_awaitable);
    const std::size_t header_end =
        co_await asio::async_read_until(socket_, buffer_, "\r\n\r\n", asio::use_awaitable);
    std::string head(asio::buffers_begin(buffer_.data()),
                     asio::buffers_begin(buffer_.data()) + static_cast<long>(header_end));
    buffer_.consume(header_end);
    const std::size_t length_at = head.find("Content-Length: ");
    const std::size_t length =
        length_at == std::string::npos ? 0 : std::stoul(head.substr(length_at + 16));
    if (buffer_.size() < length)
      co_await asio::async_read(socket_, buffer_, asio::transfer_exactly(length - buffer_.size()),
                                asio::use_awaitable);
    std::string body(asio::buffers_begin(buffer_.data()),
                     asio::buffers_begin(buffer_.data()) + static_cast<long>(length));
    buffer_.consume(length);
    const std::string status = head.substr(9, 3);
    if (status != "200") throw std::runtime_error("HTTP " + status + " for " + path);
    co_return body;
  }

 private:
  asio::ip::tcp::socket socket_;
  asio::streambuf buffer_;
};

}  // namespace mini_http
