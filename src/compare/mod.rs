//! `minik8s compare`: a built-in controller and its minik8s twin driven through the same
//! steps at the same moment, recorded from watches on one clock, and the difference shown as
//! a table, a timeline and an HTML report.
//!
//! - [`steps`] and [`twin`]: what to do, and to what (pure);
//! - [`recorder`] and [`drive`]: the watches and the writes (I/O);
//! - [`timeline`], [`summary`], [`render`], [`report`]: what was seen, and what it means
//!   (pure: a recording in, text or HTML out).

pub mod drive;
pub mod recorder;
pub mod render;
pub mod report;
pub mod steps;
pub mod summary;
pub mod timeline;
pub mod twin;

pub use steps::{Step, parse_steps};
pub use summary::{Summary, summarize};
pub use timeline::Recording;
pub use twin::{Side, Workload};
