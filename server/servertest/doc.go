// Package servertest helps test plugins and filters end to end: it serves a layer stack
// with the real engine on a Unix socket in the test's temporary directory, runs the real
// NBD clients against it (qemu-img, qemu-io, nbdsh, nbdinfo, nbdcopy), and offers
// [Disk], an in-memory plugin with every capability and counters, to put behind a
// filter under test.
//
// End-to-end helpers skip the test under -short. A missing client skips it too on a
// developer's machine, but fails it when GONBD_REQUIRE_CLIENTS=1, as `make check` and CI
// set: there a missing client is a broken machine, not a reason to test less.
//
// Clients run with /usr/bin first on PATH, so that nbdsh finds the python3 that has
// the nbd module even when another python3 (pyenv, a virtualenv) comes first.
package servertest
