package pebblesrc

import (
	"iter"
	"sync"
)

// Read-ahead batches: batchBytes each, counting a key's bytes and
// endBytes for its end, at most batches of them in use, so a build holds
// at most about batches×batchBytes of keys read ahead, however short.
const (
	batchBytes = 256 << 10
	batches    = 4
	endBytes   = 8 // a keyBatch.ends entry
)

// A keyBatch is a run of keys read ahead, concatenated in data; key i ends
// at ends[i]. err, when not nil, is the error that ended the sequence after
// the keys.
type keyBatch struct {
	data []byte
	ends []int
	err  error
}

// ReadAhead returns the sequence keys, read by a goroutine of its own
// ahead of the caller in batches of copies, so that reading the database
// and writing the index run at the same time on two cores. Build uses it;
// use it to feed Keys, or a sequence made from it, to
// builder.WriteSorted or a builder.SortedWriter. Each key yielded is valid
// until the next one is requested. It holds about 1 MiB of keys read
// ahead: 4 batches of 256 KiB, each key counting its bytes and 8 more.
// When the caller stops early, ReadAhead stops keys soon after (its
// goroutine notices between batches), and waits for it to return before
// it returns itself, so that the iterator under keys is closed by then.
func ReadAhead(keys iter.Seq2[[]byte, error]) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		full := make(chan *keyBatch, batches)
		free := make(chan *keyBatch, batches)
		for range batches {
			free <- &keyBatch{data: make([]byte, 0, batchBytes)}
		}
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(full)
			b := <-free
			for key, err := range keys {
				if err != nil {
					b.err = err
					break
				}
				b.data = append(b.data, key...)
				b.ends = append(b.ends, len(b.data))
				if len(b.data)+endBytes*len(b.ends) < batchBytes {
					continue
				}
				select {
				case full <- b:
				case <-done:
					return
				}
				select {
				case b = <-free:
					b.data, b.ends, b.err = b.data[:0], b.ends[:0], nil
				case <-done:
					return
				}
			}
			select {
			case full <- b:
			case <-done:
			}
		}()
		defer func() {
			close(done)
			wg.Wait()
		}()
		for b := range full {
			start := 0
			for _, end := range b.ends {
				if !yield(b.data[start:end:end], nil) {
					return
				}
				start = end
			}
			if b.err != nil {
				yield(nil, b.err)
				return
			}
			free <- b
		}
	}
}
