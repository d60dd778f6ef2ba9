package ui

import (
	"fmt"
	"math"
	"time"
)

// Relative describes t against now in words: "in 29 minutes", "2 hours ago",
// "just now".
func Relative(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if d < 0 {
		d = -d
	}
	if d < 5*time.Second {
		return "just now"
	}
	var s string
	switch {
	case d < time.Minute:
		s = plural(int(d/time.Second), "second")
	case d < time.Hour:
		s = plural(int(math.Round(d.Minutes())), "minute")
	case d < 48*time.Hour:
		s = plural(int(math.Round(d.Hours())), "hour")
	case d < 60*24*time.Hour:
		s = plural(int(math.Round(d.Hours()/24)), "day")
	case d < 730*24*time.Hour:
		s = plural(int(math.Round(d.Hours()/24/30)), "month")
	default:
		s = plural(int(math.Round(d.Hours()/24/365)), "year")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", unit)
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
