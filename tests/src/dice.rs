//! The soak's seeded choices: the stand-ins' own ([`devstack::dice`]).

pub use devstack::dice::Dice;
