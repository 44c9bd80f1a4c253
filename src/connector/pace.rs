//! Backing off when Tally is busy. Tally freezes its screen while it answers, so when a month's
//! read takes much longer than the quickest one of this sync (a bookkeeper is working), the
//! remaining month reads are spread out: after each slow read the connector waits about as
//! long as the read took, giving the bookkeeper Tally back in between.

use std::time::Duration;

/// A read this many times slower than the quickest of the sync means Tally is busy...
const SLOWER_BY: u32 = 3;
/// ...when it also took at least this long (quick reads vary by more than that factor).
const BUSY_AT_LEAST: Duration = Duration::from_millis(750);
/// The longest pause between two month reads.
const LONGEST_PAUSE: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Pacer {
    quickest: Option<Duration>,
    /// Whether this sync has already said that Tally is busy.
    pub reported: bool,
}

impl Pacer {
    /// A month read took `took`: how long to wait before the next, if Tally is busy.
    pub fn after_read(&mut self, took: Duration) -> Option<Duration> {
        let quickest = *self.quickest.get_or_insert(took);
        self.quickest = Some(quickest.min(took));
        let busy = took >= BUSY_AT_LEAST && took >= quickest * SLOWER_BY;
        busy.then(|| took.min(LONGEST_PAUSE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_much_slower_than_the_quickest_pause() {
        let ms = Duration::from_millis;
        let mut p = Pacer::default();
        assert_eq!(p.after_read(ms(200)), None, "the first read sets the pace");
        assert_eq!(p.after_read(ms(500)), None, "slower, but not busy");
        assert_eq!(p.after_read(ms(900)), Some(ms(900)), "busy: wait as long");
        assert_eq!(p.after_read(ms(150)), None, "quick again");
        assert_eq!(p.after_read(Duration::from_secs(300)), Some(LONGEST_PAUSE));
        let mut slow_tally = Pacer::default();
        assert_eq!(slow_tally.after_read(ms(2000)), None);
        assert_eq!(
            slow_tally.after_read(ms(2500)),
            None,
            "a Tally always this slow is not busy"
        );
    }
}
