#include "cli/space_view.h"

#include <algorithm>
#include <cctype>

#include "cli/record_view.h"

namespace coffer::cli {
namespace {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Seconds in one `unit` (s, m, h, d); 0 for anything else.
int64_t UnitSeconds(char unit) {
  switch (std::tolower(static_cast<unsigned char>(unit))) {
    case 's':
      return 1;
    case 'm':
      return 60;
    case 'h':
      return 3600;
    case 'd':
      return 86400;
    default:
      return 0;
  }
}

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string joined;
  for (const auto& id : ids) joined += (joined.empty() ? "" : ", ") + id;
  return joined;
}

// A login when the server knows it, else the user id.
std::string Who(const std::string& login, const std::string& user_id) {
  return login.empty() ? user_id : login;
}

}  // namespace

bool LooksLikeUuid(const std::string& text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return true;
}

std::string RoleName(v1::Role role) {
  switch (role) {
    case v1::ROLE_OWNER:
      return "owner";
    case v1::ROLE_ADMIN:
      return "admin";
    case v1::ROLE_WRITER:
      return "writer";
    case v1::ROLE_READER:
      return "reader";
    default:
      return "unspecified";
  }
}

std::string InvitationStateName(v1::InvitationState state) {
  switch (state) {
    case v1::INVITATION_STATE_PENDING:
      return "pending";
    case v1::INVITATION_STATE_ACCEPTED:
      return "accepted";
    case v1::INVITATION_STATE_DECLINED:
      return "declined";
    case v1::INVITATION_STATE_REVOKED:
      return "revoked";
    case v1::INVITATION_STATE_EXPIRED:
      return "expired";
    default:
      return "unspecified";
  }
}

absl::StatusOr<v1::Role> ParseMemberRole(const std::string& text) {
  const std::string name = Lower(text);
  if (name == "reader") return v1::ROLE_READER;
  if (name == "writer") return v1::ROLE_WRITER;
  if (name == "admin") return v1::ROLE_ADMIN;
  if (name == "owner") {
    return absl::InvalidArgumentError(
        "a space has exactly one owner: hand it over with `coffer space transfer SPACE LOGIN`");
  }
  return absl::InvalidArgumentError("role \"" + text + "\" is not one of reader, writer, admin");
}

absl::StatusOr<std::chrono::seconds> ParseInvitationTtl(const std::string& text) {
  const int64_t max = kMaxInvitationTtl.count();
  const auto malformed = absl::InvalidArgumentError(
      "--expires \"" + text + "\" is not a duration: use e.g. 30m, 12h or 7d (at most 30d)");
  int64_t total = 0;  // saturates at max + 1, so huge numbers cannot overflow
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    int64_t number = 0;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      number = std::min(number * 10 + (text[i] - '0'), max + 1);
    }
    if (i == start || i == text.size()) return malformed;
    const int64_t unit = UnitSeconds(text[i++]);
    if (unit == 0) return malformed;
    total = std::min(total + number * unit, max + 1);
  }
  if (text.empty()) return malformed;
  if (total == 0) return absl::InvalidArgumentError("--expires must be longer than zero");
  if (total > max) {
    return absl::InvalidArgumentError("--expires " + text +
                                      " is too long: an invitation stays pending at most 30d");
  }
  return std::chrono::seconds(total);
}

absl::StatusOr<std::string> MatchSpaceName(const std::vector<v1::Space>& spaces,
                                           const std::string& name) {
  std::vector<std::string> ids;
  for (const auto& s : spaces) {
    if (s.name() == name) ids.push_back(s.id());
  }
  if (ids.size() == 1) return ids.front();
  if (ids.empty()) {
    return absl::NotFoundError("you have no space named \"" + name +
                               "\"; list yours with `coffer space ls`");
  }
  return absl::InvalidArgumentError(std::to_string(ids.size()) + " of your spaces are named \"" +
                                    name + "\" (" + JoinIds(ids) +
                                    "); name the one you mean by its id");
}

