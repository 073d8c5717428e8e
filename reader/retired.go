//go:build unix

package reader

import (
	"runtime"
	"sync/atomic"
	"time"
)

// A closed Reader keeps its addresses reserved, as zero pages, until it is
// garbage collected (Close), so that a lookup still running never faults.
// The collector does not see those addresses: a process with a large heap
// and few allocations can close Readers for minutes between two
// collections, and the retired mappings pile up until mmap fails with
// ENOMEM, for lack of address space (128 TiB holds some 25 000 retired
// 5 GB files) or of mappings (Linux allows a process 65 530 by default,
// vm.max_map_count). So Close counts the mappings and bytes it retires,
// and starts a collection in the background when a step of either,
// retired since the last collection it started, is still waiting (the
// runtime's own collections may have released some); the collection
// releases the Readers nothing references any more. What is retired while
// a collection runs survives it and counts towards the next step, so up
// to about two steps can be waiting at a time.
//
// A Handle's replaced Readers are not closed but left to the collector too
// (Handle), and each still maps its file, which its publisher has usually
// deleted by renaming a new one over it: the disk space and page cache
// stay held until a collection. So every replacement asks for one, and a
// replacement made while a collection runs asks for another after it, as
// that one may have started before the Reader was replaced. A replaced
// Reader that a goroutine still held when the collection ran (a lookup
// in flight is enough) survives it, and in a process whose heap does not
// grow nothing else would collect it: so while replaced Readers remain,
// collections are asked for again, 10 ms after the replacement, then at
// intervals that double up to two minutes (retryLast), and start again
// from 10 ms at the next replacement.
var collections = collector{
	retiredMappings: pileup{step: 4096},
	retiredBytes:    pileup{step: 4 << 40}, // 4 TiB
	replacedNow:     make(chan struct{}, 1),
}

// A collector decides when to start a collection in the background, and
// starts it.
type collector struct {
	retiredMappings pileup       // mappings Close has retired and no collection has released
	retiredBytes    pileup       // their bytes
	replaced        atomic.Int64 // Readers a Handle has replaced, and retries for those left, since the last collection started
	running         atomic.Bool  // a collection the collector started is running

	unreleased  atomic.Int64  // Readers a Handle has replaced that no collection has found unreachable yet
	retrying    atomic.Bool   // a retry loop (retryWhileUnreleased) is running
	replacedNow chan struct{} // tells the retry loop of a replacement
}

// The intervals at which a collector asks again for a collection while
// replaced Readers remain (retryWhileUnreleased): the first, after a
// replacement, and the longest, the period at which the runtime itself
// forces a collection when the collector is on.
const (
	retryFirst = 10 * time.Millisecond
	retryLast  = 2 * time.Minute
)

// releaseWhenCollected releases m, which Close has retired, once r is
// garbage collected, and starts a collection if retired mappings have
// piled up.
func releaseWhenCollected(r *Reader, m *mapping) {
	runtime.AddCleanup(r, func(m *mapping) { // capturing nothing, so that Close allocates no closure
		m.release()
		collections.retiredMappings.remove(1)
		collections.retiredBytes.remove(int64(m.size))
	}, m)
	collections.retiredMappings.add(1)
	collections.retiredBytes.add(int64(m.size))
	collections.collectIfDue()
}

// collectReplaced starts a collection, now or after the running one, and
// more while r is not collected (retryWhileUnreleased), so that r, a
// Reader a Handle has replaced, is unmapped soon after no goroutine holds
// it any more.
func collectReplaced(r *Reader) {
	runtime.AddCleanup(r, func(struct{}) { collections.unreleased.Add(-1) }, struct{}{})
	collections.unreleased.Add(1)
	collections.replaced.Add(1)
	collections.collectIfDue()
	select {
	case collections.replacedNow <- struct{}{}:
	default: // a replacement is pending already
	}
	collections.retryWhileUnreleased()
}

// retryWhileUnreleased starts, unless it runs already, a loop that asks
// for a collection while replaced Readers remain uncollected: retryFirst
// after it starts or after the latest replacement, then at intervals
// that double up to retryLast. It ends when none remains.
func (c *collector) retryWhileUnreleased() {
	if !c.retrying.CompareAndSwap(false, true) {
		return
	}
	go func() {
		delay := retryFirst
		t := time.NewTimer(delay)
		defer t.Stop()
		for {
			select {
			case <-c.replacedNow: // its own collection has started
				delay = retryFirst
				t.Reset(delay)
				continue
			case <-t.C:
			}
			// The cleanups of what the last collection found run after
			// it: only what it did not find is counted by now.
			if c.unreleased.Load() > 0 {
				c.replaced.Add(1)
				c.collectIfDue()
			} else {
				c.retrying.Store(false)
				// A replacement made since the last look found the
				// loop running: go on for it.
				if c.unreleased.Load() == 0 || !c.retrying.CompareAndSwap(false, true) {
					return
				}
			}
			delay = min(2*delay, retryLast)
			t.Reset(delay)
		}
	}()
}

// collectIfDue starts a collection in the background if one is due and
// none is running. A running one calls it again when it ends, so that
// what was retired or replaced while it ran is looked at too.
func (c *collector) collectIfDue() {
	if !c.claim() {
		return
	}
	go func() {
		runtime.GC()
		c.running.Store(false)
		c.collectIfDue()
	}()
}

// claim reports whether a collection is due (retired mappings or bytes
// have piled up, or a Handle has replaced a Reader, since the last one
// started) and none is running; if so, it marks the collection as running
// and resets what made it due.
func (c *collector) claim() bool {
	due := c.retiredMappings.over() || c.retiredBytes.over() || c.replaced.Load() > 0
	if !due || !c.running.CompareAndSwap(false, true) {
		return false
	}
	c.retiredMappings.mark()
	c.retiredBytes.mark()
	c.replaced.Store(0)
	return true
}

// A pileup counts what has been retired and not yet released, and what
// has been retired since it was last marked (when a collection started),
// and says a collection is due when a step of the latter may still be
// waiting: both counts are a step or more. What was retired before the
// mark is left to the collection that started then, however late its
// releases come. (Counting from a base that releases lowered let the
// releases of one collection, coming after mappings retired while it ran,
// hide those from the next step, and more than two steps waited.)
type pileup struct {
	n, added atomic.Int64
	step     int64
}

// add adds d to both counts.
func (p *pileup) add(d int64) {
	p.n.Add(d)
	p.added.Add(d)
}

// over reports whether a step or more retired since the mark may still be
// waiting: at most the lower of the two counts are.
func (p *pileup) over() bool { return min(p.added.Load(), p.n.Load()) >= p.step }

// mark starts counting what is retired from now on: a collection is
// starting, which releases what was retired before, if unreachable.
func (p *pileup) mark() { p.added.Store(0) }

// remove takes d from the count of what waits for a collection.
func (p *pileup) remove(d int64) { p.n.Add(-d) }
