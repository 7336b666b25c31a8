// `coffer space ...` and `coffer invitations`: shared spaces, their members and invitations
// (the vault's SpaceService).
//
// SPACE is a name or an id (ResolveSpaceId, also behind the global --space flag); LOGIN is
// looked up among the space's members (ListMembers, every page). Local checks (roles, expiry,
// invitation ids, the confirmation of `space rm`) run before anything is sent.
#include "cli/commands.h"
#include "cli/record_view.h"
#include "cli/space_view.h"

namespace coffer::cli {

namespace v1 = ::coffer::vault::v1;

namespace {

using Stub = v1::SpaceService::Stub;

constexpr int kPageSize = 500;

template <typename Request, typename Response>
using Rpc = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&, Response*);

// One SpaceService call. NOT_FOUND and FAILED_PRECONDITION answers get `hint` (what to check)
// appended, in place of the generic advice about records.
template <typename Request, typename Response>
absl::Status Call(Session& session, Rpc<Request, Response> rpc, const Request& request,
                  Response* response,
                  const std::string& hint = "list your spaces with `coffer space ls`") {
  COFFER_ASSIGN_OR_RETURN(Stub * stub, session.Spaces());
  absl::Status st = session.CallVault(
      [&](grpc::ClientContext& c) { return (stub->*rpc)(&c, request, response); });
  if (st.code() != absl::StatusCode::kNotFound &&
      st.code() != absl::StatusCode::kFailedPrecondition) {
    return st;
  }
  return absl::Status(st.code(), std::string(st.message()) + "; " + hint);
}

// Every item of a paged list: `rpc` page by page, `items` names the page's repeated field.
template <typename Item, typename Request, typename Response>
absl::StatusOr<std::vector<Item>> AllPages(
    Session& session, Request request, Rpc<Request, Response> rpc,
    google::protobuf::RepeatedPtrField<Item>* (Response::*items)()) {
  std::vector<Item> all;
  request.set_page_size(kPageSize);
  for (;;) {
    Response response;
    COFFER_RETURN_IF_ERROR(Call(session, rpc, request, &response));
    for (auto& item : *(response.*items)()) all.push_back(std::move(item));
    const std::string& next = response.next_page_token();
    if (next.empty()) return all;
    if (next == request.page_token()) {
      return absl::InternalError("the vault sent the same page token twice");
    }
    request.set_page_token(next);
  }
}

absl::StatusOr<std::vector<v1::Space>> ListSpaces(Session& session) {
  return AllPages<v1::Space>(session, v1::ListSpacesRequest(), &Stub::ListSpaces,
                             &v1::ListSpacesResponse::mutable_spaces);
}

absl::StatusOr<std::vector<v1::Member>> ListMembers(Session& session, const std::string& id) {
  v1::ListMembersRequest request;
  request.set_space_id(id);
  return AllPages<v1::Member>(session, request, &Stub::ListMembers,
                              &v1::ListMembersResponse::mutable_members);
}

// What a command naming SPACE works on.
struct Target {
  Session* session = nullptr;
  std::string id;   // resolved space id
  std::string ref;  // as the user wrote it, for messages
};

absl::StatusOr<Target> OpenSpace(CommandContext& ctx, const std::string& ref) {
  if (ref.empty()) {
    return absl::InvalidArgumentError(
        "SPACE is empty: give a space name or id (`coffer space ls`)");
  }
  COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
  COFFER_ASSIGN_OR_RETURN(std::string id, ResolveSpaceId(*session, ref));
  return Target{session, std::move(id), ref};
}

// The member of the target space named by `login`.
absl::StatusOr<v1::Member> FindMember(const Target& target, const std::string& login) {
  COFFER_ASSIGN_OR_RETURN(auto members, ListMembers(*target.session, target.id));
  return MatchMember(members, login, target.ref);
}

absl::Status CheckInvitationId(const std::string& id) {
  if (LooksLikeUuid(id)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "\"" + id + "\" is not an invitation id (a UUID): see `coffer invitations`");
}

// Makes `run` the action when `cmd` is the command given.
void OnRun(CLI::App* cmd, Action& action, Action run) {
  cmd->callback([&action, run = std::move(run)] { action = run; });
}

void AddCreate(CLI::App& space, CommandContext& ctx, Action& action) {
  auto name = std::make_shared<std::string>();
  auto* cmd = space.add_subcommand("create", "Create a shared space, with you as its owner");
  cmd->add_option("name", *name, "Display name, 1 to 256 characters")->required();
  OnRun(cmd, action, [&ctx, name]() -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
    v1::CreateSpaceRequest request;
    request.set_name(*name);
    v1::CreateSpaceResponse response;
    COFFER_RETURN_IF_ERROR(Call(*session, &Stub::CreateSpace, request, &response));
    const auto& s = response.space();
    ctx.Emit(SpaceToJson(s), "created space \"" + s.name() + "\" " + s.id() + "\n");
    return absl::OkStatus();
  });
}

