// How every unary gRPC request Coffer serves is parsed, and why it is not gRPC's default.
//
// gRPC's generated unary handlers parse requests through SerializationTraits<MessageLite>. Its
// default answers any parse failure with INTERNAL and an empty message, so a client that sends
// invalid UTF-8 in a string field (a record name, a login, a search query, a cursor) is told the
// server broke. This header replaces that one specialization: a request that does not parse is
// INVALID_ARGUMENT, naming the first string field that holds invalid UTF-8 (its path, never its
// value), or "malformed request message" when the bytes are not protobuf at all. Serializing is
// unchanged.
//
// It is force-included (-include) into every translation unit of the generated protobuf/gRPC
// libraries (proto/CMakeLists.txt, and the test protos), so the specialization is seen before
// gRPC's generated code instantiates the default one. Do not include it anywhere else.
#pragma once

#include <grpcpp/impl/codegen/proto_buffer_reader.h>
#include <grpcpp/impl/codegen/proto_buffer_writer.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/codegen/serialization_traits.h>
#include <grpcpp/support/status.h>

#include <string>

namespace coffer::proto_support {

// Parses `buffer` into `msg`; on failure INVALID_ARGUMENT as described above. Clears `buffer`.
grpc::Status ParseRequest(grpc::ByteBuffer* buffer, grpc::protobuf::MessageLite* msg);

// The dotted path of the first string field in `bytes` (wire format of a message of `msg`'s type)
// whose content is not valid UTF-8, or "" when there is none (or the bytes do not parse).
std::string FirstInvalidUtf8Field(const grpc::protobuf::MessageLite& msg, const std::string& bytes);

}  // namespace coffer::proto_support

namespace grpc {

template <>
class SerializationTraits<protobuf::MessageLite, void> {
 public:
  static Status Serialize(const protobuf::MessageLite& msg, ByteBuffer* bb, bool* own_buffer) {
    return GenericSerialize<ProtoBufferWriter, protobuf::MessageLite>(msg, bb, own_buffer);
  }
  static Status Deserialize(ByteBuffer* buffer, protobuf::MessageLite* msg) {
    return coffer::proto_support::ParseRequest(buffer, msg);
  }
};

}  // namespace grpc
