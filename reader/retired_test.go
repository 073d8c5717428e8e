//go:build unix

package reader

import "testing"

// TestPileup checks when a pileup says a collection is due: when a step
// of what was retired since the last mark may still be waiting, whenever
// the releases of what was retired before come.
func TestPileup(t *testing.T) {
	type op struct {
		do   string // "add", "remove" or "mark"
		d    int64
		over bool // what over reports afterwards
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"fills up to a step", []op{{"add", 9, false}, {"add", 1, true}}},
		{"mark resets", []op{{"add", 10, true}, {"mark", 0, false}, {"add", 9, false}, {"add", 1, true}}},
		{"a step after the collection's releases", []op{{"add", 10, true}, {"mark", 0, false}, {"remove", 10, false}, {"add", 9, false}, {"add", 1, true}}},
		{"survivors of a collection count towards the next step", []op{
			{"add", 10, true}, {"mark", 0, false}, // a collection starts with 10 retired
			{"add", 4, false},                   // 4 retired while it runs
			{"remove", 10, false},               // it releases the 10
			{"add", 5, false}, {"add", 1, true}, // a step waits: the 4 survivors and 6
		}},
		{"a step of survivors, then the collection's releases", []op{
			{"add", 10, true}, {"mark", 0, false},
			{"add", 10, true},    // a step retired while it runs
			{"remove", 10, true}, // its releases, before it ends: the step still waits
		}},
		{"survivors and releases interleaved", []op{
			{"add", 10, true}, {"mark", 0, false},
			{"add", 3, false}, {"remove", 5, false}, {"add", 3, false}, {"remove", 5, false}, {"add", 3, false},
			{"add", 1, true},
		}},
		{"what another collection released does not count", []op{
			{"add", 10, true}, {"mark", 0, false}, {"remove", 10, false},
			{"add", 8, false}, {"remove", 8, false}, // released by the runtime's own collection
			{"add", 9, false}, {"add", 1, true},
		}},
		{"a partial release", []op{{"add", 10, true}, {"mark", 0, false}, {"remove", 3, false}, {"add", 9, false}, {"add", 1, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pileup{step: 10}
			for i, o := range tt.ops {
				switch o.do {
				case "add":
					p.add(o.d)
				case "remove":
					p.remove(o.d)
				case "mark":
					p.mark()
				}
				if got := p.over(); got != o.over {
					t.Fatalf("after op %d (%s %d): count %d, %d since the mark: over = %v, want %v", i, o.do, o.d, p.n.Load(), p.added.Load(), got, o.over)
				}
			}
		})
	}
}

// TestCollectorClaim checks when a collector starts a collection: when
// retired mappings have piled up or a Handle has replaced a Reader, and
// none is running. A replacement made while one runs starts another when
// it ends, even if that one's releases came first: it may have started
// before the Reader was replaced, and nothing else would collect it in a
// process whose heap does not grow. Mappings retired while one runs start
// another when they make a step, even if its releases came first.
func TestCollectorClaim(t *testing.T) {
	type op struct {
		do    string // "replace", "retire", "release" (of a retired mapping), "end" (of the running collection) or "claim"
		claim bool   // for "claim": whether a collection is due and none running
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"nothing due", []op{{"claim", false}}},
		{"a replacement", []op{{"replace", false}, {"claim", true}, {"claim", false}, {"end", false}, {"claim", false}}},
		{"replacements while one runs", []op{
			{"replace", false}, {"claim", true},
			{"replace", false}, {"replace", false}, {"claim", false},
			{"end", false}, {"claim", true}, {"end", false}, {"claim", false},
		}},
		{"a replacement while one runs, then its releases", []op{
			{"retire", false}, {"retire", false}, {"replace", false}, {"claim", true},
			{"replace", false},
			{"release", false}, {"release", false},
			{"end", false}, {"claim", true},
		}},
		{"mappings retired while one runs, then its releases", []op{
			{"retire", false}, {"retire", false}, {"claim", true},
			{"retire", false}, {"retire", false}, // a step survives the collection
			{"release", false}, {"release", false}, // which releases the first two before it ends
			{"end", false}, {"claim", true},
		}},
		{"retired mappings a step above the base", []op{
			{"retire", false}, {"claim", false}, {"retire", false}, {"claim", true}, {"end", false}, {"claim", false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := collector{retiredMappings: pileup{step: 2}, retiredBytes: pileup{step: 1 << 40}}
			for i, o := range tt.ops {
				switch o.do {
				case "replace":
					c.replaced.Add(1)
				case "retire":
					c.retiredMappings.add(1)
					c.retiredBytes.add(4096)
				case "release":
					c.retiredMappings.remove(1)
					c.retiredBytes.remove(4096)
				case "end":
					c.running.Store(false)
				case "claim":
					if got := c.claim(); got != o.claim {
						t.Fatalf("op %d: claim = %v, want %v", i, got, o.claim)
					}
				}
			}
		})
	}
}
