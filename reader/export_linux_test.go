package reader

// Touch is touch, Preload's way where Linux lacks MADV_POPULATE_READ, for
// the tests of package reader_test.
var Touch = touch
