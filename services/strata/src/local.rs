//! The in-process hop from distributor to ingester, for a process running both with no
//! other ingester (`-target=all` without `-ingester.addresses`): pushes reach the
//! ingester by function call on the borrowed request ([`strata_distributor::LocalIngester`])
//! instead of a gRPC round trip through the loopback interface. Queries and everything the
//! fast path does not cover still use gRPC.

use std::sync::Arc;

use futures::future::BoxFuture;
use strata_distributor::LocalIngester;
use strata_ingester::Ingester;
use strata_proto::flat::FlatWriteRequest;
use strata_proto::ingester::PushResponse;

/// This process' ingester, as the distributor's [`LocalIngester`].
pub struct InProcessIngester(pub Arc<Ingester>);

impl LocalIngester for InProcessIngester {
    fn push<'a>(
        &'a self,
        tenant: &'a str,
        req: &'a FlatWriteRequest<'a>,
    ) -> BoxFuture<'a, Result<PushResponse, tonic::Status>> {
        Box::pin(async move {
            self.0
                .push_flat(tenant, req)
                .await
                .map_err(tonic::Status::from)
        })
    }
}
