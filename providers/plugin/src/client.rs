//! One client for both protocol versions. Protocol 6 renamed RPCs but kept every shared
//! message's field numbers, and its `Schema.Attribute` only adds `nested_type`: requests are
//! built as protocol 6 messages and re-encoded as protocol 5 ones for a version 5 plugin, and
//! every response is read as protocol 6 (whose `legacy_type_system` fields have 5's numbers).

use crate::proto::{v5, v6 as pb};
use prost::Message;
use tonic::transport::Channel;

/// A plugin's gRPC client, by protocol version.
#[derive(Clone)]
pub(crate) enum Client {
    V5(v5::provider_client::ProviderClient<Channel>),
    V6(pb::provider_client::ProviderClient<Channel>),
}

/// Re-encodes a message as its counterpart in the other version.
fn tc<A: Message, B: Message + Default>(a: &A) -> B {
    // Both sides are generated from field-compatible definitions, so decoding cannot fail;
    // a default is the safe fallback should it ever.
    B::decode(a.encode_to_vec().as_slice()).unwrap_or_default()
}

macro_rules! rpc {
    ($self:ident, $req:expr, $v5:ident : $v5req:ty, $v6:ident) => {
        match $self {
            Client::V5(c) => c
                .$v5(tc::<_, $v5req>(&$req))
                .await
                .map(|r| tc(&r.into_inner())),
            Client::V6(c) => c.$v6($req).await.map(|r| r.into_inner()),
        }
    };
}

impl Client {
    pub(crate) fn new(protocol: u32, channel: Channel) -> Client {
        // Schemas of large providers (hundreds of resource types) exceed gRPC's 4 MiB default.
        const MAX: usize = 256 << 20;
        if protocol == 5 {
            Client::V5(
                v5::provider_client::ProviderClient::new(channel)
                    .max_decoding_message_size(MAX)
                    .max_encoding_message_size(MAX),
            )
        } else {
            Client::V6(
                pb::provider_client::ProviderClient::new(channel)
                    .max_decoding_message_size(MAX)
                    .max_encoding_message_size(MAX),
            )
        }
    }

    pub(crate) async fn schema(
        &mut self,
    ) -> Result<pb::get_provider_schema::Response, tonic::Status> {
        let req = pb::get_provider_schema::Request {};
        rpc!(self, req, get_schema: v5::get_provider_schema::Request, get_provider_schema)
    }

    pub(crate) async fn validate_provider(
        &mut self,
        req: pb::validate_provider_config::Request,
    ) -> Result<pb::validate_provider_config::Response, tonic::Status> {
        match self {
            // 5's PrepareProviderConfig answers diagnostics in field 2 as 6's does.
            Client::V5(c) => c
                .prepare_provider_config(tc::<_, v5::prepare_provider_config::Request>(&req))
                .await
                .map(|r| tc(&r.into_inner())),
            Client::V6(c) => c
                .validate_provider_config(req)
                .await
                .map(|r| r.into_inner()),
        }
    }

    pub(crate) async fn validate_resource(
        &mut self,
        req: pb::validate_resource_config::Request,
    ) -> Result<pb::validate_resource_config::Response, tonic::Status> {
        rpc!(self, req, validate_resource_type_config: v5::validate_resource_type_config::Request, validate_resource_config)
    }

    pub(crate) async fn validate_data(
        &mut self,
        req: pb::validate_data_resource_config::Request,
    ) -> Result<pb::validate_data_resource_config::Response, tonic::Status> {
        rpc!(self, req, validate_data_source_config: v5::validate_data_source_config::Request, validate_data_resource_config)
    }

    pub(crate) async fn configure(
        &mut self,
        req: pb::configure_provider::Request,
    ) -> Result<pb::configure_provider::Response, tonic::Status> {
        rpc!(self, req, configure: v5::configure::Request, configure_provider)
    }

    pub(crate) async fn upgrade(
        &mut self,
        req: pb::upgrade_resource_state::Request,
    ) -> Result<pb::upgrade_resource_state::Response, tonic::Status> {
        rpc!(self, req, upgrade_resource_state: v5::upgrade_resource_state::Request, upgrade_resource_state)
    }

    pub(crate) async fn read(
        &mut self,
        req: pb::read_resource::Request,
    ) -> Result<pb::read_resource::Response, tonic::Status> {
        rpc!(self, req, read_resource: v5::read_resource::Request, read_resource)
    }

    pub(crate) async fn plan(
        &mut self,
        req: pb::plan_resource_change::Request,
    ) -> Result<pb::plan_resource_change::Response, tonic::Status> {
        rpc!(self, req, plan_resource_change: v5::plan_resource_change::Request, plan_resource_change)
    }

    pub(crate) async fn apply(
        &mut self,
        req: pb::apply_resource_change::Request,
    ) -> Result<pb::apply_resource_change::Response, tonic::Status> {
        rpc!(self, req, apply_resource_change: v5::apply_resource_change::Request, apply_resource_change)
    }

    pub(crate) async fn import(
        &mut self,
        req: pb::import_resource_state::Request,
    ) -> Result<pb::import_resource_state::Response, tonic::Status> {
        rpc!(self, req, import_resource_state: v5::import_resource_state::Request, import_resource_state)
    }

    pub(crate) async fn read_data(
        &mut self,
        req: pb::read_data_source::Request,
    ) -> Result<pb::read_data_source::Response, tonic::Status> {
        rpc!(self, req, read_data_source: v5::read_data_source::Request, read_data_source)
    }
}
