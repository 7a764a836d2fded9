//! The model picker: the embedded VGG16, or VGG19 fetched once from the Hugging Face Hub (with
//! a progress bar and Cancel; a failure is one message and VGG16 stays), or a weights file the
//! settings name. Checking and fetching run on task threads.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use egui::Ui;

use super::ctx::Ctx;
use crate::model::hub;
use crate::model::WeightsSource;
use crate::notice::Notice;

/// The embedded classic VGG19's name in the Model menu.
const CLASSIC: &str = "VGG19 classic (built in)";

/// What is known of VGG19 on this machine, and a fetch in progress.
#[derive(Default)]
pub struct Models {
    /// Whether VGG19 is in the cache, whole (`None`: not checked yet).
    pub vgg19_cached: Option<bool>,
    /// A fetch in progress: bytes done and in all, and the cancel flag.
    fetching: Option<Fetch>,
}

struct Fetch {
    done: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
    cancel: Arc<AtomicBool>,
}

impl Models {
    /// Whether a fetch is under way.
    pub fn fetching(&self) -> bool {
        self.fetching.is_some()
    }

    /// Checks the cache for VGG19 (hashing it takes a second or two: in the background).
    pub(super) fn check(&mut self, cx: &mut Ctx) {
        cx.tasks.spawn(
            "model",
            || matches!(hub::cached(hub::VGG19_REPO), Ok(Some(_))),
            |app, _, cached| app.panels.models.vgg19_cached = Some(cached),
        );
    }

    /// Fetches VGG19 in the background; the picker shows the progress and a Cancel button.
    fn fetch_vgg19(&mut self, cx: &mut Ctx) {
        if self.fetching.is_some() {
            return;
        }
        let fetch = Fetch {
            done: Arc::new(AtomicU64::new(0)),
            total: Arc::new(AtomicU64::new(hub::VGG19_BYTES)),
            cancel: Arc::new(AtomicBool::new(false)),
        };
        let (done, total, cancel) = (fetch.done.clone(), fetch.total.clone(), fetch.cancel.clone());
        let wake = cx.tasks.ctx().clone();
        self.fetching = Some(fetch);
        cx.tasks.spawn(
            "model",
            move || {
                let result = hub::fetch(hub::VGG19_REPO, &mut |d, t| {
                    done.store(d, Ordering::Relaxed);
                    total.store(t.max(1), Ordering::Relaxed);
                    wake.request_repaint();
                    !cancel.load(Ordering::Relaxed)
                });
                result.map(|_| ()).map_err(|e| e.to_string())
            },
            |app, _, result| {
                let (panels, mut cx) = app.parts();
                panels.models.fetched(result, &mut cx);
            },
        );
    }

    /// A fetch ended: VGG19 is chosen, or the message says why not (VGG16 stays).
    fn fetched(&mut self, result: Result<(), String>, cx: &mut Ctx) {
        let cancelled = self.fetching.take().is_some_and(|f| f.cancel.load(Ordering::Relaxed));
        match result {
            Ok(()) => {
                self.vgg19_cached = Some(true);
                cx.settings.spec.model = WeightsSource::Vgg19;
                cx.say(Notice::info("VGG19 is ready."));
            }
            Err(_) if cancelled => cx.say(Notice::info("The VGG19 download was cancelled.")),
            Err(e) => cx.say(Notice::error(format!("{e}. VGG16 stays in use."))),
        }
    }

