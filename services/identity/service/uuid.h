// Random identifiers of the identity service: user ids, session ids, token ids (jti).
//
// Threading: thread-safe.
#pragma once

#include <string>

namespace coffer::identity {

// A new random (version 4) UUID in canonical lowercase text form.
std::string NewUuid();

}  // namespace coffer::identity
