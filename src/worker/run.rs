//! The worker thread's loop: commands in, one [`Job`] step at a time, frames out.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::TryRecvError;
use std::sync::{Arc, Mutex};

use image::{RgbImage, RgbaImage};

use super::{lock, Command, Frame, Inbox, LossPoint, Notify, Shared, Status};
use crate::error::{Error, Result};
use crate::imageio::{fit_long_side, resize};
use crate::model::device_name;
use crate::notice::{combined, Notice};
use crate::transfer::spec::MAX_SIZE;
use crate::transfer::{available_memory_on, largest_fitting, Event, Init, Job, Method, RenderSpec, Update};

/// Everything the worker keeps between commands.
pub(super) struct State {
    pub(super) shared: Arc<Mutex<Shared>>,
    pub(super) notify: Notify,
    pub(super) job: Job,
    /// Identifies the current run (increases with every Start).
    id: u64,
    pub(super) running: bool,
    /// The content at the current stage's size (built once per stage, not per frame).
    content: Option<Arc<RgbaImage>>,
    /// The largest print of the current run that fits (see [`Frame::max_print`]).
    max_print: Option<u32>,
    /// A print this thread took is under way.
    in_print: bool,
    /// A contact sheet being rendered (it goes before the live run).
    pub(super) sheet: Option<super::trystyles::SheetRun>,
    /// The Job of the last sheet, kept with its model for the next.
    pub(super) spare_sheet_job: Option<Job>,
    /// How the picture last published was made, and the picture.
    shown: Option<(Method, Arc<RgbaImage>)>,
    /// A clip being rendered.
    pub(super) clip: Option<super::clip::ClipRun>,
}

pub(crate) fn main_loop(rx: Inbox, shared: Arc<Mutex<Shared>>, notify: Notify) {
    let mut state = State {
        shared,
        notify,
        job: Job::new(),
        id: 0,
        running: false,
        content: None,
        max_print: None,
        in_print: false,
        sheet: None,
        spare_sheet_job: None,
        shown: None,
        clip: None,
    };
    loop {
        let cmd = if state.running || state.sheet.is_some() || state.clip.is_some() {
            match rx.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            }
        } else {
            match rx.recv() {
                Ok(c) => Some(c),
                Err(_) => return,
            }
        };
        // Apply every pending command before the next (long) iteration.
        let outcome = catch_unwind(AssertUnwindSafe(|| match cmd {
            Some(Command::Shutdown) => Ok(false),
            Some(cmd) => state.handle(cmd).map(|()| true),
            None => state.step().map(|()| true),
        }));
        match outcome {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return,
            Ok(Err(e)) => state.fail(e.to_string()),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                state.fail(format!("internal error: {msg}"));
            }
        }
    }
}

impl State {
    pub(super) fn set_status(&self, status: Status) {
        lock(&self.shared).status = status;
        (self.notify)();
    }

    /// Marks the print (if any) as over, for the owner.
    fn end_print(&mut self) {
        self.in_print = false;
        lock(&self.shared).printing = false;
    }

    fn fail(&mut self, msg: String) {
        if self.in_print {
            self.end_print();
        }
        self.running = false;
        self.set_status(Status::Failed(msg));
    }

    fn handle(&mut self, cmd: Command) -> Result<()> {
        match cmd {
            Command::Start(spec) => self.start(*spec),
            Command::Instant(spec) => self.instant(*spec),
            Command::Update(spec) => {
                let colours = self.job.spec().map(|s| s.preserve_colors);
                if self.job.update(&spec)? != Update::Applied {
                    return Ok(());
                }
                lock(&self.shared).live_updates += 1;
                if self.job.is_finished() && self.running {
                    self.running = false;
                    self.set_status(Status::Stopped);
                }
                if colours != Some(spec.preserve_colors) {
                    // A post-process on the image shown: show it at once.
                    self.publish()?;
                }
                Ok(())
            }
            Command::Print(size) => self.print(size),
            Command::CancelPrint => {
                self.end_print();
                self.running = false;
                if self.job.cancel_stage()? {
                    self.content = Some(Arc::new(to_rgba(self.job.content()?.clone())));
                    lock(&self.shared).notice =
                        Some(Notice::info("Print cancelled: back to the last finished stage.".to_string()));
                }
                self.publish()?;
                self.set_status(Status::Stopped);
                Ok(())
            }
            Command::Pause => self.set_running(false, Status::Paused),
            Command::Resume => {
                self.job.resume();
                if self.job.is_finished() {
                    Ok(())
                } else {
                    self.set_running(true, Status::Running)
                }
            }
            Command::Stop => self.set_running(false, Status::Stopped),
            Command::Sheet(plan) => self.start_sheet(*plan),
            Command::CancelSheet => {
                self.end_sheet();
                Ok(())
            }
            Command::RenderClip(request) => self.start_clip(*request),
            Command::CancelClip => {
                self.cancel_clip();
                Ok(())
            }
            Command::Shutdown => Ok(()),
        }
    }

    fn set_running(&mut self, running: bool, status: Status) -> Result<()> {
        if self.job.has_run() {
            self.running = running;
            self.set_status(status);
        }
        Ok(())
    }

