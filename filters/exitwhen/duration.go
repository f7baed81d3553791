package exitwhen

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseSeconds parses an interval: a decimal number of seconds ("60", "0.5"), or what
// [time.ParseDuration] accepts ("500ms", "2m"). Negative intervals are refused.
func ParseSeconds(s string) (time.Duration, error) {
	if s == "" || strings.TrimSpace(s) != s {
		return 0, fmt.Errorf("could not parse interval %q", s)
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(s, 64); err == nil && isDecimal(s) {
		if secs*float64(time.Second) > math.MaxInt64 {
			return 0, fmt.Errorf("interval %q is too long", s)
		}
		d = time.Duration(secs * float64(time.Second))
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("could not parse interval %q (expected seconds, or a number with a unit such as 500ms or 2m)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("interval %q is negative", s)
	}
	return d, nil
}

// isDecimal reports whether s is digits with at most one decimal point and an optional
// sign, as opposed to a number with an exponent or a unit.
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
