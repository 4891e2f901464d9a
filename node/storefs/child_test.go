package storefs

// childMain runs crash-test children; it returns false in the normal test
// process.
func childMain() bool { return false }
