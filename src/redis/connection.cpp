#include "tendril/redis/connection.hpp"

#include <hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <charconv>
#include <new>
#include <utility>

namespace tendril::redis {
namespace {

timeval to_timeval(std::chrono::milliseconds timeout) {
  return timeval{static_cast<time_t>(timeout.count() / 1000),
                 static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
}

Reply convert(const redisReply* reply) {
  Reply out;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::string;
      out.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::status;
      out.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::error;
      out.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::integer;
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::array;
      out.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i)
        out.elements.push_back(convert(reply->element[i]));
      break;
    default:
      out.type = Reply::Type::nil;
  }
  return out;
}

struct ReplyOwner {
  redisReply* reply;
  ~ReplyOwner() {
    if (reply) freeReplyObject(reply);
  }
};

void append(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data());
}

// A peer that closed its socket makes a write raise SIGPIPE, whose default action ends the
// process. hiredis writes with plain write(), so while a command is written the calling thread
// blocks SIGPIPE, and a SIGPIPE the write raised is taken off the thread before it is unblocked
// (the write itself fails with EPIPE, which is the error we report). The program's own
// disposition of SIGPIPE is never changed, and a SIGPIPE that was pending before stays pending.
class SigpipeShield {
 public:
  SigpipeShield() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
  }
  ~SigpipeShield() {
    if (!was_pending_) {
      const timespec now{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &now) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeShield(const SigpipeShield&) = delete;
  SigpipeShield& operator=(const SigpipeShield&) = delete;

 private:
  sigset_t pipe_;
  sigset_t previous_;
  bool was_pending_ = false;
};

Error refused(std::string message) {
  return Error{.kind = ErrorKind::refused, .message = std::move(message)};
}

// The reply Redis sent before it closed a connection whose write then failed, or null. Redis
// answers a command it will not read (a bulk over proto-max-bulk-len) with an error and closes
// the socket; the client, still writing, gets EPIPE or ECONNRESET, but the error reply is
// already in its receive queue, and says why. Waits at most 100 ms for it.
redisReply* reply_left_behind(redisContext* context) {
  if (context->fd < 0) return nullptr;
  char buffer[4096];
  for (int reads = 0; reads < 64; ++reads) {
    void* raw = nullptr;
    if (redisReaderGetReply(context->reader, &raw) != REDIS_OK) return nullptr;
    if (raw) return static_cast<redisReply*>(raw);
    pollfd ready{.fd = context->fd, .events = POLLIN, .revents = 0};
    if (::poll(&ready, 1, 100) <= 0) return nullptr;
    const ssize_t got = ::recv(context->fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (got <= 0) return nullptr;
    if (redisReaderFeed(context->reader, buffer, static_cast<size_t>(got)) != REDIS_OK)
      return nullptr;
  }
  return nullptr;
}

}  // namespace

RedisResult<Connection> Connection::open(const Endpoint& endpoint) {
  const timeval timeout = to_timeval(endpoint.timeout);
  redisContext* context = redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, timeout);
  if (!context) return std::unexpected(refused("cannot allocate a Redis context"));
  Connection connection(endpoint, context);
  if (context->err) return std::unexpected(connection.connection_error("connecting to"));
  if (redisSetTimeout(context, timeout) != REDIS_OK)
    return std::unexpected(connection.connection_error("setting the timeout of"));
  if (auto logged_in = connection.log_in(); !logged_in) return std::unexpected(logged_in.error());
  return connection;
}

Connection::Connection(Endpoint endpoint, redisContext* context)
    : endpoint_(std::move(endpoint)), context_(context) {}

Connection::Connection(Connection&& other) noexcept
    : endpoint_(std::move(other.endpoint_)), context_(std::exchange(other.context_, nullptr)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (context_) redisFree(context_);
    endpoint_ = std::move(other.endpoint_);
    context_ = std::exchange(other.context_, nullptr);
  }
  return *this;
}

Connection::~Connection() {
  if (context_) redisFree(context_);
}

bool Connection::healthy() const noexcept { return context_ && !context_->err; }

Error Connection::connection_error(const std::string& doing) const {
  const std::string cause = context_ && context_->err ? context_->errstr : "no connection";
  return Error{.kind = ErrorKind::connection,
               .message = doing + " " + endpoint_.describe() + " failed: " + cause};
}

RedisResult<void> Connection::log_in() {
  if (!endpoint_.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (endpoint_.username != "default") auth.push_back(endpoint_.username);
    auth.push_back(endpoint_.password);
    auto reply = command(auth);
    if (!reply)
      return std::unexpected(Error{.kind = reply.error().kind,
                                   .message = "logging in to " + endpoint_.describe() + " as '" +
                                              endpoint_.username +
                                              "' failed: " + reply.error().message});
  }
  if (endpoint_.db != 0) {
    auto reply = command({"SELECT", std::to_string(endpoint_.db)});
    if (!reply) return std::unexpected(reply.error());
  }
  return {};
}

namespace {

// The one reply of a one-command round trip; an error reply becomes a `refused` Error naming
// the command.
RedisResult<Reply> only_reply(RedisResult<std::vector<Reply>>&& replies, std::string_view name) {
  if (!replies) return std::unexpected(replies.error());
  Reply& reply = replies->front();
  if (reply.type == Reply::Type::error)
    return std::unexpected(refused("Redis refused " + std::string(name) + ": " + reply.text));
  return std::move(reply);
}

}  // namespace

