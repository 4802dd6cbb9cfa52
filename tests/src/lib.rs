//! Fixtures for the end-to-end tests, a module each: a fresh emulator table per test
//! (`table`), the test shop's settings (`consts`), a whole shop on the emulator (`world`),
//! Alipay's signed callbacks (`alipay`), the download side (`downloads`), and the
//! emulator's SSM and sent mail (`emulator`); the stand-in gateway, the local shop, the
//! API Gateway events, the browser driver, the soak and its seeded dice have modules of
//! their own. Everything is re-exported here, so a test imports
//! `kiosk_e2e::{World, now, ...}`.

pub use kiosk_localaws::SentMail;

mod alipay;
mod consts;
mod downloads;
mod emulator;
mod table;
mod world;

pub use alipay::*;
pub use consts::*;
pub use downloads::*;
pub use emulator::*;
pub use table::*;
pub use world::*;

pub mod dice;
pub mod events;
pub mod gateway;
pub mod local;
pub mod soak;
pub mod webdriver;