void AddList(CLI::App& space, CommandContext& ctx, Action& action) {
  auto* cmd = space.add_subcommand("ls", "List your spaces (personal first) and your role in each");
  OnRun(cmd, action, [&ctx]() -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
    COFFER_ASSIGN_OR_RETURN(auto spaces, ListSpaces(*session));
    nlohmann::json list = nlohmann::json::array();
    for (const auto& s : spaces) list.push_back(SpaceToJson(s));
    ctx.Emit(nlohmann::json{{"spaces", list}},
             spaces.empty() ? "no spaces\n" : SpaceTable(spaces).Render());
    return absl::OkStatus();
  });
}

void AddShow(CLI::App& space, CommandContext& ctx, Action& action) {
  auto ref = std::make_shared<std::string>();
  auto* cmd = space.add_subcommand("show", "Describe a space: name, your role, members, owner");
  cmd->add_option("space", *ref, "Space name or id")->required();
  OnRun(cmd, action, [&ctx, ref]() -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(Target t, OpenSpace(ctx, *ref));
    v1::GetSpaceRequest request;
    request.set_space_id(t.id);
    v1::GetSpaceResponse response;
    COFFER_RETURN_IF_ERROR(Call(*t.session, &Stub::GetSpace, request, &response));
    ctx.Emit(SpaceToJson(response.space()), SpaceDetails(response.space()).Render());
    return absl::OkStatus();
  });
}

void AddRename(CLI::App& space, CommandContext& ctx, Action& action) {
  struct Opts {
    std::string ref, name;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = space.add_subcommand("rename", "Rename a shared space (needs admin)");
  cmd->add_option("space", opts->ref, "Space name or id")->required();
  cmd->add_option("new_name", opts->name, "New display name, 1 to 256 characters")->required();
  OnRun(cmd, action, [&ctx, opts]() -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(Target t, OpenSpace(ctx, opts->ref));
    v1::UpdateSpaceRequest request;
    request.set_space_id(t.id);
    request.set_name(opts->name);
    v1::UpdateSpaceResponse response;
    COFFER_RETURN_IF_ERROR(Call(*t.session, &Stub::UpdateSpace, request, &response));
    const auto& s = response.space();
    ctx.Emit(SpaceToJson(s), "renamed space " + s.id() + " to \"" + s.name() + "\"\n");
    return absl::OkStatus();
  });
}

// Asks in the terminal whether to delete `space`; OK only on "y" or "yes".
absl::Status ConfirmDelete(CommandContext& ctx, const v1::Space& space) {
  auto answer = ctx.terminal().PromptLine("Delete space \"" + space.name() + "\" (" + space.id() +
                                          ") with all its records, members " +
                                          "and invitations, on every shard? [y/N] ");
  if (answer.ok() && (*answer == "y" || *answer == "Y" || *answer == "yes")) {
    return absl::OkStatus();
  }
  return absl::CancelledError("space \"" + space.name() + "\" was not deleted");
}

