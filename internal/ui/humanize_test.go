package ui

import (
	"testing"
	"time"
)

func TestRelative(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{4 * time.Second, "just now"},
		{-4 * time.Second, "just now"},
		{5 * time.Second, "in 5 seconds"},
		{-45 * time.Second, "45 seconds ago"},
		{59*time.Second + 600*time.Millisecond, "in 1 minute"},
		{29 * time.Minute, "in 29 minutes"},
		{29*time.Minute + 40*time.Second, "in 30 minutes"},
		{59*time.Minute + 40*time.Second, "in 1 hour"},
		{-2 * time.Hour, "2 hours ago"},
		{90 * time.Minute, "in 2 hours"},
		{47 * time.Hour, "in 47 hours"},
		{47*time.Hour + 40*time.Minute, "in 2 days"},
		{-3 * 24 * time.Hour, "3 days ago"},
		{59 * 24 * time.Hour, "in 59 days"},
		{60 * 24 * time.Hour, "in 2 months"},
		{-400 * 24 * time.Hour, "13 months ago"},
		{730 * 24 * time.Hour, "in 2 years"},
		{10 * 365 * 24 * time.Hour, "in 10 years"},
	} {
		if got := Relative(now.Add(c.d), now); got != c.want {
			t.Errorf("Relative(now%+v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestDurationNeverRoundsToTheNextUnitsValue(t *testing.T) {
	// Walk every second of the first three days and check no reading says
	// "60 minutes", "48 hours" or "0 ...": rounding moves to the next unit.
	for d := time.Duration(0); d < 72*time.Hour; d += time.Second {
		s := Duration(d)
		switch s {
		case "60 seconds", "60 minutes", "48 hours", "0 seconds":
			t.Fatalf("Duration(%v) = %q", d, s)
		}
	}
	if got := Duration(-90 * time.Second); got != "2 minutes" {
		t.Errorf("Duration(-90s) = %q", got)
	}
}

func TestFormatTime(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(29 * time.Minute).In(time.FixedZone("CET", 3600))
	for _, c := range []struct {
		t      time.Time
		format string
		want   string
	}{
		{exp, FormatTable, "in 29 minutes"},
		{exp, FormatText, "2026-03-01T12:29:00Z"},
		{exp, FormatJSON, "2026-03-01T12:29:00Z"},
		{time.Time{}, FormatTable, "-"},
		{time.Time{}, FormatText, ""},
	} {
		if got := FormatTime(c.t, now, c.format); got != c.want {
			t.Errorf("FormatTime(%v, %s) = %q, want %q", c.t, c.format, got, c.want)
		}
	}
}
