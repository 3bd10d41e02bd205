//! The in-process hop from distributor to ingester, for a process running both with no
//! other ingester (`-target=all` without `-ingester.addresses`): pushes reach the
//! ingester by function call on the borrowed request ([`strata_distributor::LocalIngester`])
//! instead of a gRPC round trip through the loopback interface; the querier's selects reach
//! it by function call too ([`strata_querier::ingester_querier::LocalReader`]), taking the
//! ingester's series as they are. Everything else still uses gRPC.

use std::sync::Arc;

use futures::future::BoxFuture;
use strata_distributor::LocalIngester;
use strata_ingester::Ingester;
use strata_model::{Matcher, TenantId};
use strata_proto::flat::FlatWriteRequest;
use strata_proto::ingester::PushResponse;
use strata_querier::ingester_querier::LocalReader;
use strata_storage::{Series, StorageError};

/// This process' ingester, as the distributor's [`LocalIngester`] and the querier's
/// [`LocalReader`].
pub struct InProcessIngester(pub Arc<Ingester>);

impl std::fmt::Debug for InProcessIngester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InProcessIngester")
    }
}

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

impl LocalReader for InProcessIngester {
    fn select<'a>(
        &'a self,
        tenant: &'a TenantId,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> BoxFuture<'a, Result<Vec<Series>, StorageError>> {
        Box::pin(async move {
            self.0
                .select(tenant, start, end, matchers.to_vec())
                .await
                .map_err(|e| {
                    // The same classification as an answer over gRPC (see the querier's
                    // `rpc_error`): the caller's fault, or unavailable.
                    let status = tonic::Status::from(e);
                    let msg = format!("local ingester: select: {}", status.message());
                    match status.code() {
                        tonic::Code::InvalidArgument => StorageError::BadRequest(msg),
                        _ => StorageError::Unavailable(msg),
                    }
                })
        })
    }
}
