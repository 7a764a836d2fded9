//! What driving a render reports: each step's outcome, stage changes, numerical faults.

use crate::transfer::run::stepper::StepReport;

/// After this many consecutive non-finite steps the run pauses for the user to fix the weights.
pub const MAX_FAULTS: u32 = 3;

/// Something that happened during a step, for the driver to report.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An update was applied; the report's `iteration` counts over all stages.
    Stepped(StepReport),
    /// The run moved to the next, larger stage (warm-started from the previous one).
    StageChanged {
        /// Index of the new stage.
        index: usize,
        /// Its long side in pixels.
        size: u32,
    },
    /// A non-finite loss or update, or a jump of the loss, was rolled back and the run goes on
    /// ([`MAX_FAULTS`] in a row pause it: [`crate::Error::Paused`]).
    Fault(Fault),
    /// The iteration budget is spent.
    Finished,
}

/// A numerical fault and what was done about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// The iteration (1-based) that failed.
    pub iteration: usize,
    /// What went wrong: "the loss became infinite or NaN", "the loss jumped from ... to ...".
    pub problem: String,
    /// Faults in a row, this one included.
    pub in_a_row: u32,
    /// Adam's new learning rate, when it was halved.
    pub new_lr: Option<f64>,
}

impl Fault {
    /// What went wrong, without the remedy: "Iteration 3: the loss became infinite or NaN" (and
    /// "3 times in a row" after more than one).
    pub fn cause(&self) -> String {
        let repeated = if self.in_a_row > 1 { format!(" {} times in a row", self.in_a_row) } else { String::new() };
        format!("Iteration {}: {}{repeated}", self.iteration, self.problem)
    }
}

/// A fault the run recovered from and goes on after (one that pauses it is
/// [`crate::Error::Paused`]).
impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; kept the last good image and restarted the optimiser", self.cause())?;
        match self.new_lr {
            Some(lr) => write!(f, " with learning rate {lr:.3}"),
            None => Ok(()),
        }
    }
}
