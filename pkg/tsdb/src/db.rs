//! Heads of all tenants, created on first write.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use strata_model::TenantId;

use crate::head::Head;

/// Every tenant's [`Head`]. A tenant's head appears on its first write and lives as long as
/// the `Db` (no head compaction or tenant eviction yet).
#[derive(Debug, Default)]
pub struct Db {
    heads: RwLock<HashMap<TenantId, Arc<Head>>>,
}

impl Db {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tenant's head, if it has written anything.
    pub fn head(&self, tenant: &TenantId) -> Option<Arc<Head>> {
        self.heads.read().get(tenant).cloned()
    }

    /// The tenant's head, created if new.
    pub fn get_or_create_head(&self, tenant: &TenantId) -> Arc<Head> {
        if let Some(h) = self.head(tenant) {
            return h;
        }
        let mut heads = self.heads.write();
        let h = heads.entry(tenant.clone()).or_insert_with(|| {
            tracing::info!(tenant = %tenant, "created tenant head");
            Arc::new(Head::new())
        });
        Arc::clone(h)
    }

    /// Tenants with a head, sorted.
    pub fn tenants(&self) -> Vec<TenantId> {
        let mut t: Vec<TenantId> = self.heads.read().keys().cloned().collect();
        t.sort();
        t
    }

    /// The number of head series per tenant, sorted by tenant.
    pub fn series_per_tenant(&self) -> Vec<(TenantId, usize)> {
        let mut out: Vec<(TenantId, usize)> = self
            .heads
            .read()
            .iter()
            .map(|(t, h)| (t.clone(), h.num_series()))
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_per_tenant_and_created_once() {
        let db = Db::new();
        let a = TenantId::new("a").expect("valid tenant");
        let b = TenantId::new("b").expect("valid tenant");
        assert!(db.head(&a).is_none());
        let ha = db.get_or_create_head(&a);
        assert!(Arc::ptr_eq(&ha, &db.get_or_create_head(&a)));
        let mut app = ha.appender();
        app.append(&strata_model::Labels::from_pairs([("x", "1")]), 1, 1.0)
            .expect("valid series");
        app.commit();
        db.get_or_create_head(&b);
        assert_eq!(db.tenants(), vec![a.clone(), b.clone()]);
        assert_eq!(db.series_per_tenant(), vec![(a, 1), (b, 0)]);
    }
}
