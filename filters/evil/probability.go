package evil

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseProbability parses a probability as nbdkit writes them (nbdkit_parse_probability):
//
//	0.001, 1e-6      a number
//	1:1000000        N in M, that is N/M (1/1000000 works too)
//	10%              a percentage
//
// The result must lie between 0 and 1 inclusive.
func ParseProbability(s string) (float64, error) {
	if s == "" || strings.TrimSpace(s) != s {
		return 0, fmt.Errorf("could not parse probability %q", s)
	}
	var p float64
	if n, m, ok := cutAny(s, ":/"); ok {
		num, err := parseNumber(n)
		if err != nil {
			return 0, fmt.Errorf("could not parse probability %q: %w", s, err)
		}
		den, err := parseNumber(m)
		if err != nil {
			return 0, fmt.Errorf("could not parse probability %q: %w", s, err)
		}
		if den == 0 {
			return 0, fmt.Errorf("probability %q divides by zero", s)
		}
		p = num / den
	} else if pc, ok := strings.CutSuffix(s, "%"); ok {
		n, err := parseNumber(pc)
		if err != nil {
			return 0, fmt.Errorf("could not parse probability %q: %w", s, err)
		}
		p = n / 100
	} else {
		n, err := parseNumber(s)
		if err != nil {
			return 0, fmt.Errorf("could not parse probability %q: %w", s, err)
		}
		p = n
	}
	if p < 0 || p > 1 {
		return 0, fmt.Errorf("probability %q is not between 0 and 1", s)
	}
	return p, nil
}

// cutAny cuts s around the first of the separators it holds.
func cutAny(s, seps string) (before, after string, found bool) {
	if i := strings.IndexAny(s, seps); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// parseNumber parses a finite decimal number, with an optional exponent.
func parseNumber(s string) (float64, error) {
	if s == "" {
		return 0, fmt.Errorf("a number is missing")
	}
	// strconv also accepts hexadecimal floats, "inf" and "nan", and underscores.
	for _, c := range s {
		if !strings.ContainsRune("0123456789.eE+-", c) {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	return f, nil
}
