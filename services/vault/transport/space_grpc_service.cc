#include "services/vault/transport/space_grpc_service.h"

#include <google/protobuf/util/time_util.h>

#include "pkg/crypto/encoding.h"
#include "pkg/status/status.h"
#include "services/vault/domain/role.h"
#include "services/vault/transport/proto_mapping.h"

namespace coffer::vault::transport {
namespace {

using service::Caller;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

// The window [first, first + size) of a list of `total` items for (page_size, page_token), and
// the token of the next page ("" = none).
struct Window {
  size_t first = 0;
  size_t size = 0;
  std::string next_token;
};

absl::StatusOr<Window> PageOf(size_t total, int32_t page_size, const std::string& token) {
  if (page_size < 0) return absl::InvalidArgumentError("page_size: must not be negative");
  const size_t size = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  Window w;
  if (!token.empty()) {
    absl::StatusOr<std::string> raw = crypto::Base64UrlDecode(token);
    if (!raw.ok() || raw->rfind("p1|", 0) != 0 || raw->size() > 23) {
      return absl::InvalidArgumentError("page_token: malformed");
    }
    try {
      size_t used = 0;
      const unsigned long long first = std::stoull(raw->substr(3), &used);
      if (used != raw->size() - 3) return absl::InvalidArgumentError("page_token: malformed");
      w.first = static_cast<size_t>(std::min<unsigned long long>(first, total));
    } catch (const std::exception&) {
      return absl::InvalidArgumentError("page_token: malformed");
    }
  }
  w.size = std::min(size, total - w.first);
  if (w.first + w.size < total) {
    w.next_token = crypto::Base64UrlEncode("p1|" + std::to_string(w.first + w.size));
  }
  return w;
}

google::protobuf::Timestamp Ms(int64_t ms) {
  return google::protobuf::util::TimeUtil::MillisecondsToTimestamp(ms);
}

absl::StatusOr<domain::Role> RoleFromProto(v1::Role role) {
  switch (role) {
    case v1::ROLE_READER:
      return domain::Role::kReader;
    case v1::ROLE_WRITER:
      return domain::Role::kWriter;
    case v1::ROLE_ADMIN:
      return domain::Role::kAdmin;
    case v1::ROLE_OWNER:
      return domain::Role::kOwner;
    default:
      return absl::InvalidArgumentError("role: required (READER, WRITER or ADMIN)");
  }
}

v1::InvitationState StateToProto(const std::string& state) {
  if (state == "pending") return v1::INVITATION_STATE_PENDING;
  if (state == "accepted") return v1::INVITATION_STATE_ACCEPTED;
  if (state == "declined") return v1::INVITATION_STATE_DECLINED;
  if (state == "revoked") return v1::INVITATION_STATE_REVOKED;
  if (state == "expired") return v1::INVITATION_STATE_EXPIRED;
  return v1::INVITATION_STATE_UNSPECIFIED;
}

void InvitationToProto(const service::InvitationInfo& info, v1::Invitation* out) {
  out->set_id(info.id);
  out->set_space_id(info.space_id);
  out->set_space_name(info.space_name);
  out->set_inviter_id(info.inviter_id);
  out->set_inviter_login(info.inviter_login);
  out->set_invitee_id(info.invitee_id);
  out->set_invitee_login(info.invitee_login);
  out->set_role(static_cast<v1::Role>(info.role));  // same numbering
  out->set_state(StateToProto(info.state));
  *out->mutable_create_time() = Ms(info.created_at_ms);
  *out->mutable_expire_time() = Ms(info.expires_at_ms);
}

void MemberToProto(const service::MemberInfo& m, v1::Member* out) {
  out->set_user_id(m.user_id);
  out->set_login(m.login);
  out->set_role(static_cast<v1::Role>(m.role));
  *out->mutable_join_time() = Ms(m.joined_at_ms);
}

}  // namespace

grpc::Status SpaceGrpcService::CreateSpace(grpc::ServerContext* ctx,
                                           const v1::CreateSpaceRequest* req,
                                           v1::CreateSpaceResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(service::SpaceInfo space, spaces_.Create(caller, req->name()));
    SpaceToProto(space, resp->mutable_space());
    return absl::OkStatus();
  });
}

grpc::Status SpaceGrpcService::GetSpace(grpc::ServerContext* ctx, const v1::GetSpaceRequest* req,
                                        v1::GetSpaceResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(service::SpaceInfo space, spaces_.Get(caller, req->space_id()));
    SpaceToProto(space, resp->mutable_space());
    return absl::OkStatus();
  });
}

grpc::Status SpaceGrpcService::ListSpaces(grpc::ServerContext* ctx,
                                          const v1::ListSpacesRequest* req,
                                          v1::ListSpacesResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    if (req->page_size() < 0) return absl::InvalidArgumentError("page_size: must not be negative");
    COFFER_ASSIGN_OR_RETURN(std::vector<service::SpaceInfo> spaces, spaces_.List(caller));
    COFFER_ASSIGN_OR_RETURN(Window w, PageOf(spaces.size(), req->page_size(), req->page_token()));
    for (size_t i = w.first; i < w.first + w.size; ++i) SpaceToProto(spaces[i], resp->add_spaces());
    resp->set_next_page_token(w.next_token);
    return absl::OkStatus();
  });
}

grpc::Status SpaceGrpcService::UpdateSpace(grpc::ServerContext* ctx,
                                           const v1::UpdateSpaceRequest* req,
                                           v1::UpdateSpaceResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(service::SpaceInfo space,
                            spaces_.Rename(caller, req->space_id(), req->name()));
    SpaceToProto(space, resp->mutable_space());
    return absl::OkStatus();
  });
}