void AddRemoveSpace(CLI::App& space, CommandContext& ctx, Action& action) {
  struct Opts {
    std::string ref;
    bool yes = false;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = space.add_subcommand(
      "rm", "Delete a shared space with its records, members and invitations (owner only)");
  cmd->add_option("space", opts->ref, "Space name or id")->required();
  cmd->add_flag("-y,--yes", opts->yes, "Do not ask for confirmation (needed without a terminal)");
  OnRun(cmd, action, [&ctx, opts]() -> absl::Status {
    if (!opts->yes && !ctx.terminal().Interactive()) {
      return absl::InvalidArgumentError("refusing to delete space \"" + opts->ref +
                                        "\" without confirmation (stdin is not a terminal): "
                                        "add --yes");
    }
    COFFER_ASSIGN_OR_RETURN(Target t, OpenSpace(ctx, opts->ref));
    v1::GetSpaceRequest get;
    get.set_space_id(t.id);
    v1::GetSpaceResponse got;
    COFFER_RETURN_IF_ERROR(Call(*t.session, &Stub::GetSpace, get, &got));
    if (got.space().personal()) {
      return absl::FailedPreconditionError("\"" + opts->ref +
                                           "\" is your personal space, which cannot be deleted "
                                           "(`coffer space ls` shows which are shared)");
    }
    if (!opts->yes) COFFER_RETURN_IF_ERROR(ConfirmDelete(ctx, got.space()));
    v1::DeleteSpaceRequest request;
    request.set_space_id(t.id);
    v1::DeleteSpaceResponse response;
    COFFER_RETURN_IF_ERROR(Call(*t.session, &Stub::DeleteSpace, request, &response));
    const auto& s = got.space();
    ctx.Emit(nlohmann::json{{"id", s.id()}, {"name", s.name()}, {"deleted", true}},
             "deleted space \"" + s.name() + "\" " + s.id() + "\n");
    return absl::OkStatus();
  });
}

void AddInvite(CLI::App& space, CommandContext& ctx, Action& action) {
  struct Opts {
    std::string ref, login, role, expires;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = space.add_subcommand(
      "invite", "Invite a user by login (needs admin; they accept with `coffer space accept`)");
  cmd->add_option("space", opts->ref, "Space name or id")->required();
  cmd->add_option("login", opts->login, "The invitee's login")->required();
  cmd->add_option("--role", opts->role, "reader, writer or admin (at most your own)")->required();
  cmd->add_option("--expires", opts->expires,
                  "How long the invitation stays pending, e.g. 30m, 12h, 7d (default 7d, at most "
                  "30d)");
  OnRun(cmd, action, [&ctx, opts]() -> absl::Status {
    v1::InviteMemberRequest request;
    COFFER_ASSIGN_OR_RETURN(v1::Role role, ParseMemberRole(opts->role));
    request.set_role(role);
    if (!opts->expires.empty()) {
      COFFER_ASSIGN_OR_RETURN(std::chrono::seconds ttl, ParseInvitationTtl(opts->expires));
      request.mutable_ttl()->set_seconds(ttl.count());
    }
    request.set_login(opts->login);
    COFFER_ASSIGN_OR_RETURN(Target t, OpenSpace(ctx, opts->ref));
    request.set_space_id(t.id);
    v1::InviteMemberResponse response;
    COFFER_RETURN_IF_ERROR(Call(*t.session, &Stub::InviteMember, request, &response,
                                "check the login, and the space with `coffer space ls`"));
    const auto& i = response.invitation();
    ctx.Emit(InvitationToJson(i), "invited " + opts->login + " to \"" + opts->ref + "\" as " +
                                      RoleName(i.role()) + ": invitation " + i.id() +
                                      ", pending until " + FormatTime(i.expire_time()) + "\n");
    return absl::OkStatus();
  });
}

void AddInvitations(CLI::App& app, CommandContext& ctx, Action& action) {
  auto ref = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "invitations",
      "List pending invitations addressed to you, or with --space those of a space (needs admin)");
  cmd->add_option("--space", *ref, "Space name or id whose pending invitations to list");
  OnRun(cmd, action, [&ctx, ref]() -> absl::Status {
    if (!ref->empty()) ctx.space_arg = *ref;  // the global --space may name it too
    COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
    COFFER_ASSIGN_OR_RETURN(std::string id, ctx.SpaceId());
    v1::ListInvitationsRequest request;
    request.set_space_id(id);
    COFFER_ASSIGN_OR_RETURN(
        auto invitations,
        AllPages<v1::Invitation>(*session, request, &Stub::ListInvitations,
                                 &v1::ListInvitationsResponse::mutable_invitations));
    nlohmann::json list = nlohmann::json::array();
    for (const auto& i : invitations) list.push_back(InvitationToJson(i));
    ctx.Emit(nlohmann::json{{"invitations", list}}, invitations.empty()
                                                        ? "no pending invitations\n"
                                                        : InvitationTable(invitations).Render());
    return absl::OkStatus();
  });
}

void AddAccept(CLI::App& space, CommandContext& ctx, Action& action) {
  auto id = std::make_shared<std::string>();
  auto* cmd =
      space.add_subcommand("accept", "Accept an invitation addressed to you: join its space");
  cmd->add_option("invitation", *id, "Invitation id (see `coffer invitations`)")->required();
  OnRun(cmd, action, [&ctx, id]() -> absl::Status {
    COFFER_RETURN_IF_ERROR(CheckInvitationId(*id));
    COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
    v1::AcceptInvitationRequest request;
    request.set_invitation_id(*id);
    v1::AcceptInvitationResponse response;
    COFFER_RETURN_IF_ERROR(
        Call(*session, &Stub::AcceptInvitation, request, &response, "see `coffer invitations`"));
    const auto& s = response.space();
    ctx.Emit(SpaceToJson(s),
             "joined space \"" + s.name() + "\" " + s.id() + " as " + RoleName(s.role()) + "\n");
    return absl::OkStatus();
  });
}

// decline (the invitee) and revoke (an admin of the space): the invitation stops being pending.
template <typename Request, typename Response>
void AddEndInvitation(CLI::App& space, CommandContext& ctx, Action& action, const std::string& verb,
                      const std::string& help, Rpc<Request, Response> rpc) {
  auto id = std::make_shared<std::string>();
  auto* cmd = space.add_subcommand(verb, help);
  cmd->add_option("invitation", *id, "Invitation id (see `coffer invitations`)")->required();
  OnRun(cmd, action, [&ctx, id, verb, rpc]() -> absl::Status {
    COFFER_RETURN_IF_ERROR(CheckInvitationId(*id));
    COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
    Request request;
    request.set_invitation_id(*id);
    Response response;
    COFFER_RETURN_IF_ERROR(Call(*session, rpc, request, &response, "see `coffer invitations`"));
    const std::string state = verb + "d";  // declined, revoked
    ctx.Emit(nlohmann::json{{"invitation_id", *id}, {"state", state}},
             state + " invitation " + *id + "\n");
    return absl::OkStatus();
  });
}

void AddMembers(CLI::App& space, CommandContext& ctx, Action& action) {
  auto ref = std::make_shared<std::string>();
  auto* cmd = space.add_subcommand("members", "List a space's members and their roles");
  cmd->add_option("space", *ref, "Space name or id")->required();
  OnRun(cmd, action, [&ctx, ref]() -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(Target t, OpenSpace(ctx, *ref));
    COFFER_ASSIGN_OR_RETURN(auto members, ListMembers(*t.session, t.id));
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : members) list.push_back(MemberToJson(m));
    ctx.Emit(nlohmann::json{{"space_id", t.id}, {"members", list}}, MemberTable(members).Render());
    return absl::OkStatus();
  });
}

