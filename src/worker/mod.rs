//! The background optimisation thread: owns the device, the model and the stepper; takes
//! commands over a channel and publishes the newest frame into a shared slot (newest frame wins,
//! so a slow UI never queues frames and a slow iteration never blocks the UI).

mod clip;
mod run;
mod trystyles;

pub use clip::{ClipProgress, ClipRequest};

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use image::RgbaImage;

use crate::notice::Notice;
use crate::transfer::spec::sheet_plan::SheetPlan;
use crate::transfer::{Losses, RenderSpec};

/// What the UI asks of the worker.
#[derive(Debug, Clone)]
pub enum Command {
    /// Start a run of this spec, stopping by itself when its schedule is done (restarts if one
    /// is running; the model, decoded images and cached targets are reused).
    Start(Box<RenderSpec>),
    /// Paint the instant look of this spec and show it (no run is started; a run in progress
    /// ends). Its frame's spec says `Method::Instant`, so an export records how it was made.
    Instant(Box<RenderSpec>),
    /// Steer the current render toward this spec in place (see `Job::update`: weights, style
    /// measure, budget, luminance-only colours; the image is kept, and the frame republished at
    /// once, also when paused or finished). A spec that needs a new run changes nothing: the
    /// sender restarts with [`Command::Start`] when it chooses.
    Update(Box<RenderSpec>),
    /// Continue the current render (running or done) as a print of this long side: its image
    /// is carried up through larger stages, keeping its settings.
    Print(u32),
    /// Abandon the stage in progress of a print and go back to the last finished stage.
    CancelPrint,
    /// Stop iterating but keep the state.
    Pause,
    /// Continue a paused run.
    Resume,
    /// End the run (the last frame stays visible).
    Stop,
    /// Render a contact sheet, cell by cell (the live run waits and then goes on); finished
    /// cells arrive through [`Worker::take_sheet_cells`].
    Sheet(Box<SheetPlan>),
    /// Stop the contact sheet (the cells done stay).
    CancelSheet,
    /// Render a clip frame by frame (the live run ends), or go on with the one whose frames
    /// folder holds finished frames; exported when every frame is done.
    RenderClip(Box<ClipRequest>),
    /// Stop the clip render (its finished frames stay).
    CancelClip,
    /// End the thread.
    Shutdown,
}

/// Where the worker is.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// No run.
    Idle,
    /// Loading images/model and computing targets.
    Preparing,
    /// Iterating.
    Running,
    /// A run exists but is not iterating.
    Paused,
    /// The run ended (Stop or finished).
    Stopped,
    /// The last command failed; the message says why. A new Start is accepted.
    Failed(String),
}

/// One published image with its numbers.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Identifies the run the frame belongs to (increases with every Start).
    pub run: u64,
    /// The image after `iteration` updates.
    pub image: Arc<RgbaImage>,
    /// Content image at the same size (for the before/after split).
    pub content: Arc<RgbaImage>,
    /// Updates applied.
    pub iteration: usize,
    /// Updates the run will apply in all.
    pub total: usize,
    /// Index of the stage the image belongs to, in `spec.stages()`.
    pub stage: usize,
    /// The largest long side a print of this render can have in the memory free when the run
    /// started (`None`: not even the smallest fits).
    pub max_print: Option<u32>,
    /// The device computing it ("CPU", "CUDA", "Metal").
    pub device: &'static str,
    /// Losses at the previous image (the one the last step evaluated), if any step ran.
    pub losses: Option<Losses>,
    /// Seconds of the last iteration.
    pub seconds: f64,
    /// The settings of the run as run, with the objective in force when the frame was made
    /// (what an export stores).
    pub spec: Arc<RenderSpec>,
}

/// A point of the loss curve.
#[derive(Debug, Clone, PartialEq)]
pub struct LossPoint {
    /// Run it belongs to.
    pub run: u64,
    /// Iteration the losses were evaluated at.
    pub iteration: usize,
    /// The losses.
    pub losses: Losses,
}

