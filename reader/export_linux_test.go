package reader

// Touch is touch, Preload's way where Linux lacks MADV_POPULATE_READ, for
// the tests of package reader_test.
var Touch = touch

// RetiredMappings returns the number of mappings Close has retired and a
// collection has not yet released, and the step by which they may grow
// before Close starts a collection.
func RetiredMappings() (pending, step int64) {
	return collections.retiredMappings.n.Load(), collections.retiredMappings.step
}

// VerifyView is Verify without its Preload, for the test of a file that
// shrinks after Preload has read it.
func VerifyView(r *Reader) error { return r.verifyView() }

// RetryingCollections reports whether the loop that asks for collections
// while Readers a Handle replaced remain uncollected (retryWhileUnreleased)
// is running.
func RetryingCollections() bool { return collections.retrying.Load() }

// FailRetire makes Close fail to retire mappings, with err, until the
// test ends.
func FailRetire(t interface{ Cleanup(func()) }, err error) {
	saved := retire
	retire = func(*mapping) error { return err }
	t.Cleanup(func() { retire = saved })
}