struct MemberOpts {
  std::string ref, login, role;
};

void AddRole(CLI::App& space, CommandContext& ctx, Action& action) {
  auto opts = std::make_shared<MemberOpts>();
  auto* cmd = space.add_subcommand(
      "role", "Change a member's role (needs admin; only the owner grants or takes admin)");
  cmd->add_option("space", opts->ref, "Space name or id")->required();
  cmd->add_option("login", opts->login, "The member's login")->required();
  cmd->add_option("role", opts->role, "reader, writer or admin")->required();
  OnRun(cmd, action, [&ctx, opts]() -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(v1::Role role, ParseMemberRole(opts->role));
    COFFER_ASSIGN_OR_RETURN(Target t, OpenSpace(ctx, opts->ref));
    COFFER_ASSIGN_OR_RETURN(v1::Member member, FindMember(t, opts->login));
    v1::UpdateMemberRoleRequest request;
    request.set_space_id(t.id);
    request.set_user_id(member.user_id());
    request.set_role(role);
    v1::UpdateMemberRoleResponse response;
    COFFER_RETURN_IF_ERROR(Call(*t.session, &Stub::UpdateMemberRole, request, &response));
    ctx.Emit(MemberToJson(response.member()), opts->login + " is now " +
                                                  RoleName(response.member().role()) + " in \"" +
                                                  opts->ref + "\"\n");
    return absl::OkStatus();
  });
}

