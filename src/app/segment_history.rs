//! A saved segment's size history: the (time, count) points recorded each
//! time it was saved or counted by the scheduler.

use super::{AppError, AppResult, Session};

impl Session {
    /// (time, count) points of a saved segment, oldest first; `NotFound`
    /// when no segment has that name.
    pub fn segment_history(&self, name: &str) -> AppResult<Vec<(i64, u64)>> {
        let r = self.store.begin_read()?;
        if r.segment(name)?.is_none() {
            return Err(AppError::not_found("segment", name));
        }
        Ok(r.segment_history(name)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Clock;
    use crate::config::Config;
    use crate::store::{OpenMode, Store};
    use std::sync::Arc;

    #[test]
    fn points_of_a_saved_segment_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("h.redb"), OpenMode::Create).unwrap());
        let at = |t| Session::over(store.clone(), Config::default(), Clock::Fixed(t));
        assert_eq!(at(0).segment_history("vips").unwrap_err(), AppError::not_found("segment", "vips"));
        at(2_000).save_segment("vips", "tag:vip").unwrap();
        at(1_000).save_segment("other", "tag:x").unwrap();
        at(3_000).save_segment("vips", "tag:vip").unwrap();
        assert_eq!(at(0).segment_history("vips").unwrap(), vec![(2_000, 0), (3_000, 0)]);
    }
}