/// State shared between the worker and its owner; every lock is held only for a swap or push.
#[derive(Debug)]
pub struct Shared {
    /// The newest frame not yet taken.
    pub frame: Option<Frame>,
    /// Loss points not yet taken.
    pub history: Vec<LossPoint>,
    /// Current status.
    pub status: Status,
    /// In-place updates applied so far (lets tests and the UI see that a change took effect).
    pub live_updates: u64,
    /// Something the user should know that did not stop the run (e.g. a numerical fault that was
    /// rolled back), not yet taken.
    pub notice: Option<Notice>,
    /// A print was asked for and has not ended (set by the owner when it sends `Print`, so there
    /// is no gap before the worker takes it; cleared by the worker when the print ends).
    pub printing: bool,
    /// Finished cells of the contact sheet, not yet taken: (cell index, picture).
    pub sheet_cells: Vec<(usize, Arc<RgbaImage>)>,
    /// The contact sheet's iterations done and in all; `None` when no sheet is rendering.
    pub sheet_progress: Option<(usize, usize)>,
    /// How the clip render is going; `None` when no clip is rendering.
    pub clip_progress: Option<ClipProgress>,
}

/// Owner's handle: send commands, take frames. Dropping it shuts the thread down.
pub struct Worker {
    tx: Sender<Command>,
    shared: Arc<Mutex<Shared>>,
    thread: Option<JoinHandle<()>>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic while holding the lock cannot leave `Shared` inconsistent (plain swaps), so a
    // poisoned lock is still usable.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

impl Worker {
    /// Spawns the worker; `notify` is called whenever a frame or status is published (the app
    /// passes `ctx.request_repaint`).
    pub fn spawn(notify: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Mutex::new(Shared {
            frame: None,
            history: Vec::new(),
            status: Status::Idle,
            live_updates: 0,
            notice: None,
            printing: false,
            sheet_cells: Vec::new(),
            sheet_progress: None,
            clip_progress: None,
        }));
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("nss-worker".into())
            .spawn(move || run::main_loop(rx, thread_shared, Box::new(notify)))?;
        Ok(Worker { tx, shared, thread: Some(thread) })
    }

    /// Sends a command; never blocks. Returns false if the worker has died.
    pub fn send(&self, cmd: Command) -> bool {
        if let Command::Print(_) = cmd {
            lock(&self.shared).printing = true;
        }
        self.tx.send(cmd).is_ok()
    }

    /// Whether a print is under way (asked for and not yet finished, cancelled or failed).
    pub fn printing(&self) -> bool {
        lock(&self.shared).printing
    }

    /// Takes the newest frame, if a new one arrived.
    pub fn take_frame(&self) -> Option<Frame> {
        lock(&self.shared).frame.take()
    }

    /// Takes the loss points published since the last call.
    pub fn take_history(&self) -> Vec<LossPoint> {
        std::mem::take(&mut lock(&self.shared).history)
    }

    /// Takes the contact sheet's cells finished since the last call.
    pub fn take_sheet_cells(&self) -> Vec<(usize, Arc<RgbaImage>)> {
        std::mem::take(&mut lock(&self.shared).sheet_cells)
    }

    /// The contact sheet's progress (iterations done, in all), while one renders.
    pub fn sheet_progress(&self) -> Option<(usize, usize)> {
        lock(&self.shared).sheet_progress
    }

    /// How the clip render is going, while one renders.
    pub fn clip_progress(&self) -> Option<ClipProgress> {
        lock(&self.shared).clip_progress.clone()
    }

    /// Takes the newest notice, if one arrived.
    pub fn take_notice(&self) -> Option<Notice> {
        lock(&self.shared).notice.take()
    }

    /// The current status.
    pub fn status(&self) -> Status {
        lock(&self.shared).status.clone()
    }

    /// How many in-place updates (`Command::Update`) the render has taken.
    pub fn live_updates(&self) -> u64 {
        lock(&self.shared).live_updates
    }

    /// Whether the thread is still alive.
    pub fn is_alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Asks the thread to end and waits at most `timeout` for it (it finishes its current
    /// iteration first).
    pub fn shutdown(&mut self, timeout: Duration) {
        // A worker that has already ended (a panic reported as a failure) has no receiver.
        let _ = self.tx.send(Command::Shutdown);
        let deadline = std::time::Instant::now() + timeout;
        while self.is_alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some(t) = self.thread.take() {
            if t.is_finished() {
                // Its outcome was already published as the status.
                let _ = t.join();
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.shutdown(Duration::from_secs(2));
    }
}

pub(crate) type Notify = Box<dyn Fn() + Send>;
pub(crate) type Inbox = Receiver<Command>;
