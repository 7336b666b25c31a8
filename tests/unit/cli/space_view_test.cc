#include "cli/space_view.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace coffer::cli {
namespace {

using ::testing::HasSubstr;

constexpr char kTeamA[] = "11111111-1111-4111-8111-111111111111";
constexpr char kTeamB[] = "22222222-2222-4222-8222-222222222222";
constexpr char kHome[] = "33333333-3333-4333-8333-333333333333";

v1::Space MakeSpace(const std::string& id, const std::string& name) {
  v1::Space s;
  s.set_id(id);
  s.set_name(name);
  return s;
}

v1::Member MakeMember(const std::string& user_id, const std::string& login, v1::Role role) {
  v1::Member m;
  m.set_user_id(user_id);
  m.set_login(login);
  m.set_role(role);
  return m;
}

std::set<std::string> Keys(const nlohmann::json& object) {
  std::set<std::string> keys;
  for (const auto& item : object.items()) keys.insert(item.key());
  return keys;
}

TEST(SpaceViewTest, ParsesDurations) {
  EXPECT_EQ(*ParseInvitationTtl("30m"), std::chrono::minutes(30));
  EXPECT_EQ(*ParseInvitationTtl("12h"), std::chrono::hours(12));
  EXPECT_EQ(*ParseInvitationTtl("7d"), std::chrono::hours(24 * 7));
  EXPECT_EQ(*ParseInvitationTtl("90s"), std::chrono::seconds(90));
  EXPECT_EQ(*ParseInvitationTtl("1d12h"), std::chrono::hours(36));
  EXPECT_EQ(*ParseInvitationTtl("30d"), kMaxInvitationTtl);
  EXPECT_EQ(*ParseInvitationTtl("720h"), kMaxInvitationTtl);
  EXPECT_EQ(*ParseInvitationTtl("7D"), std::chrono::hours(24 * 7));
}

TEST(SpaceViewTest, RejectsMalformedDurations) {
  for (const char* text :
       {"", "7", "d", "7x", "7 d", " 7d", "-1d", "+1d", "1.5d", "7dd", "d7", "7d1", "1w", "٣d"}) {
    auto ttl = ParseInvitationTtl(text);
    ASSERT_FALSE(ttl.ok()) << text;
    EXPECT_EQ(ttl.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(ttl.status().message()), HasSubstr("e.g. 30m, 12h or 7d")) << text;
  }
}

TEST(SpaceViewTest, RejectsZeroDuration) {
  for (const char* text : {"0d", "0m", "0s0h"}) {
    auto ttl = ParseInvitationTtl(text);
    ASSERT_FALSE(ttl.ok()) << text;
    EXPECT_EQ(ttl.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(ttl.status().message()), HasSubstr("longer than zero"));
  }
}

TEST(SpaceViewTest, RejectsDurationsOverThirtyDays) {
  for (const char* text : {"31d", "30d1s", "721h", "2592001s", "99999999999999999999999d",
                           "18446744073709551616s", "29d25h"}) {
    auto ttl = ParseInvitationTtl(text);
    ASSERT_FALSE(ttl.ok()) << text;
    EXPECT_EQ(ttl.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(ttl.status().message()), HasSubstr("at most 30d")) << text;
  }
}

TEST(SpaceViewTest, ParsesMemberRoles) {
  EXPECT_EQ(*ParseMemberRole("reader"), v1::ROLE_READER);
  EXPECT_EQ(*ParseMemberRole("writer"), v1::ROLE_WRITER);
  EXPECT_EQ(*ParseMemberRole("admin"), v1::ROLE_ADMIN);
  EXPECT_EQ(*ParseMemberRole("Admin"), v1::ROLE_ADMIN);
  auto owner = ParseMemberRole("owner");
  EXPECT_EQ(owner.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(owner.status().message()), HasSubstr("coffer space transfer"));
  for (const char* text : {"", "root", "read", "ROLE_READER", "1"}) {
    auto role = ParseMemberRole(text);
    EXPECT_EQ(role.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(role.status().message()), HasSubstr("reader, writer, admin"));
  }
}

TEST(SpaceViewTest, NamesRolesAndStates) {
  EXPECT_EQ(RoleName(v1::ROLE_OWNER), "owner");
  EXPECT_EQ(RoleName(v1::ROLE_ADMIN), "admin");
  EXPECT_EQ(RoleName(v1::ROLE_WRITER), "writer");
  EXPECT_EQ(RoleName(v1::ROLE_READER), "reader");
  EXPECT_EQ(RoleName(v1::ROLE_UNSPECIFIED), "unspecified");
  EXPECT_EQ(RoleName(static_cast<v1::Role>(42)), "unspecified");
  EXPECT_EQ(InvitationStateName(v1::INVITATION_STATE_PENDING), "pending");
  EXPECT_EQ(InvitationStateName(v1::INVITATION_STATE_ACCEPTED), "accepted");
  EXPECT_EQ(InvitationStateName(v1::INVITATION_STATE_DECLINED), "declined");
  EXPECT_EQ(InvitationStateName(v1::INVITATION_STATE_REVOKED), "revoked");
  EXPECT_EQ(InvitationStateName(v1::INVITATION_STATE_EXPIRED), "expired");
  EXPECT_EQ(InvitationStateName(v1::INVITATION_STATE_UNSPECIFIED), "unspecified");
}

TEST(SpaceViewTest, RecognizesUuids) {
  EXPECT_TRUE(LooksLikeUuid(kTeamA));
  EXPECT_TRUE(LooksLikeUuid("ABCDEF01-2345-4789-8BCD-EF0123456789"));
  EXPECT_FALSE(LooksLikeUuid("team"));
  EXPECT_FALSE(LooksLikeUuid("11111111111141118111111111111111"));
  EXPECT_FALSE(LooksLikeUuid("11111111-1111-4111-8111-11111111111g"));
  EXPECT_FALSE(LooksLikeUuid(std::string(kTeamA) + "1"));
}

TEST(SpaceViewTest, MatchesASpaceByExactName) {
  std::vector<v1::Space> spaces = {MakeSpace(kHome, "alice"), MakeSpace(kTeamA, "team"),
                                   MakeSpace(kTeamB, "team-b")};
  EXPECT_EQ(*MatchSpaceName(spaces, "team"), kTeamA);
  EXPECT_EQ(*MatchSpaceName(spaces, "team-b"), kTeamB);
  EXPECT_EQ(*MatchSpaceName(spaces, "alice"), kHome);
}

TEST(SpaceViewTest, NoSpaceOfThatNameIsNotFound) {
  std::vector<v1::Space> spaces = {MakeSpace(kTeamA, "team")};
  for (const char* name : {"Team", "tea", "team ", "nothing"}) {
    auto id = MatchSpaceName(spaces, name);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kNotFound) << name;
    EXPECT_THAT(std::string(id.status().message()), HasSubstr("coffer space ls"));
  }
  EXPECT_EQ(MatchSpaceName({}, "team").status().code(), absl::StatusCode::kNotFound);
}

