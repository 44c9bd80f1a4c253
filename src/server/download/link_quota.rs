//! How many download links one user may make. Each link, once used, mints an enrolment code and
//! takes a place among the [`super::UsedLinks`] for five minutes; without a bound per user, one
//! staff user could fill that table (everyone's links refused) and the enrolment code table.
//! Since a link works once, bounding the links made bounds their uses too.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Links one user may make per hour (as a burst, then one a minute): more than a firm setting up
/// a room of PCs needs, and a small share of the used-links table.
pub const LINKS_PER_HOUR: u32 = 60;

pub struct LinkQuota {
    limiter: DefaultKeyedRateLimiter<i64>,
}

impl Default for LinkQuota {
    fn default() -> Self {
        let per_hour = NonZeroU32::new(LINKS_PER_HOUR).unwrap_or(NonZeroU32::MIN);
        LinkQuota {
            limiter: RateLimiter::keyed(Quota::per_hour(per_hour)),
        }
    }
}

impl LinkQuota {
    /// Counts a link made by user `user_id`, or `Err(seconds)` to wait first.
    pub fn make(&self, user_id: i64) -> Result<(), u64> {
        self.limiter.check_key(&user_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_makes_a_bounded_number_of_links_without_holding_back_others() {
        let quota = LinkQuota::default();
        for _ in 0..LINKS_PER_HOUR {
            assert!(quota.make(7).is_ok());
        }
        assert!(quota.make(7).unwrap_err() >= 1);
        assert!(quota.make(8).is_ok());
    }
}
