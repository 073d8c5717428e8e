// Package prefetch asks the processor for a cache line ahead of its use.
//
// Go has no prefetch intrinsic outside the runtime, so Line is a
// three-instruction assembly function (prefetch_amd64.s, prefetch_arm64.s:
// load the address, prefetch, return).
// Unlike a load, a prefetch does not hold up the instructions after it
// until the line arrives: the caller goes on with other work, such as
// the next keys of a batch, while the lines it asked for are on their
// way. A prefetch never faults, whatever the address; callers pass
// addresses of memory they own all the same. On other architectures Line
// does nothing, and callers' results are the same, only slower.
//
// index.View.FindBatch prefetches the filter blocks, buckets and key
// bytes of a group of keys; the builders prefetch the filter blocks and
// table entries they are about to update, a few keys ahead.
package prefetch