absl::StatusOr<v1::Member> MatchMember(const std::vector<v1::Member>& members,
                                       const std::string& login, const std::string& space) {
  std::vector<const v1::Member*> found;
  for (const auto& m : members) {
    if (!m.login().empty() && Lower(m.login()) == Lower(login)) found.push_back(&m);
  }
  if (found.empty()) {
    for (const auto& m : members) {
      if (m.user_id() == login) found.push_back(&m);
    }
  }
  if (found.size() == 1) return *found.front();
  if (found.empty()) {
    return absl::NotFoundError("\"" + login + "\" is not a member of space \"" + space +
                               "\"; list them with `coffer space members " + space + "`");
  }
  std::vector<std::string> ids;
  for (const auto* m : found) ids.push_back(m->user_id());
  return absl::InvalidArgumentError(std::to_string(found.size()) + " members of \"" + space +
                                    "\" have the login \"" + login + "\" (" + JoinIds(ids) +
                                    "); name the one you mean by its user id");
}

nlohmann::json SpaceToJson(const v1::Space& space) {
  return {{"id", space.id()},
          {"name", space.name()},
          {"personal", space.personal()},
          {"role", RoleName(space.role())},
          {"member_count", space.member_count()},
          {"create_time", FormatTime(space.create_time())},
          {"owner_id", space.owner_id()}};
}

nlohmann::json MemberToJson(const v1::Member& member) {
  return {{"user_id", member.user_id()},
          {"login", member.login()},
          {"role", RoleName(member.role())},
          {"join_time", FormatTime(member.join_time())}};
}

nlohmann::json InvitationToJson(const v1::Invitation& invitation) {
  return {{"id", invitation.id()},
          {"space_id", invitation.space_id()},
          {"space_name", invitation.space_name()},
          {"inviter_id", invitation.inviter_id()},
          {"inviter_login", invitation.inviter_login()},
          {"invitee_id", invitation.invitee_id()},
          {"invitee_login", invitation.invitee_login()},
          {"role", RoleName(invitation.role())},
          {"state", InvitationStateName(invitation.state())},
          {"create_time", FormatTime(invitation.create_time())},
          {"expire_time", FormatTime(invitation.expire_time())}};
}

Table SpaceTable(const std::vector<v1::Space>& spaces) {
  Table table({"ID", "NAME", "ROLE", "MEMBERS", "PERSONAL"});
  for (const auto& s : spaces) {
    table.AddRow({s.id(), s.name(), RoleName(s.role()), std::to_string(s.member_count()),
                  s.personal() ? "yes" : "no"});
  }
  return table;
}

KeyValueList SpaceDetails(const v1::Space& space) {
  KeyValueList list;
  list.Add("id", space.id());
  list.Add("name", space.name());
  list.Add("personal", space.personal() ? "yes" : "no");
  list.Add("your role", RoleName(space.role()));
  list.Add("members", std::to_string(space.member_count()));
  list.Add("owner", space.owner_id());
  list.Add("created", FormatTime(space.create_time()));
  return list;
}

Table MemberTable(const std::vector<v1::Member>& members) {
  Table table({"LOGIN", "ROLE", "USER ID", "JOINED"});
  for (const auto& m : members) {
    table.AddRow({m.login(), RoleName(m.role()), m.user_id(), FormatTime(m.join_time())});
  }
  return table;
}

Table InvitationTable(const std::vector<v1::Invitation>& invitations) {
  Table table({"ID", "SPACE", "ROLE", "FROM", "TO", "EXPIRES"});
  for (const auto& i : invitations) {
    table.AddRow({i.id(), i.space_name().empty() ? i.space_id() : i.space_name(),
                  RoleName(i.role()), Who(i.inviter_login(), i.inviter_id()),
                  Who(i.invitee_login(), i.invitee_id()), FormatTime(i.expire_time())});
  }
  return table;
}

}  // namespace coffer::cli
