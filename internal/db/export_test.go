package db

// PreparedStatements is how many statements the cache holds (for the
// tests of InsertMany).
func (d *DB) PreparedStatements() int { return int(d.nstmts.Load()) }
