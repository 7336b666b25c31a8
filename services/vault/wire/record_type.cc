#include "services/vault/wire/record_type.h"

namespace coffer::vault::wire {

std::optional<domain::RecordType> TypeFromProto(v1::RecordType type) {
  if (type < v1::RECORD_TYPE_CREDENTIAL || type > v1::RECORD_TYPE_SEALED) return std::nullopt;
  return static_cast<domain::RecordType>(type);  // same numbering, by design
}

v1::RecordType TypeToProto(domain::RecordType type) { return static_cast<v1::RecordType>(type); }

}  // namespace coffer::vault::wire
