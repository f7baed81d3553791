// Package apitest holds a plugin and a filter written against the first version of
// package server's plugin API, and tests that build and run them. It exists to fail
// when that API changes in a way that would break existing plugins or filters: see
// docs/api-stability.md at the root of the repository.
//
// The code here uses every exported identifier of the plugin API, implements every
// optional interface, and calls every method through the interface that declares it.
// It changes only when the API grows (to cover the new identifiers), never to follow a
// change that breaks it: a change that needs this code edited is a breaking change.
package apitest
