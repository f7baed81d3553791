package main

import (
	"fmt"
	"strings"
)

// This file is a small getopt_long: the command line syntax nbdkit accepts, which the
// flag package does not. Options and operands may be mixed (GNU permutes them, so
// `gonbd memory 1G -r` works, and so do shebang scripts whose arguments come after
// the plugin); "--" ends the options; short options bundle (-fv, -p10809, -U-); long
// options take their argument as --port=10809 or --port 10809, and may be
// abbreviated to any unambiguous prefix (--read for --readonly).

// An optionSpec is one option of the command line.
type optionSpec struct {
	short rune     // 0 when the option has no short form
	long  []string // long names; the first is the one help shows
	// arg names the option's argument in help, e.g. "PORT"; empty means the option
	// takes no argument.
	arg string
	// values lists the values the argument may take, for help and completion; nil
	// means any.
	values []string
	// complete says what the argument is, for shell completion: "file", "dir",
	// "user", "group", "command" or "filter"; empty means nothing to complete.
	complete string
	help     string
	apply    func(c *config, value string) error
}

// A parsedOption is an option found on the command line and its argument.
type parsedOption struct {
	spec  *optionSpec
	name  string // as typed, for error messages: "-p" or "--port"
	value string
}

// getopt splits args into options, in command-line order, and operands.
func getopt(specs []optionSpec, args []string) (opts []parsedOption, operands []string, err error) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return opts, append(operands, args[i+1:]...), nil
		case strings.HasPrefix(arg, "--"):
			name, value, hasValue := strings.Cut(arg[2:], "=")
			spec, err := lookupLong(specs, name)
			if err != nil {
				return nil, nil, err
			}
			o := parsedOption{spec: spec, name: "--" + spec.long[0]}
			switch {
			case spec.arg == "" && hasValue:
				return nil, nil, fmt.Errorf("option '--%s' doesn't allow an argument", spec.long[0])
			case spec.arg != "" && hasValue:
				o.value = value
			case spec.arg != "":
				if i+1 == len(args) {
					return nil, nil, fmt.Errorf("option '--%s' requires an argument", spec.long[0])
				}
				i++
				o.value = args[i]
			}
			opts = append(opts, o)
		case len(arg) > 1 && arg[0] == '-':
			// A bundle of short options: each takes the rest of the bundle, or else
			// the next argument, as its argument if it needs one.
		bundle:
			for j := 1; j < len(arg); j++ {
				c := rune(arg[j])
				spec := lookupShort(specs, c)
				if spec == nil {
					return nil, nil, fmt.Errorf("invalid option -- '%c'", c)
				}
				o := parsedOption{spec: spec, name: "-" + string(c)}
				if spec.arg != "" {
					switch {
					case j+1 < len(arg):
						o.value = arg[j+1:]
					case i+1 < len(args):
						i++
						o.value = args[i]
					default:
						return nil, nil, fmt.Errorf("option requires an argument -- '%c'", c)
					}
					opts = append(opts, o)
					break bundle
				}
				opts = append(opts, o)
			}
		default:
			// "-" alone is an operand too (nbdkit sh - reads the script from stdin).
			operands = append(operands, arg)
		}
	}
	return opts, operands, nil
}

// lookupShort returns the option whose short form is c, or nil.
func lookupShort(specs []optionSpec, c rune) *optionSpec {
	for i := range specs {
		if specs[i].short == c {
			return &specs[i]
		}
	}
	return nil
}

// lookupLong returns the option named name, or else the one option that name is a
// prefix of a long name of, as getopt_long does: a prefix of several names of the same
// option (--read for --readonly and --read-only) is not ambiguous.
func lookupLong(specs []optionSpec, name string) (*optionSpec, error) {
	var match *optionSpec
	var prefixed []string // every long name name is a prefix of, for the error
	ambiguous := false
	for i := range specs {
		spec := &specs[i]
		for _, long := range spec.long {
			if long == name {
				return spec, nil
			}
			if name == "" || !strings.HasPrefix(long, name) {
				continue
			}
			prefixed = append(prefixed, "'--"+long+"'")
			if match != nil && match != spec {
				ambiguous = true
			}
			match = spec
		}
	}
	switch {
	case match == nil:
		return nil, fmt.Errorf("unrecognized option '--%s'", name)
	case ambiguous:
		return nil, fmt.Errorf("option '--%s' is ambiguous; possibilities: %s", name, strings.Join(prefixed, " "))
	}
	return match, nil
}
