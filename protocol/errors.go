package protocol

import (
	"errors"
	"fmt"
)

// A FormatError reports a message that does not follow the protocol.
type FormatError struct {
	// Message names the message being decoded, e.g. "request".
	Message string
	// Problem says what was wrong with it.
	Problem string
}

func (e *FormatError) Error() string {
	return "nbd: malformed " + e.Message + ": " + e.Problem
}

func formatErrorf(message, format string, args ...any) error {
	return &FormatError{Message: message, Problem: fmt.Sprintf(format, args...)}
}

// A TooLargeError reports a length from the wire above the limit the caller set.
type TooLargeError struct {
	// What names the length, e.g. "option payload".
	What   string
	Length uint64
	Limit  uint64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("nbd: %s of %d bytes exceeds the limit of %d", e.What, e.Length, e.Limit)
}

// ErrShortMessage is wrapped by errors for messages shorter than their fixed part.
var ErrShortMessage = errors.New("message too short")

func short(message string, have, want int) error {
	return fmt.Errorf("nbd: %s: %w: %d bytes, want %d", message, ErrShortMessage, have, want)
}

// checkLength returns a *TooLargeError when n exceeds limit.
func checkLength(what string, n, limit uint64) error {
	if n > limit {
		return &TooLargeError{What: what, Length: n, Limit: limit}
	}
	return nil
}
