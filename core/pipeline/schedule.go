package pipeline

import (
	"time"

	"github.com/oftp2/connector/core/config"
)

// never is the wait of a partner without a schedule.
const never = 365 * 24 * time.Hour

// schedule computes when a partner is called next: every interval after the last call,
// and at the configured times of day (UTC).
type schedule struct {
	cfg   *config.Schedule
	clock func() time.Time
	last  time.Time
}

func newSchedule(cfg *config.Schedule, clock func() time.Time) *schedule {
	return &schedule{cfg: cfg, clock: clock, last: clock()}
}

// next returns how long until the next scheduled call.
func (s *schedule) next() time.Duration {
	if s.cfg == nil {
		return never
	}
	now := s.clock()
	at := s.nextAt(now)
	return max(at.Sub(now), 0)
}

// nextAt is the next scheduled instant at or after the last call.
func (s *schedule) nextAt(now time.Time) time.Time {
	best := now.Add(never)
	if s.cfg.Every > 0 {
		best = s.last.Add(s.cfg.Every)
	}
	base := s.last.UTC()
	for _, tod := range s.cfg.At {
		t := time.Date(base.Year(), base.Month(), base.Day(), tod.Hour, tod.Minute, 0, 0, time.UTC)
		if !t.After(base) {
			t = t.AddDate(0, 0, 1)
		}
		if t.Before(best) {
			best = t
		}
	}
	return best
}

// fired records that a call happened now.
func (s *schedule) fired() { s.last = s.clock() }