grpc::Status SpaceGrpcService::DeleteSpace(grpc::ServerContext* ctx,
                                           const v1::DeleteSpaceRequest* req,
                                           v1::DeleteSpaceResponse*) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    return spaces_.Delete(caller, req->space_id());
  });
}

grpc::Status SpaceGrpcService::TransferOwnership(grpc::ServerContext* ctx,
                                                 const v1::TransferOwnershipRequest* req,
                                                 v1::TransferOwnershipResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(service::SpaceInfo space,
                            spaces_.TransferOwnership(caller, req->space_id(), req->user_id()));
    SpaceToProto(space, resp->mutable_space());
    return absl::OkStatus();
  });
}

grpc::Status SpaceGrpcService::InviteMember(grpc::ServerContext* ctx,
                                            const v1::InviteMemberRequest* req,
                                            v1::InviteMemberResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(domain::Role role, RoleFromProto(req->role()));
    service::Invitee invitee;
    switch (req->invitee_case()) {
      case v1::InviteMemberRequest::kUserId:
        invitee.user_id = req->user_id();
        break;
      case v1::InviteMemberRequest::kLogin:
        invitee.login = req->login();
        if (invitee.login.empty()) return absl::InvalidArgumentError("login: required");
        break;
      default:
        return absl::InvalidArgumentError("invitee: set user_id or login");
    }
    if (req->ttl().seconds() < 0 || req->ttl().nanos() < 0) {
      return absl::InvalidArgumentError("ttl: must not be negative");
    }
    // Checked before converting: seconds near INT64_MAX would overflow the milliseconds (UB).
    if (req->ttl().seconds() > int64_t{365} * 24 * 3600) {
      return absl::InvalidArgumentError("ttl: must be between 0 (7 days) and 30 days");
    }
    const int64_t ttl_ms = google::protobuf::util::TimeUtil::DurationToMilliseconds(req->ttl());
    COFFER_ASSIGN_OR_RETURN(service::InvitationInfo invitation,
                            spaces_.Invite(caller, req->space_id(), invitee, role, ttl_ms));
    InvitationToProto(invitation, resp->mutable_invitation());
    return absl::OkStatus();
  });
}

grpc::Status SpaceGrpcService::AcceptInvitation(grpc::ServerContext* ctx,
                                                const v1::AcceptInvitationRequest* req,
                                                v1::AcceptInvitationResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(service::SpaceInfo space, spaces_.Accept(caller, req->invitation_id()));
    SpaceToProto(space, resp->mutable_space());
    return absl::OkStatus();
  });
}

grpc::Status SpaceGrpcService::DeclineInvitation(grpc::ServerContext* ctx,
                                                 const v1::DeclineInvitationRequest* req,
                                                 v1::DeclineInvitationResponse*) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    return spaces_.Decline(caller, req->invitation_id());
  });
}

grpc::Status SpaceGrpcService::RevokeInvitation(grpc::ServerContext* ctx,
                                                const v1::RevokeInvitationRequest* req,
                                                v1::RevokeInvitationResponse*) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    return spaces_.Revoke(caller, req->invitation_id());
  });
}

grpc::Status SpaceGrpcService::ListInvitations(grpc::ServerContext* ctx,
                                               const v1::ListInvitationsRequest* req,
                                               v1::ListInvitationsResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    if (req->page_size() < 0) return absl::InvalidArgumentError("page_size: must not be negative");
    COFFER_ASSIGN_OR_RETURN(std::vector<service::InvitationInfo> invitations,
                            spaces_.ListInvitations(caller, req->space_id()));
    COFFER_ASSIGN_OR_RETURN(Window w,
                            PageOf(invitations.size(), req->page_size(), req->page_token()));
    for (size_t i = w.first; i < w.first + w.size; ++i) {
      InvitationToProto(invitations[i], resp->add_invitations());
    }
    resp->set_next_page_token(w.next_token);
    return absl::OkStatus();
  });
}

grpc::Status SpaceGrpcService::ListMembers(grpc::ServerContext* ctx,
                                           const v1::ListMembersRequest* req,
                                           v1::ListMembersResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    if (req->page_size() < 0) return absl::InvalidArgumentError("page_size: must not be negative");
    COFFER_ASSIGN_OR_RETURN(std::vector<service::MemberInfo> members,
                            spaces_.ListMembers(caller, req->space_id()));
    COFFER_ASSIGN_OR_RETURN(Window w, PageOf(members.size(), req->page_size(), req->page_token()));
    for (size_t i = w.first; i < w.first + w.size; ++i) {
      MemberToProto(members[i], resp->add_members());
    }
    resp->set_next_page_token(w.next_token);
    return absl::OkStatus();
  });
}

grpc::Status SpaceGrpcService::UpdateMemberRole(grpc::ServerContext* ctx,
                                                const v1::UpdateMemberRoleRequest* req,
                                                v1::UpdateMemberRoleResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(domain::Role role, RoleFromProto(req->role()));
    COFFER_ASSIGN_OR_RETURN(service::MemberInfo member,
                            spaces_.UpdateRole(caller, req->space_id(), req->user_id(), role));
    MemberToProto(member, resp->mutable_member());
    return absl::OkStatus();
  });
}

grpc::Status SpaceGrpcService::RemoveMember(grpc::ServerContext* ctx,
                                            const v1::RemoveMemberRequest* req,
                                            v1::RemoveMemberResponse*) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    return spaces_.Remove(caller, req->space_id(), req->user_id());
  });
}

grpc::Status SpaceGrpcService::LeaveSpace(grpc::ServerContext* ctx,
                                          const v1::LeaveSpaceRequest* req,
                                          v1::LeaveSpaceResponse*) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    return spaces_.Leave(caller, req->space_id());
  });
}

}  // namespace coffer::vault::transport
