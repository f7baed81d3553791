package server

import "context"

// connInfoKey is the context key of a connection's [ConnInfo]. Being unexported, no
// other package can set or read the value except through the functions below.
type connInfoKey struct{}

// ConnInfoFrom returns the connection a call is made for, and whether there is one.
// Calls made outside a connection (GetReady, Cleanup) have none.
func ConnInfoFrom(ctx context.Context) (ConnInfo, bool) {
	info, ok := ctx.Value(connInfoKey{}).(ConnInfo)
	return info, ok
}

// WithConnInfo returns a context carrying info (for the engine and for tests).
func WithConnInfo(ctx context.Context, info ConnInfo) context.Context {
	return context.WithValue(ctx, connInfoKey{}, info)
}
