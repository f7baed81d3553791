package timelimit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a duration: a decimal number of seconds without a unit ("30",
// "1.5"), or what [time.ParseDuration] accepts ("500ms", "30s", "1m30s", "2h"). Negative
// durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if strings.TrimSpace(s) != s {
		return 0, fmt.Errorf("could not parse duration %q: spaces around it", s)
	}
	var d time.Duration
	if isDecimal(s) {
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("could not parse duration %q: %w", s, err)
		}
		if secs*float64(time.Second) > math.MaxInt64 {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		d = time.Duration(secs * float64(time.Second))
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("could not parse duration %q (expected seconds, or a number with a unit such as 500ms, 30s, 2m or 1h)", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}

// isDecimal reports whether s is digits with at most one decimal point and an optional
// leading sign: a number of seconds, as opposed to a duration with units.
func isDecimal(s string) bool {
	s = strings.TrimLeft(s, "+-")
	digits, points := 0, 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			points++
		default:
			return false
		}
	}
	return digits > 0 && points <= 1
}
