//! Driving a render: the Job (stages, prints, faults, the instant look), the resumable stepper
//! under it, the images it reads, the memory it may use, and the colours it keeps.

pub mod carry;
pub mod colour;
pub mod events;
pub mod job;
pub mod memory;
pub mod painter;
pub mod sources;
pub mod stepper;
