package cabi

// A LoadError says why a plugin could not be loaded.
type LoadError struct {
	Path string
	Err  error
}

func (e *LoadError) Error() string { return "loading C plugin " + e.Path + ": " + e.Err.Error() }

func (e *LoadError) Unwrap() error { return e.Err }
