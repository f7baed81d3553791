package curl

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// retry calls attempt, with a connection slot held, until it succeeds, fails in a way that trying again cannot cure
// (see retryable), or has failed Options.Retries+1 times, pausing between attempts for
// Options.RetryDelay, doubled each time up to maxRetryDelay. The error returned
// carries the errno the client receives.
func (p *Plugin) retry(ctx context.Context, attempt func(context.Context) error) error {
	delay := p.opts.RetryDelay
	for try := 0; ; try++ {
		err := p.acquire(ctx)
		if err == nil {
			err = p.timed(ctx, attempt)
			p.release()
		}
		switch {
		case err == nil:
			return nil
		case !retryable(ctx, err):
			return withErrno(err)
		case try == p.opts.Retries:
			if try > 0 {
				err = fmt.Errorf("%w (tried %d times)", err, try+1)
			}
			return withErrno(err)
		}
		p.log.Warn("request failed, trying again", "err", err, "retry", try+1, "of", p.opts.Retries, "after", delay)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return withErrno(fmt.Errorf("%w (while waiting to try again after: %v)", ctx.Err(), err))
		case <-timer.C:
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// timed calls attempt with Options.Timeout, if any, as its deadline.
func (p *Plugin) timed(ctx context.Context, attempt func(context.Context) error) error {
	if p.opts.Timeout == 0 {
		return attempt(ctx)
	}
	attemptCtx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	err := attempt(attemptCtx)
	if err != nil && ctx.Err() == nil && errors.Is(attemptCtx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (the request took longer than timeout=%v)", err, p.opts.Timeout)
	}
	return err
}
