#include "services/vault/repository/space_repository.h"

#include <nlohmann/json.hpp>

namespace coffer::vault::repository {
namespace {

constexpr std::pair<SpaceRegister::Kind, std::string_view> kKindNames[] = {
    {SpaceRegister::Kind::kInfo, "info"},
    {SpaceRegister::Kind::kOwner, "owner"},
    {SpaceRegister::Kind::kMember, "member"},
    {SpaceRegister::Kind::kInvitation, "invitation"},
};

std::string_view KindName(SpaceRegister::Kind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "unknown";
}

}  // namespace

std::string RegisterKey(const SpaceRegister& r) {
  switch (r.kind) {
    case SpaceRegister::Kind::kInfo:
      return "info";
    case SpaceRegister::Kind::kOwner:
      return "owner";
    case SpaceRegister::Kind::kMember:
      return "member|" + r.user_id;
    case SpaceRegister::Kind::kInvitation:
      return "invitation|" + r.invitation.id;
  }
  return "unknown";
}

std::string RegisterToJson(const SpaceRegister& r) {
  nlohmann::json j{{"kind", KindName(r.kind)},
                   {"space_id", r.space_id},
                   {"hlc", r.hlc},
                   {"origin", r.origin_shard}};
  switch (r.kind) {
    case SpaceRegister::Kind::kInfo:
      j["name_ct"] = r.name_ct;
      j["deleted"] = r.deleted;
      j["created_at_ms"] = r.created_at_ms;
      break;
    case SpaceRegister::Kind::kOwner:
      j["owner_id"] = r.owner_id;
      break;
    case SpaceRegister::Kind::kMember:
      j["user_id"] = r.user_id;
      j["role"] = r.member_role;
      j["joined_at_ms"] = r.joined_at_ms;
      break;
    case SpaceRegister::Kind::kInvitation:
      j["invitation"] = {{"id", r.invitation.id},
                         {"inviter_id", r.invitation.inviter_id},
                         {"invitee_id", r.invitation.invitee_id},
                         {"role", RoleName(r.invitation.role)},
                         {"state", r.invitation.state},
                         {"created_at_ms", r.invitation.created_at_ms},
                         {"expires_at_ms", r.invitation.expires_at_ms}};
      break;
  }
  return j.dump();
}

absl::StatusOr<SpaceRegister> RegisterFromJson(const std::string& json) {
  try {
    const nlohmann::json j = nlohmann::json::parse(json);
    SpaceRegister r;
    const std::string kind = j.at("kind").get<std::string>();
    bool known = false;
    for (const auto& [k, name] : kKindNames) {
      if (name == kind) {
        r.kind = k;
        known = true;
      }
    }
    if (!known) return absl::InvalidArgumentError("space register: unknown kind");
    r.space_id = j.at("space_id").get<std::string>();
    r.hlc = j.at("hlc").get<uint64_t>();
    r.origin_shard = j.at("origin").get<std::string>();
    switch (r.kind) {
      case SpaceRegister::Kind::kInfo:
        r.name_ct = j.at("name_ct").get<std::string>();
        r.deleted = j.at("deleted").get<bool>();
        r.created_at_ms = j.at("created_at_ms").get<int64_t>();
        break;
      case SpaceRegister::Kind::kOwner:
        r.owner_id = j.at("owner_id").get<std::string>();
        break;
      case SpaceRegister::Kind::kMember:
        r.user_id = j.at("user_id").get<std::string>();
        r.member_role = j.at("role").get<std::string>();
        r.joined_at_ms = j.at("joined_at_ms").get<int64_t>();
        break;
      case SpaceRegister::Kind::kInvitation: {
        const nlohmann::json& i = j.at("invitation");
        r.invitation.id = i.at("id").get<std::string>();
        r.invitation.space_id = r.space_id;
        r.invitation.inviter_id = i.at("inviter_id").get<std::string>();
        r.invitation.invitee_id = i.at("invitee_id").get<std::string>();
        std::optional<Role> role = RoleFromName(i.at("role").get<std::string>());
        if (!role) return absl::InvalidArgumentError("space register: unknown role");
        r.invitation.role = *role;
        r.invitation.state = i.at("state").get<std::string>();
        r.invitation.created_at_ms = i.at("created_at_ms").get<int64_t>();
        r.invitation.expires_at_ms = i.at("expires_at_ms").get<int64_t>();
        break;
      }
    }
    return r;
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError("space register: malformed");
  }
}

}  // namespace coffer::vault::repository
