// How the CLI reads and shows shared spaces: role and invitation-state names, invitation expiry
// durations ("30m", "12h", "7d"), the choice of a space by name or id and of a member by login
// among listed ones, and the JSON form and table rows of spaces, members and invitations.
//
// Why separate: none of it needs a server, so unit tests pin parsing, resolution and output.
// Pure functions on protobuf values; thread-safe.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/output.h"
#include "coffer/vault/v1/spaces.pb.h"

namespace coffer::cli {

namespace v1 = ::coffer::vault::v1;

// The longest invitation expiry the vault accepts.
inline constexpr std::chrono::seconds kMaxInvitationTtl = std::chrono::hours(24 * 30);

// True for the canonical 8-4-4-4-12 hex form of a UUID (either case).
bool LooksLikeUuid(const std::string& text);

// "owner", "admin", "writer", "reader"; "unspecified" for ROLE_UNSPECIFIED and unknown values.
std::string RoleName(v1::Role role);
// "pending", "accepted", "declined", "revoked", "expired"; "unspecified" otherwise.
std::string InvitationStateName(v1::InvitationState state);

// A role a member can be given or invited with: reader, writer or admin (case-insensitive).
// "owner" is refused with a pointer to `coffer space transfer`; anything else is
// INVALID_ARGUMENT.
absl::StatusOr<v1::Role> ParseMemberRole(const std::string& text);

// An invitation expiry: one or more <number><unit> parts, unit s, m, h or d ("30m", "12h",
// "7d", "1d12h"). Zero, malformed text and more than kMaxInvitationTtl are INVALID_ARGUMENT.
absl::StatusOr<std::chrono::seconds> ParseInvitationTtl(const std::string& text);

// The id of the one space in `spaces` named exactly `name`: NOT_FOUND when none is,
// INVALID_ARGUMENT listing the ids when several are.
absl::StatusOr<std::string> MatchSpaceName(const std::vector<v1::Space>& spaces,
                                           const std::string& name);

// The member of space `space` (as the user named it, for messages) whose login is `login` (ASCII
// case aside: identity stores logins lowercased, "Bob" and "bob" are one account), or failing
// that whose user id is exactly `login`: NOT_FOUND when none is, INVALID_ARGUMENT when several
// share the login.
absl::StatusOr<v1::Member> MatchMember(const std::vector<v1::Member>& members,
                                       const std::string& login, const std::string& space);

// Stable JSON forms; enums as lowercase words, times RFC 3339 ("" when unset).
// Space: id, name, personal, role, member_count, create_time, owner_id.
nlohmann::json SpaceToJson(const v1::Space& space);
// Member: user_id, login, role, join_time.
nlohmann::json MemberToJson(const v1::Member& member);
// Invitation: id, space_id, space_name, inviter_id, inviter_login, invitee_id, invitee_login,
// role, state, create_time, expire_time.
nlohmann::json InvitationToJson(const v1::Invitation& invitation);

// `coffer space ls`: ID NAME ROLE MEMBERS PERSONAL.
Table SpaceTable(const std::vector<v1::Space>& spaces);
// `coffer space show`: one "field: value" line per attribute.
KeyValueList SpaceDetails(const v1::Space& space);
// `coffer space members`: LOGIN ROLE USER ID JOINED.
Table MemberTable(const std::vector<v1::Member>& members);
// `coffer invitations`: ID SPACE ROLE FROM TO EXPIRES.
Table InvitationTable(const std::vector<v1::Invitation>& invitations);

}  // namespace coffer::cli