    /// The Device row of the Advanced section: what this build can run on (a change restarts).
    pub(super) fn device_ui(device: &mut crate::model::DeviceChoice, ui: &mut Ui) {
        use crate::model::DeviceChoice;
        let mut offered = vec![(DeviceChoice::Auto, "Auto".to_string()), (DeviceChoice::Cpu, "CPU".to_string())];
        if cfg!(feature = "cuda") {
            offered.push((DeviceChoice::Cuda(0), "CUDA GPU 0".into()));
            offered.push((DeviceChoice::Cuda(1), "CUDA GPU 1".into()));
        }
        if cfg!(feature = "metal") {
            offered.push((DeviceChoice::Metal, "Metal GPU".into()));
        }
        let current = offered.iter().find(|o| o.0 == *device).map_or_else(|| device.to_string(), |o| o.1.clone());
        egui::ComboBox::from_label("Device")
            .selected_text(current)
            .show_ui(ui, |ui| {
                for (choice, label) in offered {
                    ui.selectable_value(device, choice, label);
                }
            })
            .response
            .on_hover_text(if !cfg!(any(feature = "cuda", feature = "metal")) {
                "This build computes on the CPU; see the README to build for a CUDA or Metal GPU"
            } else {
                "Auto: CUDA, then Metal, then the CPU"
            });
    }

    /// After a device failed: one click to render on the CPU instead.
    pub(super) fn cpu_fallback_ui(ui: &mut Ui, cx: &mut Ctx) {
        use crate::model::DeviceChoice;
        let gpu = matches!(cx.settings.spec.device, DeviceChoice::Cuda(_) | DeviceChoice::Metal);
        if gpu && matches!(cx.live.status, crate::worker::Status::Failed(_)) && ui.button("Use the CPU").clicked() {
            cx.settings.spec.device = DeviceChoice::Cpu;
            cx.ask(super::Action::Start);
        }
    }

    /// The Model row of the Advanced section.
    pub(super) fn ui(&mut self, ui: &mut Ui, cx: &mut Ctx) {
        let model = &cx.settings.spec.model;
        let current = match model {
            WeightsSource::Embedded => "VGG16 (built in)".to_string(),
            WeightsSource::Vgg19 => "VGG19".to_string(),
            WeightsSource::ClassicVgg19 => CLASSIC.to_string(),
            WeightsSource::File(p) => {
                format!("File: {}", p.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()))
            }
        };
        let vgg19 = match self.vgg19_cached {
            Some(true) => "VGG19".to_string(),
            _ if !hub::CAN_DOWNLOAD => "VGG19 (this build cannot download it)".to_string(),
            _ => format!("VGG19 (download, {} MB)", hub::VGG19_BYTES / 1_000_000),
        };
        let mut choice = None;
        ui.add_enabled_ui(!self.fetching(), |ui| {
            egui::ComboBox::from_label("Model").selected_text(current).show_ui(ui, |ui| {
                if ui.selectable_label(*model == WeightsSource::Embedded, "VGG16 (built in)").clicked() {
                    choice = Some(WeightsSource::Embedded);
                }
                let classic = *model == WeightsSource::ClassicVgg19;
                let hover = "The original ImageNet VGG19 that jcjohnson/neural-style runs: its classic look";
                if ui.selectable_label(classic, CLASSIC).on_hover_text(hover).clicked() {
                    choice = Some(WeightsSource::ClassicVgg19);
                }
                let enabled = hub::CAN_DOWNLOAD || self.vgg19_cached == Some(true);
                let vgg19_on = *model == WeightsSource::Vgg19;
                if ui.add_enabled(enabled, egui::Button::selectable(vgg19_on, vgg19)).clicked() {
                    choice = Some(WeightsSource::Vgg19);
                }
            });
        });
        match choice {
            Some(WeightsSource::Vgg19) if self.vgg19_cached != Some(true) => self.fetch_vgg19(cx),
            Some(source) => cx.settings.spec.model = source,
            None => {}
        }
        if let Some(f) = &self.fetching {
            let (done, total) = (f.done.load(Ordering::Relaxed), f.total.load(Ordering::Relaxed).max(1));
            ui.horizontal(|ui| {
                let text = format!("VGG19: {} of {} MB", done / 1_000_000, total / 1_000_000);
                ui.add(egui::ProgressBar::new(done as f32 / total as f32).desired_width(160.0).text(text));
                if ui.button("Cancel download").clicked() {
                    f.cancel.store(true, Ordering::Relaxed);
                }
            });
        }
    }
}