RedisResult<Reply> Connection::command(const std::vector<std::string>& args) {
  return only_reply(pipeline({args}), args.empty() ? "(empty)" : std::string_view(args.front()));
}

Commands& Commands::begin(std::size_t arguments) {
  wire_ += '*';
  wire_ += std::to_string(arguments);
  wire_ += "\r\n";
  ++count_;
  return *this;
}

Commands& Commands::arg(std::string_view value) {
  char header[24];
  const auto end = std::to_chars(header, header + sizeof header, value.size()).ptr;
  wire_ += '$';
  wire_.append(header, end);
  wire_ += "\r\n";
  wire_.append(value);
  wire_ += "\r\n";
  return *this;
}

Commands& Commands::arg(std::uint64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  return arg(std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

Commands& Commands::add(std::initializer_list<std::string_view> command) {
  begin(command.size());
  for (std::string_view a : command) arg(a);
  return *this;
}

RedisResult<std::vector<Reply>> Connection::pipeline(const Commands& commands) {
  return send(commands, "the command");
}

RedisResult<Reply> Connection::command(const Commands& one, std::string_view name) {
  return only_reply(send(one, name), name);
}

RedisResult<std::vector<Reply>> Connection::send(const Commands& commands, std::string_view name) {
  if (!healthy()) return std::unexpected(connection_error("talking to"));
  const SigpipeShield shield;
  if (!commands.empty())
    redisAppendFormattedCommand(context_, commands.wire().data(), commands.wire().size());
  return read_replies(commands.size(), [&](std::size_t) { return name; });
}

RedisResult<std::vector<Reply>> Connection::pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  if (!healthy()) return std::unexpected(connection_error("talking to"));
  const SigpipeShield shield;  // the first redisGetReply writes what append() buffered
  for (const auto& args : commands) append(context_, args);
  return read_replies(commands.size(), [&](std::size_t i) {
    return commands[i].empty() ? std::string_view("(empty)")
                               : std::string_view(commands[i].front());
  });
}

template <class Name>
RedisResult<std::vector<Reply>> Connection::read_replies(std::size_t count, Name name_of) {
  std::vector<Reply> replies;
  replies.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK) {
      // A refusal Redis sent before it hung up names the cause better than the broken pipe.
      const ReplyOwner left{reply_left_behind(context_)};
      if (left.reply && left.reply->type == REDIS_REPLY_ERROR) {
        const std::string name(name_of(i));
        return std::unexpected(refused("Redis refused " + name + ": " +
                                       std::string(left.reply->str, left.reply->len) +
                                       " (and closed the connection)"));
      }
      return std::unexpected(connection_error("talking to"));
    }
    ReplyOwner owner{static_cast<redisReply*>(raw)};
    replies.push_back(convert(owner.reply));
  }
  return replies;
}

namespace {

// The largest array header in `resp` whose elements could not fit in the bytes after it (each
// element takes at least 3), or 0. hiredis 0.14 allocates an array's element table from its
// header alone, so "*999999999" would cost gigabytes before a byte of it arrived.
long long impossible_array(std::string_view resp) {
  std::size_t pos = 0;
  std::vector<long long> pending{1};  // elements still to read at each open level
  while (!pending.empty() && pos < resp.size()) {
    if (pending.back() == 0) {
      pending.pop_back();
      continue;
    }
    --pending.back();
    const auto end = resp.find("\r\n", pos);
    if (end == std::string_view::npos) return 0;  // incomplete: the reader says so
    long long n = 0;
    const char* first = resp.data() + pos + 1;
    const bool number = std::from_chars(first, resp.data() + end, n).ptr == resp.data() + end;
    const char type = resp[pos];
    pos = end + 2;
    if (!number) continue;  // a simple string, an error, or malformed: the reader decides
    if (type == '$' && n > 0) pos += static_cast<std::size_t>(n) + 2;
    if (type == '*' && n > 0) {
      if (static_cast<unsigned long long>(n) > (resp.size() - pos) / 3) return n;
      pending.push_back(n);
    }
  }
  return 0;
}

}  // namespace

Result<Reply> decode_reply(std::string_view resp) {
  if (const long long n = impossible_array(resp))
    return std::unexpected(Error{ErrorKind::invalid, "incomplete RESP reply: an array of " +
                                                         std::to_string(n) + " elements in " +
                                                         std::to_string(resp.size()) + " bytes"});
  redisReader* reader = redisReaderCreate();
  if (!reader) throw std::bad_alloc();
  void* raw = nullptr;
  const bool fed = redisReaderFeed(reader, resp.data(), resp.size()) == REDIS_OK;
  const bool read = fed && redisReaderGetReply(reader, &raw) == REDIS_OK;
  const std::string why = read ? std::string() : std::string(reader->errstr);
  redisReaderFree(reader);
  ReplyOwner owner{static_cast<redisReply*>(raw)};
  if (!read) return std::unexpected(Error{ErrorKind::invalid, "malformed RESP reply: " + why});
  if (!owner.reply) return std::unexpected(Error{ErrorKind::invalid, "incomplete RESP reply"});
  return convert(owner.reply);
}

RedisResult<Reply> Connection::receive() {
  if (!healthy()) return std::unexpected(connection_error("talking to"));
  void* raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK)
    return std::unexpected(connection_error("waiting for a message from"));
  ReplyOwner owner{static_cast<redisReply*>(raw)};
  return convert(owner.reply);
}

}  // namespace tendril::redis
