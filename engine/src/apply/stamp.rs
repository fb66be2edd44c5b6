//! Finishing a promotion that another actor left half done: the member was promoted, but the
//! actor died before writing the promotion's epoch into it.

use super::switch::{StepCtx, StepError, StepOutcome};
use standby_provider_sdk::{Member, Replication, Role};

impl StepCtx {
    /// With a lease (a monitor, or `--etcd`): claims `plan.epoch` in etcd, then asks for the
    /// lease again, since the claim may have landed just before this process froze, so a
    /// holder whose lease lapsed since then changes nothing. `what` names the refused action.
    pub(super) async fn claim_epoch(
        &self,
        out: &mut StepOutcome,
        what: &str,
    ) -> Result<(), StepError> {
        let Some(g) = &self.guard else {
            return Ok(());
        };
        let claimed = g.claim(&self.plan).await.map_err(|e| {
            self.fail(
                &format!("{what} refused: the epoch claim failed"),
                format!("{e}; a saved plan keeps the epoch it was made with: run `standby apply` without one, which plans above every epoch claimed in etcd"),
            )
        })?;
        out.notes.push(claimed);
        super::failpoint::freeze_if_asked(&self.root, &self.step, "freeze-after-claim");
        g.may_fence(&self.plan).await.map_err(|e| {
            self.fail(
                &format!("{what} refused: the lease lapsed after the epoch claim"),
                e,
            )
        })
    }

    /// Writes `plan.epoch` into the adopted primary, claimed like a promotion's epoch, so
    /// that a deposed primary coming back writable is provably the older one. The member
    /// decides: a primary that already carries this epoch or a newer one is left alone.
    pub(super) async fn stamp(
        &self,
        r: &dyn Replication,
        to: &Member,
        out: &mut StepOutcome,
    ) -> Result<(), StepError> {
        let st = r.status(to, None).await.map_err(|e| self.pe(e))?;
        if st.role != Role::Primary {
            return Err(self.fail(
                "the adopted primary is no longer primary",
                format!(
                    "{} reads as {} now: run `standby plan` again, which reads the members afresh",
                    self.plan.to, st.role
                ),
            ));
        }
        if st.epoch >= self.plan.epoch {
            return Ok(());
        }
        self.claim_epoch(out, "epoch write").await?;
        // Promoting a primary again only writes the epoch (and opens it, as the interrupted
        // promotion would have).
        r.promote(to, self.plan.epoch)
            .await
            .map_err(|e| self.pe(e))?;
        out.notes.push(format!(
            "{} was promoted by a switch interrupted before it wrote its epoch; wrote epoch {} into it",
            self.plan.to, self.plan.epoch
        ));
        Ok(())
    }
}
