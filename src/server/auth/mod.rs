//! Credentials: signed tokens, password hashes, and the brakes on guessing. Nothing here knows
//! the domain; the request guards that use these live in `guards.rs`.

pub mod passwords;
pub mod throttle;
pub mod tokens;
