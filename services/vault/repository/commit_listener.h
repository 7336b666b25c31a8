// CommitListener: told, after a transaction that changed a space's records, blobs or membership
// registers committed, which space changed. The Pg* repositories call it; sync::ChangeNotifier
// implements it (it wakes Watch streams and the outbox relay, here and on the other replicas).
//
// Why a callback after commit and not NOTIFY inside the transaction: see migrations/V003.
//
// Threading: implementations are thread-safe and quick (called on the writing thread).
#pragma once

#include <string>

namespace coffer::vault::repository {

class CommitListener {
 public:
  virtual ~CommitListener() = default;

  // Records (or blobs, or registers) of `space_id` changed in a transaction that has committed.
  virtual void Committed(const std::string& space_id) = 0;
};

}  // namespace coffer::vault::repository
