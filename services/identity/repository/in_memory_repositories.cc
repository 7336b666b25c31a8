#include "services/identity/repository/in_memory_repositories.h"

#include <algorithm>

namespace coffer::identity {

// ---- users ----

absl::Status InMemoryUserRepository::Create(const User& user) {
  std::lock_guard<std::mutex> lock(mu_);
  if (by_id_.count(user.id) > 0) return absl::AlreadyExistsError("user id already exists");
  for (const auto& [id, u] : by_id_) {
    if (u.login == user.login) return absl::AlreadyExistsError("login is already taken");
  }
  by_id_.emplace(user.id, user);
  return absl::OkStatus();
}

absl::StatusOr<User> InMemoryUserRepository::FindByLogin(std::string_view login) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, u] : by_id_) {
    if (u.login == login) return u;
  }
  return absl::NotFoundError("user not found");
}

absl::StatusOr<User> InMemoryUserRepository::FindById(std::string_view id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return absl::NotFoundError("user not found");
  return it->second;
}

absl::StatusOr<bool> InMemoryUserRepository::UpdatePasswordHash(std::string_view id,
                                                                std::string_view expected_hash,
                                                                std::string_view new_hash) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second.password_hash != expected_hash) return false;
  it->second.password_hash = std::string(new_hash);
  return true;
}

// ---- service accounts ----

absl::Status InMemoryServiceAccountRepository::Create(const ServiceAccount& account) {
  std::lock_guard<std::mutex> lock(mu_);
  if (by_client_id_.count(account.client_id) > 0) {
    return absl::AlreadyExistsError("service account client id already exists");
  }
  for (const auto& [id, a] : by_client_id_) {
    if (a.name == account.name) {
      return absl::AlreadyExistsError("a service account with this name already exists");
    }
  }
  by_client_id_.emplace(account.client_id, account);
  return absl::OkStatus();
}

absl::StatusOr<bool> InMemoryServiceAccountRepository::CreateIfAbsent(
    const ServiceAccount& account) {
  absl::Status s = Create(account);
  if (s.ok()) return true;
  if (absl::IsAlreadyExists(s)) return false;
  return s;
}

absl::StatusOr<ServiceAccount> InMemoryServiceAccountRepository::FindByClientId(
    std::string_view client_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_client_id_.find(client_id);
  if (it == by_client_id_.end()) return absl::NotFoundError("service account not found");
  return it->second;
}

absl::StatusOr<std::vector<ServiceAccount>> InMemoryServiceAccountRepository::List(
    std::string_view after_name, std::size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ServiceAccount> all;
  for (const auto& [id, a] : by_client_id_) {
    if (a.name > after_name) all.push_back(a);
  }
  std::sort(all.begin(), all.end(),
            [](const ServiceAccount& a, const ServiceAccount& b) { return a.name < b.name; });
  if (all.size() > limit) all.resize(limit);
  return all;
}

absl::Status InMemoryServiceAccountRepository::Delete(std::string_view client_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_client_id_.find(client_id);
  if (it == by_client_id_.end()) return absl::NotFoundError("service account not found");
  by_client_id_.erase(it);
  return absl::OkStatus();
}

// ---- sessions ----

absl::Status InMemorySessionRepository::CreateSession(const RefreshFamily& family,
                                                      const RefreshToken& first) {
  std::lock_guard<std::mutex> lock(mu_);
  if (families_.count(family.id) > 0 || tokens_.count(first.token_hash) > 0) {
    return absl::AlreadyExistsError("session already exists");
  }
  families_.emplace(family.id, family);
  RefreshToken t = first;
  t.family_id = family.id;
  tokens_.emplace(t.token_hash, t);
  return absl::OkStatus();
}

absl::StatusOr<RotateResult> InMemorySessionRepository::Rotate(std::string_view presented_hash,
                                                               RefreshToken next, Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tokens_.find(presented_hash);
  if (it == tokens_.end()) return RotateResult{RefreshVerdict::kNotFound, {}};
  RefreshFamily& family = families_.at(it->second.family_id);
  RotateResult result{ClassifyRefreshToken(it->second, family, now), family};
  switch (result.verdict) {
    case RefreshVerdict::kValid:
      if (tokens_.count(next.token_hash) > 0) {
        return absl::AlreadyExistsError("refresh token hash collision");
      }
      it->second.used_at = now;
      next.family_id = family.id;
      tokens_.emplace(next.token_hash, next);
      break;
    case RefreshVerdict::kReused:
      if (!family.revoked_at) family.revoked_at = now;
      break;
    default:
      break;
  }
  return result;
}

absl::StatusOr<std::pair<RefreshToken, RefreshFamily>> InMemorySessionRepository::FindRefreshToken(
    std::string_view token_hash) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tokens_.find(token_hash);
  if (it == tokens_.end()) return absl::NotFoundError("refresh token not found");
  return std::make_pair(it->second, families_.at(it->second.family_id));
}

absl::Status InMemorySessionRepository::Revoke(const Revocation& revocation, Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!revocation.access_jti.empty()) {
    revoked_jtis_.emplace(revocation.access_jti, revocation.access_expires_at);
  }
  auto revoke_family = [&](const std::string& id) {
    auto f = families_.find(id);
    if (f != families_.end() && !f->second.revoked_at) f->second.revoked_at = now;
  };
  if (!revocation.family_id.empty()) revoke_family(revocation.family_id);
  if (!revocation.refresh_token_hash.empty()) {
    auto t = tokens_.find(revocation.refresh_token_hash);
    if (t != tokens_.end()) revoke_family(t->second.family_id);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> InMemorySessionRepository::IsAccessTokenRevoked(std::string_view jti,
                                                                     std::string_view family_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (revoked_jtis_.count(jti) > 0) return true;
  if (family_id.empty()) return false;
  auto f = families_.find(family_id);
  return f != families_.end() && f->second.revoked_at.has_value();
}

absl::Status InMemorySessionRepository::PurgeExpired(Time before) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = revoked_jtis_.begin(); it != revoked_jtis_.end();) {
    it = it->second < before ? revoked_jtis_.erase(it) : std::next(it);
  }
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    it = it->second.expires_at < before ? tokens_.erase(it) : std::next(it);
  }
  return absl::OkStatus();
}

// ---- signing keys ----

absl::StatusOr<std::vector<SigningKey>> InMemorySigningKeyRepository::List() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SigningKey> out;
  for (const auto& [gen, k] : by_generation_) out.push_back(k);
  return out;
}

absl::StatusOr<bool> InMemorySigningKeyRepository::Insert(const SigningKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (by_generation_.count(key.generation) > 0) return false;
  for (const auto& [gen, k] : by_generation_) {
    if (k.kid == key.kid) return false;
  }
  SigningKey stored = key;
  stored.activates_at = key.ActivatesAt();  // as PostgreSQL returns it
  by_generation_.emplace(key.generation, std::move(stored));
  return true;
}

absl::Status InMemorySigningKeyRepository::DeleteSupersededBefore(Time before) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = by_generation_.begin(); it != by_generation_.end();) {
    bool superseded = false;
    for (auto n = std::next(it); n != by_generation_.end(); ++n) {
      if (n->second.ActivatesAt() < before) superseded = true;
    }
    it = superseded ? by_generation_.erase(it) : std::next(it);
  }
  return absl::OkStatus();
}

}  // namespace coffer::identity
