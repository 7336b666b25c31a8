#include "services/vault/domain/version_vector.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace coffer::vault::domain {

VersionVector::VersionVector(std::map<std::string, uint64_t> counters)
    : counters_(std::move(counters)) {
  std::erase_if(counters_, [](const auto& kv) { return kv.second == 0; });
}

uint64_t VersionVector::Get(const std::string& shard) const {
  auto it = counters_.find(shard);
  return it == counters_.end() ? 0 : it->second;
}

void VersionVector::Set(const std::string& shard, uint64_t counter) {
  if (counter == 0) {
    counters_.erase(shard);
  } else {
    counters_[shard] = counter;
  }
}

uint64_t VersionVector::Increment(const std::string& shard) { return ++counters_[shard]; }

void VersionVector::MergeFrom(const VersionVector& other) {
  for (const auto& [shard, counter] : other.counters_) {
    uint64_t& mine = counters_[shard];
    mine = std::max(mine, counter);
  }
}

VersionVector VersionVector::Merge(const VersionVector& a, const VersionVector& b) {
  VersionVector out = a;
  out.MergeFrom(b);
  return out;
}

VectorOrder VersionVector::Compare(const VersionVector& other) const {
  bool a_greater = false;  // some counter of a exceeds b's
  bool b_greater = false;
  auto a = counters_.begin();
  auto b = other.counters_.begin();
  // Both maps are sorted by shard: walk them together; missing entries count as 0.
  while (a != counters_.end() || b != other.counters_.end()) {
    if (b == other.counters_.end() || (a != counters_.end() && a->first < b->first)) {
      a_greater = true;
      ++a;
    } else if (a == counters_.end() || b->first < a->first) {
      b_greater = true;
      ++b;
    } else {
      if (a->second > b->second) a_greater = true;
      if (b->second > a->second) b_greater = true;
      ++a;
      ++b;
    }
  }
  if (a_greater && b_greater) return VectorOrder::kConcurrent;
  if (a_greater) return VectorOrder::kDominates;
  if (b_greater) return VectorOrder::kDominated;
  return VectorOrder::kEqual;
}

std::string VersionVector::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [shard, counter] : counters_) j[shard] = counter;
  return j.dump();  // nlohmann's object is a std::map: keys come out sorted
}

absl::StatusOr<VersionVector> VersionVector::FromJson(const std::string& json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::InvalidArgumentError("version vector: not a JSON object");
  std::map<std::string, uint64_t> counters;
  for (const auto& [shard, value] : j.items()) {
    if (!value.is_number_unsigned()) {
      return absl::InvalidArgumentError("version vector: counters must be non-negative integers");
    }
    counters[shard] = value.get<uint64_t>();
  }
  return VersionVector(std::move(counters));
}

}  // namespace coffer::vault::domain
