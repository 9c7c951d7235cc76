package app

import (
	"errors"
	"io"
	"net"
)

// cleanups is a stack of releases, run last-acquired first: New pushes
// each part that holds something (the store's client, a directory's
// connection pool, a listener) as it builds it, so that an error half-way
// and the end of Run release exactly what was acquired, in order.
type cleanups []func() error

// push adds f to the top of the stack.
func (c *cleanups) push(f func() error) { *c = append(*c, f) }

// pushCloser adds x.Close if x holds anything to close.
func (c *cleanups) pushCloser(x any) {
	if cl, ok := x.(io.Closer); ok {
		c.push(cl.Close)
	}
}

// run releases everything, top first, and empties the stack. A listener
// the server already closed is not an error.
func (c *cleanups) run() error {
	var errs []error
	for i := len(*c) - 1; i >= 0; i-- {
		if err := (*c)[i](); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	*c = nil
	return errors.Join(errs...)
}
