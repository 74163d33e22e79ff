// tests/support/redis_server.hpp — a real redis-server for one test, on a free loopback port.
//
// Starts `redis-server` (from PATH) in a temporary directory, without persistence unless asked
// for, waits until it answers, and stops it when destroyed. A missing redis-server is a test
// failure (the constructor throws), never a skip. kill() and restart() let tests take it away
// mid-run.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <tendril/redis/endpoint.hpp>

namespace tendril::testing {

class RedisServer {
 public:
  enum class Durability {
    none,          // a restart starts empty
    fsync_always,  // append-only file, fsync per write: a restart keeps every acknowledged write
  };
  explicit RedisServer(std::string password = {}, Durability durability = Durability::none)
      : password_(std::move(password)), durability_(durability) {
    char pattern[] = "/tmp/tendril-redis-XXXXXX";
    if (!::mkdtemp(pattern)) throw std::runtime_error("cannot make a temporary directory");
    dir_ = pattern;
    port_ = free_port();
    start();
  }
  ~RedisServer() {
    kill();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  const std::string& password() const { return password_; }
  // Where to reach it: 127.0.0.1, its port, its password (still valid after kill()).
  redis::Endpoint endpoint() const {
    redis::Endpoint endpoint;
    endpoint.host = "127.0.0.1";
    endpoint.port = port_;
    endpoint.password = password_;
    return endpoint;
  }

  // SIGKILL, as a crash would.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Starts again on the same port: empty, or with what it had (Durability::fsync_always).
  void restart() {
    kill();
    start();
  }

 private:
  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      throw std::runtime_error("cannot find a free loopback port");
    ::close(fd);
    return ntohs(address.sin_port);
  }

  static bool accepts(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
  }

  void start() {
    std::vector<std::string> args{
        "redis-server", "--port",    std::to_string(port_), "--bind", "127.0.0.1",
        "--save",       "",          "--appendonly",        "no",     "--dir",
        dir_,           "--logfile", dir_ + "/redis.log"};
    if (durability_ == Durability::fsync_always)
      args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always"});
    if (!password_.empty()) {
      args.push_back("--requirepass");
      args.push_back(password_);
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execvp("redis-server", argv.data());
      std::_Exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!accepts(port_)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error(
            "redis-server did not start (is it installed? scripts/setup.sh installs it)");
      }
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("redis-server did not accept connections within 10 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  std::string password_;
  Durability durability_ = Durability::none;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// The test server's endpoint with another password.
inline redis::Endpoint with_password(const RedisServer& server, std::string password) {
  redis::Endpoint endpoint = server.endpoint();
  endpoint.password = std::move(password);
  return endpoint;
}

// Any port on loopback, with no password.
inline redis::Endpoint at_port(int port) {
  redis::Endpoint endpoint;
  endpoint.host = "127.0.0.1";
  endpoint.port = port;
  return endpoint;
}

}  // namespace tendril::testing
