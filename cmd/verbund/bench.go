package main

import "fmt"

func (c *cli) bench(args []string) error {
	return fmt.Errorf("verbund bench is not built yet: run go test -bench . ./internal/... (see docs/PERFORMANCE.md)")
}