TEST(SpaceViewTest, SeveralSpacesOfThatNameAskForTheId) {
  std::vector<v1::Space> spaces = {MakeSpace(kTeamA, "team"), MakeSpace(kTeamB, "team"),
                                   MakeSpace(kHome, "home")};
  auto id = MatchSpaceName(spaces, "team");
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(id.status().message());
  EXPECT_THAT(message, HasSubstr(kTeamA));
  EXPECT_THAT(message, HasSubstr(kTeamB));
  EXPECT_THAT(message, ::testing::Not(HasSubstr(kHome)));
  EXPECT_THAT(message, HasSubstr("by its id"));
}

TEST(SpaceViewTest, MatchesAMemberByLoginThenUserId) {
  std::vector<v1::Member> members = {MakeMember("u-alice", "alice", v1::ROLE_OWNER),
                                     MakeMember("u-bob", "bob", v1::ROLE_WRITER),
                                     MakeMember("u-carol", "", v1::ROLE_READER)};
  EXPECT_EQ(MatchMember(members, "bob", "team")->user_id(), "u-bob");
  EXPECT_EQ(MatchMember(members, "u-carol", "team")->user_id(), "u-carol");
  auto missing = MatchMember(members, "dave", "team");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("coffer space members team"));
  EXPECT_EQ(MatchMember(members, "Bob", "team")->user_id(), "u-bob");  // logins are lowercase
  EXPECT_EQ(MatchMember(members, "U-CAROL", "team").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(MatchMember(members, "", "team").status().code(), absl::StatusCode::kNotFound);
  members.push_back(MakeMember("u-bob2", "bob", v1::ROLE_READER));
  auto twice = MatchMember(members, "bob", "team");
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(twice.status().message()), HasSubstr("u-bob2"));
}

