package reader

// Touch is touch, Preload's way where Linux lacks MADV_POPULATE_READ, for
// the tests of package reader_test.
var Touch = touch

// RetiredMappings returns the number of mappings Close has retired and a
// collection has not yet released, and the step by which they may grow
// before Close starts a collection.
func RetiredMappings() (pending, step int64) {
	return retiredMappings.n.Load(), retiredMappings.step
}
