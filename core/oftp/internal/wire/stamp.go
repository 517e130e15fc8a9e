package wire

import (
	"errors"
	"fmt"
	"time"
)

// NewStamp returns the virtual file stamp for t (taken as given, in its own location) with
// the counter cccc. Counters outside 1..9999 wrap into that range, so callers can pass a
// running sequence number.
func NewStamp(t time.Time, counter int) Stamp {
	counter = (counter-1)%9999 + 1
	if counter < 1 {
		counter += 9999
	}
	return Stamp{Date: t.Format("20060102"), Time: fmt.Sprintf("%s%04d", t.Format("150405"), counter)}
}

// Valid reports whether s is a stamp we may generate: a real calendar date CCYYMMDD, a
// time HHMMSS within the day and a counter 0001-9999 (RFC 5024 §5.3.3). Received stamps
// are only checked for digits (a counter of 0000 is common) and are echoed as they are.
func (s Stamp) Valid() error {
	if len(s.Date) != 8 || !allDigits(s.Date) {
		return fmt.Errorf("stamp date %q is not CCYYMMDD", s.Date)
	}
	if len(s.Time) != 10 || !allDigits(s.Time) {
		return fmt.Errorf("stamp time %q is not HHMMSScccc", s.Time)
	}
	d, err := time.Parse("20060102", s.Date)
	if err != nil || d.Format("20060102") != s.Date {
		return fmt.Errorf("stamp date %q is not a calendar date", s.Date)
	}
	if _, err := time.Parse("150405", s.Time[:6]); err != nil {
		return fmt.Errorf("stamp time %q is not a time of day", s.Time)
	}
	if s.Time[6:] == "0000" {
		return errors.New("stamp counter 0000 is outside 0001-9999")
	}
	return nil
}

// In returns the stamp's date and time (without the counter) in loc.
func (s Stamp) In(loc *time.Location) (time.Time, error) {
	if len(s.Time) < 6 {
		return time.Time{}, fmt.Errorf("stamp time %q is too short", s.Time)
	}
	return time.ParseInLocation("20060102150405", s.Date+s.Time[:6], loc)
}

// Counter returns the cccc part of the stamp, 0 if it is missing or not numeric.
func (s Stamp) Counter() int {
	if len(s.Time) != 10 || !allDigits(s.Time) {
		return 0
	}
	n := 0
	for _, c := range s.Time[6:] {
		n = n*10 + int(c-'0')
	}
	return n
}
