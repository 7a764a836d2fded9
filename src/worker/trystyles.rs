//! Contact sheets on the worker thread ("Try styles…"): each cell rendered to the end by a Job
//! of its own (the live run's Job keeps its state; the live run waits, and goes on after), one
//! iteration per loop turn so that commands still apply between iterations.

use std::sync::Arc;

use super::run::State;
use super::{lock, Status};
use crate::error::Result;
use crate::notice::Notice;
use crate::transfer::spec::sheet_plan::SheetPlan;
use crate::transfer::{Event, Job, Method};

/// A contact sheet being rendered.
pub(super) struct SheetRun {
    plan: SheetPlan,
    /// The cell in progress.
    index: usize,
    /// Whether its render has started.
    started: bool,
    /// Iterations done over the sheet, and in all.
    done: usize,
    total: usize,
    /// The live run was running when the sheet started: it goes on after.
    resume: bool,
    job: Job,
}

impl State {
    /// Starts rendering `plan` (replacing a sheet in progress); the live run waits.
    pub(super) fn start_sheet(&mut self, plan: SheetPlan) -> Result<()> {
        let resume = self.sheet.as_ref().map_or(self.running, |s| s.resume);
        let total = plan.iterations();
        // The model and decoded images of an earlier sheet carry over.
        let job = self.sheet.take().map(|s| s.job).or_else(|| self.spare_sheet_job.take()).unwrap_or_default();
        self.sheet = Some(SheetRun { plan, index: 0, started: false, done: 0, total, resume, job });
        {
            let mut shared = lock(&self.shared);
            shared.sheet_progress = Some((0, total));
            shared.sheet_cells.clear();
        }
        if self.running {
            self.running = false;
            self.set_status(Status::Paused);
        }
        (self.notify)();
        Ok(())
    }

    /// Ends the sheet (finished or cancelled); the live run goes on if it was running.
    pub(super) fn end_sheet(&mut self) {
        let Some(sheet) = self.sheet.take() else { return };
        lock(&self.shared).sheet_progress = None;
        if sheet.resume && self.job.has_run() && !self.job.is_finished() {
            self.running = true;
            self.set_status(Status::Running);
        }
        // Keep the loaded model for the next sheet.
        self.spare_sheet_job = Some(sheet.job);
        (self.notify)();
    }

    /// One iteration of the sheet's cell in progress (starting it, or moving on when it ends).
    pub(super) fn sheet_step(&mut self) -> Result<()> {
        let Some(sheet) = self.sheet.as_mut() else { return Ok(()) };
        let Some(cell) = sheet.plan.cells.get(sheet.index) else {
            self.end_sheet();
            return Ok(());
        };
        let label = format!("{} / {}", sheet.plan.rows[cell.row], sheet.plan.cols[cell.col]);
        if cell.spec.method == Method::Instant {
            let painted = sheet.job.instant(&cell.spec);
            sheet.done += 1;
            let index = sheet.index;
            sheet.index += 1;
            let progress = (sheet.done, sheet.total);
            let mut shared = lock(&self.shared);
            match painted {
                Ok(picture) => shared.sheet_cells.push((index, Arc::new(picture.into_rgba8()))),
                Err(e) => shared.notice = Some(Notice::warning(format!("{label}: {e}"))),
            }
            shared.sheet_progress = Some(progress);
            drop(shared);
            (self.notify)();
            return Ok(());
        }
        let outcome = if sheet.started { step_cell(sheet) } else { start_cell(sheet) };
        let finished = match outcome {
            Ok(finished) => finished,
            Err(e) => {
                lock(&self.shared).notice = Some(Notice::warning(format!("{label}: {e}")));
                true
            }
        };
        let progress = (sheet.done, sheet.total);
        if finished {
            let picture = sheet.job.output().ok().map(|p| Arc::new(p.into_rgba8()));
            let index = sheet.index;
            sheet.index += 1;
            sheet.started = false;
            if let Some(picture) = picture.filter(|_| sheet.job.is_finished()) {
                lock(&self.shared).sheet_cells.push((index, picture));
            }
        }
        lock(&self.shared).sheet_progress = Some(progress);
        (self.notify)();
        Ok(())
    }
}

/// Starts the cell in progress; `Ok(true)` when it has nothing to do.
fn start_cell(sheet: &mut SheetRun) -> Result<bool> {
    let spec = sheet.plan.cells[sheet.index].spec.clone();
    sheet.job.start(spec)?;
    sheet.started = true;
    Ok(sheet.job.is_finished())
}

/// One iteration of the cell in progress; `Ok(true)` when it is finished.
fn step_cell(sheet: &mut SheetRun) -> Result<bool> {
    for event in sheet.job.step()? {
        match event {
            Event::Stepped(_) => sheet.done += 1,
            Event::Finished => return Ok(true),
            Event::Fault(_) | Event::StageChanged { .. } => {}
        }
    }
    Ok(sheet.job.is_finished())
}
