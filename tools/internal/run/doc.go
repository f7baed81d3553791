// Package run runs external commands for the gonbd tools and turns their
// failures into errors that say what was run, where, and what it printed.
package run
