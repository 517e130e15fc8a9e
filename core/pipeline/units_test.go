package pipeline

import (
	"testing"
	"time"

	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/sdk"
)

func TestDatasetName(t *testing.T) {
	for in, want := range map[string]string{
		"orders.edi":         "ORDERS.EDI",
		"INVOIC 2026(1).TXT": "INVOIC 2026(1).TXT",
		"a_b+c#d.x":          "A-B-C-D.X",
		"dir/x&y":            "DIR/X&Y",
		"äb":                 "--B",
	} {
		if got := datasetName(in); got != want {
			t.Errorf("datasetName(%q) = %q, want %q", in, got, want)
		}
	}
}

// A source file keeps its identity (stamp) across attempts: it is derived from the
// file's time, not from when it is sent.
func TestStampOfIsStable(t *testing.T) {
	ft := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600))
	m := sdk.FileMeta{DateTime: ft}
	s1 := stampOf(m, time.Now())
	s2 := stampOf(m, time.Now().Add(time.Hour))
	if s1 != s2 {
		t.Fatalf("stamps differ: %v %v", s1, s2)
	}
	if s1.Date != "20260506" || s1.Time != "0608091235" {
		t.Errorf("stamp = %+v, want 20260506 / 0608091235 (UTC, counter from the sub-second)", s1)
	}
	m.Ticker = 42
	if s := stampOf(m, time.Now()); s.Time != "0608090042" {
		t.Errorf("stamp with ticker = %+v", s)
	}
}

func TestScheduleNext(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	if d := newSchedule(nil, clock).next(); d != never {
		t.Errorf("no schedule: %v", d)
	}
	s := newSchedule(&config.Schedule{Every: 15 * time.Minute}, clock)
	if d := s.next(); d != 15*time.Minute {
		t.Errorf("every 15m: %v", d)
	}
	s = newSchedule(&config.Schedule{At: []config.TimeOfDay{{Hour: 8}, {Hour: 17, Minute: 30}}}, clock)
	if d := s.next(); d != 7*time.Hour+30*time.Minute {
		t.Errorf("at 08:00 and 17:30 from 10:00: %v", d)
	}
	now = now.Add(8 * time.Hour) // 18:00: next is 08:00 tomorrow
	s.fired()
	if d := s.next(); d != 14*time.Hour {
		t.Errorf("after 17:30: %v", d)
	}
	s = newSchedule(&config.Schedule{Every: 24 * time.Hour, At: []config.TimeOfDay{{Hour: 19}}}, clock)
	if d := s.next(); d != time.Hour {
		t.Errorf("earliest of every and at: %v", d)
	}
}

func TestBackoffAfter(t *testing.T) {
	r := config.Retry{Backoff: time.Minute, MaxBackoff: 10 * time.Minute}
	want := []time.Duration{time.Minute, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	for attempts, w := range want {
		if got := backoffAfter(r, attempts); got != w {
			t.Errorf("after %d attempts: %v, want %v", attempts, got, w)
		}
	}
}