    fn start(&mut self, spec: RenderSpec) -> Result<()> {
        if self.in_print {
            self.end_print();
        }
        // A clip render stops (its finished frames stay) for the still picture asked for.
        self.cancel_clip();
        self.running = false;
        self.id += 1;
        self.set_status(Status::Preparing);
        spec.validate()?;
        // Show the photo at once: the model and targets take seconds at large sizes. A run
        // starting from the instant look keeps the picture on screen instead (the painted start
        // comes with the first frame).
        let sources = self.job.sources(&spec)?;
        let first = spec.stages().first().map_or(spec.size, |s| s.size);
        let photo = Arc::new(to_rgba(resize(&sources.content, fit_long_side(sources.content.dimensions(), first))));
        let shown = match &self.shown {
            Some((Method::Instant, image)) if spec.run.init == Init::Instant => image.clone(),
            _ => photo.clone(),
        };
        self.publish_frame(Frame {
            image: shown,
            run: self.id,
            content: photo,
            iteration: 0,
            total: 0,
            stage: 0,
            max_print: None,
            device: self.job.net().map_or("CPU", |n| device_name(n.device())),
            losses: None,
            seconds: 0.0,
            spec: Arc::new(spec.clone()),
        });
        let spec_for_memory = spec.clone();
        if let Some(notice) = combined(&self.job.start(spec)?) {
            lock(&self.shared).notice = Some(notice);
        }
        self.content = Some(Arc::new(to_rgba(self.job.content()?.clone())));
        self.max_print = self.job.net().and_then(|net| {
            let dims = sources.content.dimensions();
            largest_fitting(&spec_for_memory, dims, &net.config(), available_memory_on(net.device()), MAX_SIZE)
        });
        // Show the initial image at once, before the first (slow) iteration.
        self.publish()?;
        self.running = !self.job.is_finished();
        self.set_status(if self.running { Status::Running } else { Status::Stopped });
        Ok(())
    }

    /// Paints the instant look of `spec` and shows it as a frame of its own (a run in progress
    /// ends; the model and sources stay loaded). A failure is a notice: the optimiser still works.
    fn instant(&mut self, spec: RenderSpec) -> Result<()> {
        if self.in_print {
            self.end_print();
        }
        self.running = false;
        let start = std::time::Instant::now();
        let painted = self.job.instant(&spec).and_then(|image| Ok((image, self.job.sources(&spec)?)));
        let (image, sources) = match painted {
            Ok(done) => done,
            Err(e) => {
                lock(&self.shared).notice = Some(Notice::warning(format!("No instant look: {e}.")));
                (self.notify)();
                return Ok(());
            }
        };
        self.id += 1;
        let dims = (image.width(), image.height());
        let spec = RenderSpec {
            content: Some(sources.content_ref.clone()),
            styles: sources.style_refs.clone(),
            method: Method::Instant,
            ..spec
        };
        self.publish_frame(Frame {
            run: self.id,
            image: Arc::new(image.into_rgba8()),
            content: Arc::new(to_rgba(resize(&sources.content, dims))),
            iteration: 0,
            total: 0,
            stage: 0,
            max_print: None,
            device: self.job.net().map_or("CPU", |n| device_name(n.device())),
            losses: None,
            seconds: start.elapsed().as_secs_f64(),
            spec: Arc::new(spec),
        });
        self.set_status(Status::Idle);
        Ok(())
    }

    /// Continues the current render at a larger size (computing the next stage's targets first).
    fn print(&mut self, size: u32) -> Result<()> {
        self.in_print = true;
        lock(&self.shared).printing = true;
        self.running = false;
        self.set_status(Status::Preparing);
        let notes = self.job.print(size)?;
        if let Some(notice) = combined(&notes) {
            lock(&self.shared).notice = Some(notice);
        }
        self.content = Some(Arc::new(to_rgba(self.job.content()?.clone())));
        self.publish()?;
        self.running = true;
        self.set_status(Status::Running);
        Ok(())
    }

    fn step(&mut self) -> Result<()> {
        if self.sheet.is_some() {
            return self.sheet_step();
        }
        if self.clip.is_some() {
            return self.clip_step();
        }
        let events = match self.job.step() {
            Err(e @ Error::Paused(_)) => {
                lock(&self.shared).notice = Some(Notice::warning(format!("{e}, then Resume.")));
                self.running = false;
                self.publish()?;
                self.set_status(Status::Paused);
                return Ok(());
            }
            events => events?,
        };
        for event in events {
            match event {
                Event::Stepped(report) => lock(&self.shared).history.push(LossPoint {
                    run: self.id,
                    iteration: report.iteration,
                    losses: report.losses,
                }),
                Event::StageChanged { .. } => self.content = Some(Arc::new(to_rgba(self.job.content()?.clone()))),
                Event::Fault(fault) => lock(&self.shared).notice = Some(Notice::warning(format!("{fault}."))),
                Event::Finished => {
                    if self.in_print {
                        self.end_print();
                    }
                    self.running = false;
                    self.publish()?;
                    self.set_status(Status::Stopped);
                    return Ok(());
                }
            }
        }
        self.publish()
    }

    fn publish(&mut self) -> Result<()> {
        let Some(spec) = self.job.spec().cloned() else { return Ok(()) };
        let content = match &self.content {
            Some(c) => c.clone(),
            None => Arc::new(to_rgba(self.job.content()?.clone())),
        };
        let last = self.job.last_report();
        let frame = Frame {
            run: self.id,
            image: Arc::new(self.job.output()?.into_rgba8()),
            content,
            iteration: self.job.done(),
            total: self.job.total(),
            stage: self.job.stages().1,
            max_print: self.max_print,
            device: self.job.net().map_or("CPU", |n| device_name(n.device())),
            losses: last.map(|r| r.losses.clone()),
            seconds: last.map_or(0.0, |r| r.seconds),
            spec,
        };
        self.publish_frame(frame);
        Ok(())
    }

    pub(super) fn publish_frame(&mut self, frame: Frame) {
        self.shown = Some((frame.spec.method, frame.image.clone()));
        lock(&self.shared).frame = Some(frame);
        (self.notify)();
    }
}

fn to_rgba(img: RgbImage) -> RgbaImage {
    image::DynamicImage::ImageRgb8(img).into_rgba8()
}
