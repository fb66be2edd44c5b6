//! Finishing a promotion that another actor left half done: the member was promoted, but the
//! actor died before writing the promotion's epoch into it.

use super::switch::{StepCtx, StepError, StepOutcome};
use standby_provider_sdk::{Member, Replication, Role};

impl StepCtx {
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
        if let Some(g) = &self.guard {
            let claimed = g
                .claim(&self.plan)
                .await
                .map_err(|e| self.fail("epoch refused: the claim failed", e))?;
            out.notes.push(claimed);
            g.may_fence(&self.plan)
                .await
                .map_err(|e| self.fail("epoch refused: the lease lapsed after the claim", e))?;
        }
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
