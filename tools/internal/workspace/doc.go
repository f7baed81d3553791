// Package workspace reads the module list of the gonbd repository from its
// go.work file, the one place that names every module, so that no tool keeps
// a copy of the list that could fall out of date.
//
// It also orders the modules so that each comes after the siblings it
// requires, the order in which they must be released.
package workspace
