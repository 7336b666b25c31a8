// SpaceGrpcService: the SpaceService RPCs (proto/coffer/vault/v1/spaces.proto) over
// service::SpaceService. Lists are paged in memory: a page token is the position of the next
// item (not secret), and the lists are one user's spaces, one space's members or pending
// invitations.
//
// Lifecycle: borrows its collaborators. Threading: as every handler, concurrent calls.
#pragma once

#include "coffer/vault/v1/spaces.grpc.pb.h"
#include "services/vault/service/space_service.h"
#include "services/vault/transport/authenticator.h"

namespace coffer::vault::transport {

class SpaceGrpcService final : public v1::SpaceService::Service {
 public:
  SpaceGrpcService(Authenticator& auth, service::SpaceService& spaces)
      : auth_(auth), spaces_(spaces) {}

  grpc::Status CreateSpace(grpc::ServerContext* ctx, const v1::CreateSpaceRequest* req,
                           v1::CreateSpaceResponse* resp) override;
  grpc::Status GetSpace(grpc::ServerContext* ctx, const v1::GetSpaceRequest* req,
                        v1::GetSpaceResponse* resp) override;
  grpc::Status ListSpaces(grpc::ServerContext* ctx, const v1::ListSpacesRequest* req,
                          v1::ListSpacesResponse* resp) override;
  grpc::Status UpdateSpace(grpc::ServerContext* ctx, const v1::UpdateSpaceRequest* req,
                           v1::UpdateSpaceResponse* resp) override;
  grpc::Status DeleteSpace(grpc::ServerContext* ctx, const v1::DeleteSpaceRequest* req,
                           v1::DeleteSpaceResponse* resp) override;
  grpc::Status TransferOwnership(grpc::ServerContext* ctx, const v1::TransferOwnershipRequest* req,
                                 v1::TransferOwnershipResponse* resp) override;
  grpc::Status InviteMember(grpc::ServerContext* ctx, const v1::InviteMemberRequest* req,
                            v1::InviteMemberResponse* resp) override;
  grpc::Status AcceptInvitation(grpc::ServerContext* ctx, const v1::AcceptInvitationRequest* req,
                                v1::AcceptInvitationResponse* resp) override;
  grpc::Status DeclineInvitation(grpc::ServerContext* ctx, const v1::DeclineInvitationRequest* req,
                                 v1::DeclineInvitationResponse* resp) override;
  grpc::Status RevokeInvitation(grpc::ServerContext* ctx, const v1::RevokeInvitationRequest* req,
                                v1::RevokeInvitationResponse* resp) override;
  grpc::Status ListInvitations(grpc::ServerContext* ctx, const v1::ListInvitationsRequest* req,
                               v1::ListInvitationsResponse* resp) override;
  grpc::Status ListMembers(grpc::ServerContext* ctx, const v1::ListMembersRequest* req,
                           v1::ListMembersResponse* resp) override;
  grpc::Status UpdateMemberRole(grpc::ServerContext* ctx, const v1::UpdateMemberRoleRequest* req,
                                v1::UpdateMemberRoleResponse* resp) override;
  grpc::Status RemoveMember(grpc::ServerContext* ctx, const v1::RemoveMemberRequest* req,
                            v1::RemoveMemberResponse* resp) override;
  grpc::Status LeaveSpace(grpc::ServerContext* ctx, const v1::LeaveSpaceRequest* req,
                          v1::LeaveSpaceResponse* resp) override;

 private:
  Authenticator& auth_;
  service::SpaceService& spaces_;
};

}  // namespace coffer::vault::transport