void AddRemoveMember(CLI::App& space, CommandContext& ctx, Action& action) {
  auto opts = std::make_shared<MemberOpts>();
  auto* cmd = space.add_subcommand(
      "remove", "Remove a member (needs admin; only the owner removes an admin)");
  cmd->add_option("space", opts->ref, "Space name or id")->required();
  cmd->add_option("login", opts->login, "The member's login")->required();
  OnRun(cmd, action, [&ctx, opts]() -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(Target t, OpenSpace(ctx, opts->ref));
    COFFER_ASSIGN_OR_RETURN(v1::Member member, FindMember(t, opts->login));
    v1::RemoveMemberRequest request;
    request.set_space_id(t.id);
    request.set_user_id(member.user_id());
    v1::RemoveMemberResponse response;
    COFFER_RETURN_IF_ERROR(Call(*t.session, &Stub::RemoveMember, request, &response));
    ctx.Emit(nlohmann::json{{"space_id", t.id},
                            {"user_id", member.user_id()},
                            {"login", member.login()},
                            {"removed", true}},
             "removed " + opts->login + " from \"" + opts->ref + "\"\n");
    return absl::OkStatus();
  });
}

void AddLeave(CLI::App& space, CommandContext& ctx, Action& action) {
  auto ref = std::make_shared<std::string>();
  auto* cmd = space.add_subcommand(
      "leave", "Leave a shared space (an owner must `coffer space transfer` first)");
  cmd->add_option("space", *ref, "Space name or id")->required();
  OnRun(cmd, action, [&ctx, ref]() -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(Target t, OpenSpace(ctx, *ref));
    v1::LeaveSpaceRequest request;
    request.set_space_id(t.id);
    v1::LeaveSpaceResponse response;
    COFFER_RETURN_IF_ERROR(Call(*t.session, &Stub::LeaveSpace, request, &response));
    ctx.Emit(nlohmann::json{{"space_id", t.id}, {"left", true}},
             "left space \"" + *ref + "\" " + t.id + "\n");
    return absl::OkStatus();
  });
}

void AddTransfer(CLI::App& space, CommandContext& ctx, Action& action) {
  auto opts = std::make_shared<MemberOpts>();
  auto* cmd = space.add_subcommand(
      "transfer", "Make another member the owner; you become an admin (owner only)");
  cmd->add_option("space", opts->ref, "Space name or id")->required();
  cmd->add_option("login", opts->login, "The member who becomes the owner")->required();
  OnRun(cmd, action, [&ctx, opts]() -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(Target t, OpenSpace(ctx, opts->ref));
    COFFER_ASSIGN_OR_RETURN(v1::Member member, FindMember(t, opts->login));
    v1::TransferOwnershipRequest request;
    request.set_space_id(t.id);
    request.set_user_id(member.user_id());
    v1::TransferOwnershipResponse response;
    COFFER_RETURN_IF_ERROR(Call(*t.session, &Stub::TransferOwnership, request, &response));
    ctx.Emit(SpaceToJson(response.space()),
             opts->login + " now owns \"" + opts->ref + "\"; you are an admin\n");
    return absl::OkStatus();
  });
}

}  // namespace

absl::StatusOr<std::string> ResolveSpaceId(Session& session, const std::string& ref) {
  if (ref.empty() || LooksLikeUuid(ref)) return ref;
  COFFER_ASSIGN_OR_RETURN(auto spaces, ListSpaces(session));
  return MatchSpaceName(spaces, ref);
}

void AddSpaceCommands(CLI::App& app, CommandContext& ctx, Action& action) {
  auto* space = app.add_subcommand(
      "space", "Shared spaces: create, share by invitation, members and their roles");
  space->require_subcommand(1);
  AddCreate(*space, ctx, action);
  AddList(*space, ctx, action);
  AddShow(*space, ctx, action);
  AddRename(*space, ctx, action);
  AddRemoveSpace(*space, ctx, action);
  AddInvite(*space, ctx, action);
  AddAccept(*space, ctx, action);
  AddEndInvitation(*space, ctx, action, "decline", "Decline an invitation addressed to you",
                   &Stub::DeclineInvitation);
  AddEndInvitation(*space, ctx, action, "revoke", "Withdraw a pending invitation (needs admin)",
                   &Stub::RevokeInvitation);
  AddMembers(*space, ctx, action);
  AddRole(*space, ctx, action);
  AddRemoveMember(*space, ctx, action);
  AddLeave(*space, ctx, action);
  AddTransfer(*space, ctx, action);
  AddInvitations(app, ctx, action);
}

}  // namespace coffer::cli
