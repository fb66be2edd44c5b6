//! The guards a promotion runs under when monitors elect through etcd: a monitor's failover
//! fences and promotes only while its lease holds and claims its epoch with its fencing token;
//! a person's switch claims its epoch without a lease, so no monitor promotes it again.

use super::Election;
use crate::apply::PromotionGuard;
use crate::plan::SwitchPlan;
use std::sync::Arc;

/// The guard of a failover that the monitor holding `election`'s lease runs.
pub fn epoch_guard(election: Arc<Election>) -> Arc<dyn PromotionGuard> {
    Arc::new(EpochGuard(election))
}

/// The guard of a promotion a person runs while monitors elect through etcd.
pub fn operator_guard(election: Election) -> Arc<dyn PromotionGuard> {
    Arc::new(OperatorGuard(election))
}

/// A person's promotion: claims the epoch without a lease.
struct OperatorGuard(Election);

#[async_trait::async_trait]
impl PromotionGuard for OperatorGuard {
    async fn may_fence(&self, _plan: &SwitchPlan) -> Result<(), String> {
        Ok(())
    }

    async fn claim(&self, plan: &SwitchPlan) -> Result<String, String> {
        let c = self
            .0
            .claim_as_operator(&plan.group, plan.epoch, &plan.to)
            .await
            .map_err(|e| e.to_string())?;
        Ok(claimed_note(plan.epoch, "by an operator", c.previous))
    }

    async fn claimed_epoch(&self, group: &str) -> Option<u64> {
        self.0.claimed_epoch(group).await.ok().flatten()
    }
}

fn claimed_note(epoch: u64, how: &str, previous: Option<u64>) -> String {
    format!(
        "epoch {epoch} claimed in etcd {how}{}",
        previous.map_or(String::new(), |p| format!(" (previous epoch {p})"))
    )
}

/// Fencing and promotion only while the lease holds, and each promotion claims its epoch.
struct EpochGuard(Arc<Election>);

#[async_trait::async_trait]
impl PromotionGuard for EpochGuard {
    async fn may_fence(&self, _plan: &SwitchPlan) -> Result<(), String> {
        self.0.verify().await.map(|_| ()).map_err(|e| e.to_string())
    }

    async fn claim(&self, plan: &SwitchPlan) -> Result<String, String> {
        let c = self
            .0
            .claim(&plan.group, plan.epoch, &plan.to)
            .await
            .map_err(|e| e.to_string())?;
        Ok(claimed_note(
            plan.epoch,
            &format!("with fencing token {}", c.token),
            c.previous,
        ))
    }

    async fn claimed_epoch(&self, group: &str) -> Option<u64> {
        self.0.claimed_epoch(group).await.ok().flatten()
    }
}
