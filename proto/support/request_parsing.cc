#include "proto/support/request_parsing.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/unknown_field_set.h>

#include <cstdio>
#include <vector>

namespace coffer::proto_support {
namespace {

namespace pb = google::protobuf;

constexpr int kMaxDepth = 32;

// protobuf logs one line per string field with bad UTF-8 it meets while parsing. Those requests
// are answered with INVALID_ARGUMENT (above), so the line would only let any client write to the
// log at will; it is dropped. Everything else protobuf logs still goes to stderr.
void ProtobufLog(pb::LogLevel level, const char* filename, int line, const std::string& message) {
  if (message.find("contains invalid UTF-8 data when parsing") != std::string::npos) return;
  static const char* const kLevels[] = {"INFO", "WARNING", "ERROR", "FATAL"};
  const char* name = level >= 0 && level <= 3 ? kLevels[level] : "?";
  std::fprintf(stderr, "[libprotobuf %s %s:%d] %s\n", name, filename, line, message.c_str());
}

[[maybe_unused]] const bool kLogHandlerInstalled = [] {
  pb::SetLogHandler(&ProtobufLog);
  return true;
}();

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

std::string Find(const pb::Descriptor* type, const std::string& bytes, const std::string& prefix,
                 int depth) {
  if (depth > kMaxDepth) return "";
  pb::UnknownFieldSet fields;
  if (!fields.ParseFromString(bytes)) return "";
  for (int i = 0; i < fields.field_count(); ++i) {
    const pb::UnknownField& f = fields.field(i);
    if (f.type() != pb::UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const pb::FieldDescriptor* fd = type->FindFieldByNumber(f.number());
    if (fd == nullptr) continue;
    const std::string path = prefix.empty() ? fd->name() : prefix + "." + fd->name();
    if (fd->type() == pb::FieldDescriptor::TYPE_STRING) {
      if (!ValidUtf8(f.length_delimited())) return path;
    } else if (fd->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
      std::string inner = Find(fd->message_type(), f.length_delimited(), path, depth + 1);
      if (!inner.empty()) return inner;
    }
  }
  return "";
}

}  // namespace

std::string FirstInvalidUtf8Field(const grpc::protobuf::MessageLite& msg,
                                  const std::string& bytes) {
  const auto* full = dynamic_cast<const pb::Message*>(&msg);
  if (full == nullptr) return "";
  return Find(full->GetDescriptor(), bytes, "", 0);
}

grpc::Status ParseRequest(grpc::ByteBuffer* buffer, grpc::protobuf::MessageLite* msg) {
  if (buffer == nullptr) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "no payload");
  }
  bool parsed;
  {
    grpc::ProtoBufferReader reader(buffer);
    if (!reader.status().ok()) return reader.status();
    parsed = msg->ParseFromZeroCopyStream(&reader);
  }
  if (parsed) {
    buffer->Clear();
    return grpc::Status::OK;
  }
  // The slow path, only for bad input: find the field to name.
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (buffer->Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  buffer->Clear();
  msg->Clear();
  const std::string field = FirstInvalidUtf8Field(*msg, bytes);
  if (!field.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "field '" + field + "' must be valid UTF-8");
  }
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "malformed request message");
}

}  // namespace coffer::proto_support