TEST(SpaceViewTest, SpaceJsonHasEveryField) {
  v1::Space s = MakeSpace(kTeamA, "team");
  s.set_role(v1::ROLE_WRITER);
  s.set_member_count(3);
  s.set_owner_id("u-alice");
  s.mutable_create_time()->set_seconds(1'700'000'000);
  nlohmann::json json = SpaceToJson(s);
  EXPECT_EQ(Keys(json), (std::set<std::string>{"id", "name", "personal", "role", "member_count",
                                               "create_time", "owner_id"}));
  EXPECT_EQ(json["role"], "writer");
  EXPECT_EQ(json["personal"], false);
  EXPECT_EQ(json["member_count"], 3);
  EXPECT_EQ(json["create_time"], "2023-11-14T22:13:20Z");
}

TEST(SpaceViewTest, MemberAndInvitationJsonHaveEveryField) {
  nlohmann::json member = MemberToJson(MakeMember("u-bob", "bob", v1::ROLE_ADMIN));
  EXPECT_EQ(Keys(member), (std::set<std::string>{"user_id", "login", "role", "join_time"}));
  EXPECT_EQ(member["role"], "admin");
  EXPECT_EQ(member["join_time"], "");

  v1::Invitation i;
  i.set_id(kTeamB);
  i.set_space_id(kTeamA);
  i.set_space_name("team");
  i.set_inviter_login("alice");
  i.set_invitee_login("bob");
  i.set_role(v1::ROLE_READER);
  i.set_state(v1::INVITATION_STATE_PENDING);
  i.mutable_expire_time()->set_seconds(1'700'000'000);
  nlohmann::json json = InvitationToJson(i);
  EXPECT_EQ(Keys(json), (std::set<std::string>{"id", "space_id", "space_name", "inviter_id",
                                               "inviter_login", "invitee_id", "invitee_login",
                                               "role", "state", "create_time", "expire_time"}));
  EXPECT_EQ(json["state"], "pending");
  EXPECT_EQ(json["role"], "reader");
  EXPECT_EQ(json["expire_time"], "2023-11-14T22:13:20Z");
}

TEST(SpaceViewTest, Tables) {
  v1::Space home = MakeSpace(kHome, "alice");
  home.set_personal(true);
  home.set_role(v1::ROLE_OWNER);
  home.set_member_count(1);
  EXPECT_EQ(SpaceTable({home}).Render(),
            "ID                                    NAME   ROLE   MEMBERS  PERSONAL\n" +
                std::string(kHome) + "  alice  owner  1        yes\n");
  std::string members = MemberTable({MakeMember("u-bob", "bob", v1::ROLE_WRITER)}).Render();
  EXPECT_THAT(members, HasSubstr("LOGIN  ROLE    USER ID  JOINED"));
  EXPECT_THAT(members, HasSubstr("bob    writer  u-bob"));
  v1::Invitation i;
  i.set_id(kTeamB);
  i.set_space_id(kTeamA);
  i.set_inviter_id("u-alice");
  i.set_invitee_login("bob");
  i.set_role(v1::ROLE_ADMIN);
  std::string invitations = InvitationTable({i}).Render();
  EXPECT_THAT(invitations, HasSubstr("ID"));
  // Without a space name or login the ids stand in.
  EXPECT_THAT(invitations, HasSubstr(std::string(kTeamA) + "  admin  u-alice  bob"));
}

}  // namespace
}  // namespace coffer::cli
