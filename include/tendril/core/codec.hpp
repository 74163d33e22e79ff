// tendril/core/codec.hpp — how items cross a process boundary: to bytes and back. One codec
// layer for every boundary: Redis Streams stages (tendril::stream) and process workers.
//
//   tendril::JsonCodec<Point>    nlohmann's to_json/from_json (the default)
//   tendril::BinaryCodec<int>    the object's bytes: trivially copyable types and strings
//
// A codec is a class template instantiated per item type with two static functions:
// `std::string encode(const T&)` and `Result<T> decode(std::string_view)`. decode() never
// throws: bytes it cannot read are an `invalid` Error saying why, so that a worker can send the
// entry to the dead-letter stream and go on. Only the files that use JsonCodec need
// nlohmann/json's headers. Write your own for other formats (protobuf,
// msgpack): any template with those two functions will do.
#pragma once

#include <concepts>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "tendril/core/error.hpp"

namespace tendril {

template <template <class> class Codec, class T>
concept CodecFor = requires(const T& value, std::string_view bytes) {
  { Codec<T>::encode(value) } -> std::convertible_to<std::string>;
  { Codec<T>::decode(bytes) } -> std::same_as<Result<T>>;
};

inline Error undecodable(std::string why) {
  return Error{.kind = ErrorKind::invalid, .message = "cannot decode the item: " + std::move(why)};
}

// A type nlohmann/json can make from and into JSON (to_json/from_json, by ADL or adl_serializer).
template <class T>
concept JsonConvertible = requires(const T& value, const nlohmann::json& json) {
  nlohmann::json(value);
  json.template get<T>();
};

// JSON text through the type's nlohmann to_json/from_json. Its functions exist only for a
// JsonConvertible T, so that CodecFor<JsonCodec, T> says whether T can cross.
template <class T>
struct JsonCodec {
  static std::string encode(const T& value) requires JsonConvertible<T> {
    return nlohmann::json(value).dump();
  }
  static Result<T> decode(std::string_view bytes) requires JsonConvertible<T> {
    try {
      return nlohmann::json::parse(bytes).template get<T>();
    } catch (const std::exception& error) {
      return std::unexpected(undecodable(error.what()));
    }
  }
};

// The object's bytes as they are in memory: for trivially copyable types (the same layout on
// both sides: one architecture and build of the type) and for std::string (its characters).
template <class T>
struct BinaryCodec {
  static_assert(std::is_trivially_copyable_v<T>,
                "BinaryCodec takes trivially copyable types and std::string; use JsonCodec or a "
                "codec of your own for others");
  static std::string encode(const T& value) {
    return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
  }
  static Result<T> decode(std::string_view bytes) {
    if (bytes.size() != sizeof(T))
      return std::unexpected(undecodable(std::to_string(bytes.size()) + " bytes where a " +
                                         std::to_string(sizeof(T)) + "-byte value was expected"));
    T value;
    std::memcpy(&value, bytes.data(), sizeof(T));
    return value;
  }
};

template <>
struct BinaryCodec<std::string> {
  static std::string encode(const std::string& value) { return value; }
  static Result<std::string> decode(std::string_view bytes) { return std::string(bytes); }
};

}  // namespace tendril
