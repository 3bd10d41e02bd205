//! Per-tenant head options: the out-of-order window and the exemplar buffer size, with
//! per-tenant overrides (Mimir's limits overrides, simplified to a map).

use std::collections::HashMap;

use strata_model::TenantId;

use crate::head::exemplars::DEFAULT_MAX_EXEMPLARS;

/// Options of one tenant's head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadOptions {
    /// How far (ms) behind the head's newest sample an out-of-order float sample is still
    /// accepted; 0 refuses every out-of-order sample (Prometheus's `out_of_order_time_window`).
    pub out_of_order_time_window_ms: i64,
    /// Exemplars kept per tenant (a circular buffer); 0 stores none.
    pub max_exemplars: usize,
}

impl Default for HeadOptions {
    fn default() -> Self {
        Self {
            out_of_order_time_window_ms: 0,
            max_exemplars: DEFAULT_MAX_EXEMPLARS,
        }
    }
}

/// Head options for every tenant: defaults, and overrides by tenant id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantHeadOptions {
    /// Options of tenants without an override.
    pub defaults: HeadOptions,
    /// Options by tenant id.
    pub overrides: HashMap<String, HeadOptions>,
}

impl TenantHeadOptions {
    /// The options of `tenant`.
    pub fn for_tenant(&self, tenant: &TenantId) -> HeadOptions {
        self.overrides
            .get(tenant.as_str())
            .copied()
            .unwrap_or(self.defaults)
    }
}
