package db

// PreparedStatements is how many statements the cache holds (for the
// tests of InsertMany).
func (d *DB) PreparedStatements() int { return int(d.nstmts.Load()) }

// GroupQueued is how many grouped writes wait for the next group (tests
// of GroupTx).
func (d *DB) GroupQueued() int {
	d.group.mu.Lock()
	defer d.group.mu.Unlock()
	return len(d.group.queue)
}

// PlainRead is plainRead (tests of the pipeline).
func PlainRead(q string) bool { return plainRead(q) }
