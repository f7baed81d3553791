package license

import (
	"errors"
	"os"
	"testing"
)

const (
	bsdHead = `Copyright (c) 2009 The Go Authors. All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are
met:

   * Redistributions of source code must retain the above copyright
notice, this list of conditions and the following disclaimer.
   * Redistributions in binary form must reproduce the above
copyright notice, this list of conditions and the following disclaimer
in the documentation and/or other materials provided with the
distribution.
`
	bsd3Clause = `   * Neither the name of Google LLC nor the names of its
contributors may be used to endorse or promote products derived from
this software without specific prior written permission.
`
	bsdTail = `
THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS
"AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES ARE DISCLAIMED.
`
	mit = `MIT License

Copyright (c) 2016 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction.

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
`
	apacheFull = `
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/

   TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION

   1. Definitions.
`
	apacheNotice = `Copyright 2020 Someone

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
`
	isc = `ISC License

Copyright (c) 2015, Someone

Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.
`
	gpl = `                    GNU GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007
`
	advertising = `   3. All advertising materials mentioning features or use of this software
      must display the following acknowledgement.
`
	unlicense = `This is free and unencumbered software released into the public domain.
`
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"BSD-3", bsdHead + bsd3Clause + bsdTail, BSD3},
		{"BSD-2", bsdHead + bsdTail, BSD2},
		{"MIT", mit, MIT},
		{"Apache full text", apacheFull, Apache2},
		{"Apache notice", apacheNotice, Apache2},
		{"ISC", isc, ISC},
		{"concatenated", bsdHead + bsd3Clause + bsdTail + "\n---\n" + mit, MIT},
	} {
		got, err := Classify(tc.text)
		if err != nil || got != tc.want {
			t.Errorf("%s: Classify = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestClassifyRejects(t *testing.T) {
	for _, tc := range []struct {
		name, text   string
		unrecognized bool
	}{
		{"empty", "", true},
		{"public domain", unlicense, true},
		{"GPL", gpl, false},
		{"MIT and GPL", mit + gpl, false},
		{"BSD with advertising clause", bsdHead + advertising + bsdTail, false},
	} {
		got, err := Classify(tc.text)
		if err == nil {
			t.Errorf("%s: Classify = %q, want an error", tc.name, got)
		} else if errors.Is(err, ErrUnrecognized) != tc.unrecognized {
			t.Errorf("%s: Classify error %v; unrecognized = %v, want %v", tc.name, err, !tc.unrecognized, tc.unrecognized)
		}
	}
}

func TestOwnLicense(t *testing.T) {
	// The licence of this module, a copy of the repository's, must pass its
	// own check.
	data, err := os.ReadFile("../../LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Classify(string(data)); got != BSD3 {
		t.Errorf("tools/LICENSE: Classify = %q, %v; want %q", got, err, BSD3)
	}
}

func TestIsLicenseFile(t *testing.T) {
	for name, want := range map[string]bool{
		"LICENSE": true, "LICENSE.md": true, "License.txt": true, "LICENCE": true,
		"COPYING": true, "LICENSE-APACHE": true, "README.md": false, "lic.go": false,
	} {
		if got := IsLicenseFile(name); got != want {
			t.Errorf("IsLicenseFile(%q) = %v, want %v", name, got, want)
		}
	}
}
