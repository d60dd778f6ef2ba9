package ui

import (
	"fmt"
	"math"
	"time"
)

// Relative describes t against now in words: "in 29 minutes", "2 hours ago",
// "just now". It is for people at a terminal; scripts get RFC 3339 (see
// FormatTime).
func Relative(t, now time.Time) string {
	d := t.Sub(now)
	if d > -5*time.Second && d < 5*time.Second {
		return "just now"
	}
	if d > 0 {
		return "in " + Duration(d)
	}
	return Duration(-d) + " ago"
}

// unit is one step of the scale Duration rounds to.
type unit struct {
	name  string
	size  time.Duration
	limit int // past this many, the next unit reads better
}

var units = []unit{
	{"second", time.Second, 59},
	{"minute", time.Minute, 59},
	{"hour", time.Hour, 47},
	{"day", 24 * time.Hour, 59},
	{"month", 30 * 24 * time.Hour, 23},
	{"year", 365 * 24 * time.Hour, math.MaxInt},
}

// Duration says how long d is in the largest unit that reads naturally,
// rounded: "45 seconds", "29 minutes", "2 hours", "3 days". Rounding never
// produces "60 minutes": a value that rounds past a unit's range moves to
// the next unit. Negative durations are described by their length.
func Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	for _, u := range units {
		n := int(math.Round(float64(d) / float64(u.size)))
		if n <= u.limit {
			return plural(max(n, 1), u.name)
		}
	}
	return "" // unreachable: the last unit has no limit
}

// FormatTime shows a time the way format wants it: words relative to now in
// a table (a person is reading), RFC 3339 in UTC otherwise (a script is). A
// zero time is "-" in a table and "" otherwise.
func FormatTime(t, now time.Time, format string) string {
	if format == FormatTable {
		if t.IsZero() {
			return "-"
		}
		return Relative(t, now)
	}
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func plural(n int, unit string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", unit)
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
