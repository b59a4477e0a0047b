//! Executors, one module per data type. Each is `fn(&mut Ctx, &[Bytes]) -> Reply`
//! over arguments whose arity was already checked (`args[0]` is the name).

pub mod blocking;
pub mod copy;
#[cfg(test)]
mod events_tests;
pub mod glob;
pub mod hashes;
pub mod keys;
pub mod listmove;
pub mod lists;
pub mod long_double;
pub mod object;
pub mod setops;
pub mod sets;
pub mod strings;
pub mod swapdb;
#[cfg(test)]
pub mod testing;
pub mod typed;
pub mod util;
pub mod zset;
pub mod zsets;
