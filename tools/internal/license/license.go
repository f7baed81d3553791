package license

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// The licences accepted, by SPDX identifier.
const (
	MIT          = "MIT"
	BSD2         = "BSD-2-Clause"
	BSD3         = "BSD-3-Clause"
	Apache2      = "Apache-2.0"
	ISC          = "ISC"
	unrecognized = ""
)

// A licence is recognized when its text holds all of the phrases of one of
// its entries (in normalized form, see normalize).
var permissive = []struct {
	id      string
	phrases []string
}{
	{MIT, []string{
		"permission is hereby granted free of charge to any person obtaining a copy of this software",
		"the above copyright notice and this permission notice shall be included in all copies or substantial portions of the software",
	}},
	// BSD-3-Clause comes before BSD-2-Clause, whose phrases it contains.
	{BSD3, []string{
		"redistribution and use in source and binary forms with or without modification are permitted provided that",
		"redistributions of source code must retain the above copyright notice",
		"to endorse or promote products derived from this software",
	}},
	{BSD2, []string{
		"redistribution and use in source and binary forms with or without modification are permitted provided that",
		"redistributions of source code must retain the above copyright notice",
	}},
	{Apache2, []string{"apache license", "version 2 0", "terms and conditions for use reproduction and distribution"}},
	{Apache2, []string{"licensed under the apache license version 2 0"}},
	{ISC, []string{"permission to use copy modify and or distribute this software for any purpose with or without fee is hereby granted"}},
	{ISC, []string{"permission to use copy modify and distribute this software for any purpose with or without fee is hereby granted"}},
}

// Phrases that make a text unacceptable even next to a permissive licence:
// a file that grants MIT but also imposes the GPL, or a BSD licence with
// the advertising clause, needs a person's reading.
var rejected = []string{
	"gnu general public license",
	"gnu lesser general public license",
	"gnu library general public license",
	"gnu affero general public license",
	"mozilla public license",
	"server side public license",
	"business source license",
	"all advertising materials mentioning features or use of this software",
}

// ErrUnrecognized is returned for text that is not one of the accepted
// licences.
var ErrUnrecognized = errors.New("not a recognized permissive licence (MIT, BSD-2-Clause, BSD-3-Clause, Apache-2.0, ISC)")

// Classify returns the SPDX identifier of the permissive licence that text
// holds. A file holding several licences, as some projects concatenate
// theirs, is classified by the first accepted one found, provided nothing in
// it is rejected.
func Classify(text string) (string, error) {
	norm := normalize(text)
	for _, r := range rejected {
		if strings.Contains(norm, r) {
			return unrecognized, fmt.Errorf("licence text contains %q, which is not permissive", r)
		}
	}
	for _, p := range permissive {
		if containsAll(norm, p.phrases) {
			return p.id, nil
		}
	}
	return unrecognized, ErrUnrecognized
}

func containsAll(s string, phrases []string) bool {
	for _, p := range phrases {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// normalize lowers the case of text and replaces every run of characters
// other than letters and digits by one space, so "and/or" reads "and or"
// and a phrase broken over lines still matches.
func normalize(text string) string {
	var b strings.Builder
	b.Grow(len(text) + 2)
	b.WriteByte(' ')
	space := true
	for _, r := range strings.ToLower(text) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			space = false
		} else if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	if !space {
		b.WriteByte(' ')
	}
	return b.String()
}

// IsLicenseFile reports whether a file of this name, at the root of a module,
// holds a licence: LICENSE, LICENCE or COPYING, in any case, with or without
// a suffix such as ".md" or "-MIT".
func IsLicenseFile(name string) bool {
	up := strings.ToUpper(name)
	for _, p := range []string{"LICENSE", "LICENCE", "COPYING"} {
		if strings.HasPrefix(up, p) {
			return true
		}
	}
	return false
}
